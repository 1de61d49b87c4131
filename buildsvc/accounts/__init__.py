"""Accounts (tenants) and their API tokens: ``services`` creates and authenticates,
``middleware`` guards the REST API."""
