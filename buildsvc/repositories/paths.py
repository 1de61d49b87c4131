"""Path filters of build rules: does a push touch the paths a rule cares about?

Globs, matched against the repository-relative paths a push changed:

- ``*`` matches within one path segment, ``?`` one character, ``[abc]`` / ``[!abc]`` a
  character class, ``**`` any number of segments (``src/**/test_*.py``).
- A glob without a ``/`` matches a name at any depth (``*.md`` matches ``docs/a.md``).
- A glob that matches a directory matches everything below it (``docs`` and ``docs/``
  both cover ``docs/guide/intro.md``). A leading ``/`` anchors at the root.

A rule with ``include_paths`` builds when some changed path matches one of them and none
of ``ignore_paths``; a rule with only ``ignore_paths`` builds when some changed path is
not ignored. When the paths are unknown (the forge sent none, or too many commits to
list them all) the rule builds: a missed build is worse than an extra one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import regex

GLOB_MAX_LENGTH = 256
MAX_GLOBS = 50
_MATCH_TIMEOUT_SECONDS = 0.05


class GlobError(ValueError):
    pass


def compile_glob(glob: str) -> regex.Pattern[str]:
    if not glob.strip() or len(glob) > GLOB_MAX_LENGTH:
        raise GlobError(f"path glob {glob!r}: must be 1 to {GLOB_MAX_LENGTH} characters")
    anchored = glob.startswith("/") or "/" in glob.rstrip("/")
    body = glob.strip("/")
    if not body:
        raise GlobError(f"path glob {glob!r}: names no path")
    prefix = "" if anchored else "(?:.*/)?"
    # The glob may match the path itself or any directory above it.
    return regex.compile(prefix + translate(body) + "(?:/.*)?", regex.DOTALL)


def translate(glob: str) -> str:
    """The regex body of a glob (unanchored); build rule patterns use it too."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        # ``**`` spans segments only as a whole segment; elsewhere it is ``*`` (git, wcmatch).
        whole = (i == 0 or glob[i - 1] == "/") and glob[i + 2 : i + 3] in ("", "/")
        if whole and glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if whole and glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if glob.startswith("**", i):
            out.append("[^/]*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in glob[i + 2 :]:
            end = glob.index("]", i + 2)
            inner = glob[i + 1 : end]
            negate = inner.startswith("!")
            inner = inner[1:] if negate else inner
            # A class never matches the separator, negated or not.
            head = "[^/" if negate else "(?!/)["
            out.append(head + inner.replace("\\", "\\\\") + "]")
            i = end + 1
            continue
        else:
            out.append(regex.escape(char))
        i += 1
    return "".join(out)


def _any_match(globs: Sequence[regex.Pattern[str]], path: str) -> bool:
    for glob in globs:
        try:
            if glob.fullmatch(path, timeout=_MATCH_TIMEOUT_SECONDS):
                return True
        except TimeoutError:
            return True  # too costly to decide: err on the side of building
    return False


def paths_allow(
    include: Sequence[str], ignore: Sequence[str], changed: Iterable[str], complete: bool
) -> bool:
    """Whether a rule with these filters builds for a push that changed ``changed``."""
    if not include and not ignore:
        return True
    paths = [p.lstrip("/") for p in changed]
    if not complete or not paths:
        return True
    ignored = [compile_glob(g) for g in ignore]
    included = [compile_glob(g) for g in include]
    relevant = [p for p in paths if not _any_match(ignored, p)]
    if not included:
        return bool(relevant)
    return any(_any_match(included, p) for p in relevant)
