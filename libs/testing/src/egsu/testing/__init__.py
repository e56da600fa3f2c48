"""Test fixtures: real servers, started once per session."""
