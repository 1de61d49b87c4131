"""Which field of the bind form an error points at, so focus lands there.

A bind fails in a few ways (``sources.failures``): the URL cannot be reached or is not
an instance root, the CA certificate is unusable, the token belongs to someone else,
or the forge refused the token. A person fixes one field; the form opens on it.
"""

from __future__ import annotations

from typing import Literal

from buildsvc.errors import SourceUnreachable
from buildsvc.sources import InvalidSourceUrl, SourceUrlNotAllowed

__all__ = ["BindField", "wrong_field"]

BindField = Literal["url", "username", "token", "ca_cert"]
_URL_CODES = frozenset({InvalidSourceUrl.code, SourceUrlNotAllowed.code, SourceUnreachable.code})


def wrong_field(code: str, detail: str | None, *, has_url: bool) -> BindField:
    """The field to fix for an error ``code`` with ``detail`` (``has_url``: the form asks
    for a URL; Bitbucket Cloud's does not)."""
    text = (detail or "").lower()
    if "ca_cert" in text:
        return "ca_cert"
    if code in _URL_CODES and has_url:
        return "url"
    if "belongs to user" in text:  # a working token of someone else: the username is off
        return "username"
    return "token"
