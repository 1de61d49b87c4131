"""Errors of accounts and their API tokens.

ServiceError (buildsvc.errors)
├── InvalidInput
│   ├── InvalidAccountName          400 INVALID_ACCOUNT_NAME
│   ├── InvalidTokenName            400 INVALID_TOKEN_NAME
│   └── InvalidTokenExpiry          400 INVALID_TOKEN_EXPIRY
└── NotFound
    └── TokenNotFound               404 TOKEN_NOT_FOUND
"""

from __future__ import annotations

from buildsvc.errors import InvalidInput, NotFound


class InvalidAccountName(InvalidInput):
    code = "INVALID_ACCOUNT_NAME"
    default_message = "The account name is not valid."


class InvalidTokenName(InvalidInput):
    code = "INVALID_TOKEN_NAME"
    default_message = "The API token name is not valid."


class InvalidTokenExpiry(InvalidInput):
    code = "INVALID_TOKEN_EXPIRY"
    default_message = "The API token's expiry is not valid."


class TokenNotFound(NotFound):
    code = "TOKEN_NOT_FOUND"
    default_message = "The API token was not found."
