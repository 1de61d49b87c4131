"""Persistence: engine and sessions (``engine``), tables (``models``), schema migrations
(``migrate`` and ``migrations/``)."""
