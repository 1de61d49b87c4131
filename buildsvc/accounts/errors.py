"""Errors of accounts and their API tokens.

ServiceError (buildsvc.errors)
├── InvalidInput
│   ├── InvalidAccountName          400 INVALID_ACCOUNT_NAME
│   ├── InvalidTokenName            400 INVALID_TOKEN_NAME
│   └── InvalidTokenExpiry          400 INVALID_TOKEN_EXPIRY
├── NotFound
│   └── TokenNotFound               404 TOKEN_NOT_FOUND
└── Conflict
    └── AccountExists               409 ACCOUNT_EXISTS
"""

from __future__ import annotations

from buildsvc.errors import Conflict, InvalidInput, NotFound


class InvalidAccountName(InvalidInput):
    code = "INVALID_ACCOUNT_NAME"
    default_message = "The account name is not valid."


class AccountExists(Conflict):
    code = "ACCOUNT_EXISTS"
    default_message = "An account of this name already exists."


class InvalidTokenName(InvalidInput):
    code = "INVALID_TOKEN_NAME"
    default_message = "The API token name is not valid."


class InvalidTokenExpiry(InvalidInput):
    code = "INVALID_TOKEN_EXPIRY"
    default_message = "The API token's expiry is not valid."


class TokenNotFound(NotFound):
    code = "TOKEN_NOT_FOUND"
    default_message = "The API token was not found."
