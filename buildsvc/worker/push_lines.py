"""What the build log shows of the engine's push stream.

The engine mounts a layer the registry already holds from whichever repository its
blob cache names, and says so: "Mounted from acme/web". That repository may belong to
another tenant, and its name is not this build's to show. A namespace has exactly one
owner, so a mount from the pushed repository's own namespace is kept as it is; any
other names no repository and reads "Mounted from another repository".
"""

from __future__ import annotations

import re

__all__ = ["namespace_of", "push_line"]

_MOUNTED = re.compile(r"^Mounted from (?P<source>\S+)$")
OTHER_REPOSITORY = "Mounted from another repository"


def namespace_of(repository: str) -> str:
    """``acme`` of ``127.0.0.1:5000/acme/web`` or ``acme/web``."""
    path = repository.split("/", 1)[1] if _has_registry(repository) else repository
    return path.split("/", 1)[0] if "/" in path else ""


def _has_registry(repository: str) -> bool:
    # docker's rule: the first part names a registry if it has a dot or colon, or is localhost.
    first, _, rest = repository.partition("/")
    return bool(rest) and ("." in first or ":" in first or first == "localhost")


def push_line(status: str, repository: str) -> str:
    """``status`` of a push item as the log may show it while pushing ``repository``."""
    found = _MOUNTED.match(status)
    if found is None:
        return status
    own = namespace_of(repository)
    if own and namespace_of(found["source"]) == own:
        return status
    return OTHER_REPOSITORY
