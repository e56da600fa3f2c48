"""A synthetic energy system of Kazakhstan for demos, tests and evaluations."""
