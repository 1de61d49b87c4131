"""Helpers and real-component environments shared by tests of more than one package."""
