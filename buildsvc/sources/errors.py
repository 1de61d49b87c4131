"""What the sources package refuses besides the two forge failures.

ServiceError (buildsvc.errors)
├── InvalidInput
│   ├── InvalidSourceUrl        400 INVALID_SOURCE_URL      not an instance root URL
│   ├── InvalidCaCert           400 INVALID_CA_CERT         ca_cert holds no PEM certificate
│   └── SourceUrlNotAllowed     400 SOURCE_URL_NOT_ALLOWED  the host resolves into a
│                                                           refused network
├── NotFound
│   └── RefNotFound             404 REF_NOT_FOUND           no such branch, tag or commit
└── SourceError                 SourceUnreachable, SourceErrorResponse (``buildsvc.errors``)
"""

from __future__ import annotations

from buildsvc.errors import InvalidInput, NotFound


class InvalidSourceUrl(InvalidInput):
    code = "INVALID_SOURCE_URL"
    default_message = "The source URL is not an instance root URL."


class InvalidCaCert(InvalidInput):
    code = "INVALID_CA_CERT"
    default_message = "The CA certificate is not valid."


class SourceUrlNotAllowed(InvalidInput):
    code = "SOURCE_URL_NOT_ALLOWED"
    default_message = "The source URL points to a network this service may not contact."


class RefNotFound(NotFound):
    code = "REF_NOT_FOUND"
    default_message = "The branch, tag or commit does not exist."
