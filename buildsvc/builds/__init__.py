"""Builds: the state machine (``states``), read queries for the API (``queries``)."""
