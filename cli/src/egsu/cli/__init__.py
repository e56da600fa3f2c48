"""The ``egsu`` command."""
