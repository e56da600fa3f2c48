"""The measurements service: the historian."""
