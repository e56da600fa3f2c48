"""The web console of EGSU TEK."""
