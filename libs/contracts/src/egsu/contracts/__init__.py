"""Contracts between services: streams, subjects, events and the shared vocabulary."""
