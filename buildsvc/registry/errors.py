"""Errors of registry access.

ServiceError (buildsvc.errors)
├── InvalidInput
│   ├── InvalidNamespace            400 INVALID_NAMESPACE
│   ├── InvalidPermission           400 INVALID_PERMISSION (detail names the entry)
│   ├── InvalidRobotName            400 INVALID_ROBOT_NAME
│   ├── InvalidNetwork              400 INVALID_NETWORK
│   └── WeakPassword                400 WEAK_PASSWORD
├── Forbidden
│   └── NoDeleteRight               403 NO_DELETE_RIGHT
├── NotFound
│   ├── NamespaceNotFound           404 NAMESPACE_NOT_FOUND
│   ├── RobotNotFound               404 ROBOT_NOT_FOUND
│   └── TagNotFound                 404 TAG_NOT_FOUND
├── Unavailable
│   └── RegistryUnreachable         503 REGISTRY_UNREACHABLE (buildsvc's own registry calls)
└── Conflict
    ├── NamespaceTaken              409 NAMESPACE_TAKEN (another account holds it)
    ├── NamespaceExists             409 NAMESPACE_EXISTS (this account holds it already)
    ├── NamespaceNotEmpty           409 NAMESPACE_NOT_EMPTY
    └── RobotExists                 409 ROBOT_EXISTS

A repository name that is not valid is the image repositories' own
``buildsvc.repositories.errors.InvalidRepositoryName``.

The token endpoint's refusals are not service errors: Distribution's clients want a bare
401, so ``principals.BadCredentials`` never reaches the error middleware.
"""

from __future__ import annotations

from buildsvc.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable


class InvalidNamespace(InvalidInput):
    code = "INVALID_NAMESPACE"
    default_message = "The namespace name is not valid."


class InvalidPermission(InvalidInput):
    code = "INVALID_PERMISSION"
    default_message = "A robot permission is not valid."


class InvalidRobotName(InvalidInput):
    code = "INVALID_ROBOT_NAME"
    default_message = "The robot name is not valid."


class InvalidNetwork(InvalidInput):
    code = "INVALID_NETWORK"
    default_message = "An allowed network is not a valid CIDR."


class WeakPassword(InvalidInput):
    code = "WEAK_PASSWORD"
    default_message = "The registry password is too weak."


class NamespaceNotFound(NotFound):
    code = "NAMESPACE_NOT_FOUND"
    default_message = "Namespace not found."


class RobotNotFound(NotFound):
    code = "ROBOT_NOT_FOUND"
    default_message = "Robot account not found."


class NamespaceTaken(Conflict):
    code = "NAMESPACE_TAKEN"
    default_message = "Another account holds this namespace."


class NamespaceExists(Conflict):
    code = "NAMESPACE_EXISTS"
    default_message = "This account holds this namespace already."


class NamespaceNotEmpty(Conflict):
    code = "NAMESPACE_NOT_EMPTY"
    default_message = "The namespace still holds image repositories; delete them first."


class RobotExists(Conflict):
    code = "ROBOT_EXISTS"
    default_message = "A robot account of this name exists already."


class NoDeleteRight(Forbidden):
    code = "NO_DELETE_RIGHT"
    default_message = "This account may not delete images of this repository."


class TagNotFound(NotFound):
    code = "TAG_NOT_FOUND"
    default_message = "Tag not found."


class RegistryUnreachable(Unavailable):
    code = "REGISTRY_UNREACHABLE"
    default_message = "The registry could not be reached. Please try again later."
