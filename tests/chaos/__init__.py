"""The chaos suite against ``make cluster`` (``python -m tests.chaos``; see ``__main__``)."""
