"""Errors of stored forge bindings.

ServiceError (buildsvc.errors)
├── NotFound
│   ├── SourceNotBound          404 SOURCE_NOT_BOUND (this account has not bound that forge)
│   └── UnknownProvider         404 UNKNOWN_PROVIDER (no such forge: detail lists them)
└── Conflict
    ├── SourceBindingBroken     409 SOURCE_BINDING_BROKEN (the forge refuses the stored token)
    ├── SourceInUse             409 SOURCE_IN_USE (re-bind to another instance while
    │                                             image repositories link to this one)
    └── BindConflict            409 BIND_CONFLICT (a concurrent bind of the same forge won)

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


class UnknownProvider(NotFound):
    code = "UNKNOWN_PROVIDER"
    default_message = "Unknown code source."


class SourceBindingBroken(Conflict):
    code = "SOURCE_BINDING_BROKEN"
    default_message = (
        "The source code repository site refused the token of the bound account; "
        "bind the account again with a valid token."
    )


class SourceInUse(Conflict):
    code = "SOURCE_IN_USE"
    default_message = "Image repositories still link to the bound instance."


class BindConflict(Conflict):
    code = "BIND_CONFLICT"
    default_message = "The request conflicts with the current state."
