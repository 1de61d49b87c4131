"""Errors of stored forge bindings.

ServiceError (buildsvc.errors)
├── NotFound
│   └── SourceNotBound          404 SOURCE_NOT_BOUND (this account has not bound that forge)
└── Conflict
    └── SourceBindingBroken     409 SOURCE_BINDING_BROKEN (the forge refuses the stored token)

``SourceNotBound`` is the one answer for a missing binding, wherever it is noticed: the
binding routes (``/api/v1/sources/{provider}/...``), linking or repairing an image
repository, and a build whose account was unbound meanwhile (recorded on the build).
404 because the binding is the resource ``/api/v1/sources/{provider}`` names, and the
API description lists 404 on every route that can answer it.
"""

from __future__ import annotations

from buildsvc.errors import Conflict, NotFound


class SourceNotBound(NotFound):
    code = "SOURCE_NOT_BOUND"
    default_message = "Bind an account of this code source first."


class SourceBindingBroken(Conflict):
    code = "SOURCE_BINDING_BROKEN"
    default_message = (
        "The source code repository site refused the token of the bound account; "
        "bind the account again with a valid token."
    )
