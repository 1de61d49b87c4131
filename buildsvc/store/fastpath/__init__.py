"""The raw SQLite fast path: prepared statements (``prepared``) and one writer thread per
database (``writer``)."""
