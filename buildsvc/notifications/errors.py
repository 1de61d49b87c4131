"""The notifications package's errors.

::

    ServiceError (buildsvc.errors)
    ├── InvalidInput
    │   ├── TargetUrlInvalid         400 NOTIFICATION_URL_INVALID
    │   └── TargetUrlNotAllowed      400 NOTIFICATION_URL_NOT_ALLOWED (the address policy)
    └── NotFound
        └── TargetNotFound           404 NOTIFICATION_NOT_FOUND
"""

from __future__ import annotations

from buildsvc.errors import InvalidInput, NotFound


class TargetUrlInvalid(InvalidInput):
    code = "NOTIFICATION_URL_INVALID"
    default_message = "The notification URL is not valid."


class TargetUrlNotAllowed(InvalidInput):
    code = "NOTIFICATION_URL_NOT_ALLOWED"
    default_message = "The notification URL points to an address this service may not contact."


class TargetNotFound(NotFound):
    code = "NOTIFICATION_NOT_FOUND"
    default_message = "Notification target not found."
