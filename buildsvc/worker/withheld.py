"""Log lines of a build with secret build args name no id of the image as built.

Docker records the build args a RUN step used in the image config, so the image as
built holds a secret build arg's value. The worker pushes it, puts a masked config in
its place and deletes it from the registry (``registry_labels``, ``registry_forget``).
But the log is live: BuildKit's ``writing image sha256:…``, the legacy builder's
`` ---> <id>`` and ``Successfully built <id>``, and the push's ``latest: digest:
sha256:…`` go out before the masking. So, when a build has secret build args, the
lines of its build and push phases name no image id or digest (``withhold_ids``); the
digest finally pushed is logged after the masking.

The engine keeps the image as built (its id is the unmasked config's digest) until
image retention removes it; only the worker's engine can reach it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["WITHHELD", "withhold_ids", "withholding"]

WITHHELD = "<withheld>"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# The legacy builder names each committed image by its short id, the last one twice.
_SHORT_ID = re.compile(r"^( ---> |Successfully built )[0-9a-f]{12,64}$", re.MULTILINE)


def withhold_ids(text: str) -> str:
    """``text`` with every image digest and legacy-builder image id withheld."""
    text = _DIGEST.sub(f"sha256:{WITHHELD}", text)
    return _SHORT_ID.sub(rf"\g<1>{WITHHELD}", text)


def withholding(write: Callable[[str], None]) -> Callable[[str], None]:
    """``write``, passed each line with its ids withheld."""

    def filtered(text: str) -> None:
        write(withhold_ids(text))

    return filtered
