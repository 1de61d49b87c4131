"""How deep a JSON document nests, found without parsing it and without recursion.

``json`` recurses once per array or object level, so a body of 100,000 ``[`` ends in
``RecursionError``; and a document just under that limit can still make whatever walks
it next (validation, ``json.dumps``) recurse too deep. Checking the raw text first stops
both. Real forge payloads nest about 10 levels; the service's request bodies fewer.

The scan runs on the webhook hot path, where a Python loop over every byte would cost
more than parsing, so it is a handful of C-speed passes: drop escape sequences, keep
only quotes and brackets, drop what lies inside strings, then peel empty ``[]`` and
``{}`` off until nothing is left (each round peels at most two levels), and count
levels exactly only when that does not settle it. Its cost is linear in the size; the
worst (a large document with nothing to peel, counted bracket by bracket) is about
0.1 s per MB of brackets.
"""

from __future__ import annotations

import json
import operator
import re
from itertools import accumulate, repeat

MAX_JSON_DEPTH = 200
"""Arrays and objects nested deeper than this are refused wherever JSON comes in.

It is the limit pydantic-core's parser enforces on its own, so the webhook hot path,
which validates push bodies with it, pays for no scan (the scan would cost a third of
the parse). That parser lets arrays go one level further (201); nothing recurses
anywhere near Python's limit at either depth."""

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
# Past this many backslashes, two replaces beat one regex match per escape.
_FEW_ESCAPES = 1000
_CHUNK = 64 * 1024  # brackets counted at once, between checks for an early answer
_NOT_MARK = bytes(range(256)).translate(None, b'"[]{}')
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # minus one: +1 opens, -1 closes


def _utf8(document: bytes | str) -> bytes | None:
    if isinstance(document, str):
        return document.encode("utf-8", "surrogatepass")
    encoding = json.detect_encoding(document)  # what json.loads would decode it with
    if encoding == "utf-8":
        return document
    try:
        return document.decode(encoding).encode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None  # not text: the parser refuses it without recursing


def _without_escapes(data: bytes) -> bytes:
    """``data`` without escape sequences, so that every quote left delimits a string."""
    if b"\\" not in data:  # stops at the first, where counting reads on
        return data
    escapes = data.count(b"\\")
    if escapes <= _FEW_ESCAPES:
        return _ESCAPE.sub(b"", data)
    # \\ first: in \\" the quote ends the string; in \" it does not.
    return data.replace(b"\\\\", b"").replace(b'\\"', b"")


def _marks(data: bytes) -> bytes:
    """The brackets outside strings, in order."""
    # Two adjacent quotes end a string and start the next, or enclose an empty one:
    # dropping them moves no bracket into or out of a string.
    marks = _without_escapes(data).translate(None, _NOT_MARK).replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    return marks


def json_too_deep(document: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``document`` opens arrays or objects more than ``limit`` levels deep.

    Exact for valid JSON. For invalid JSON it may answer either way, and the parser
    then refuses the document; unclosed brackets count, as they do when parsing.
    """
    data = _utf8(document)
    if data is None:
        return False
    marks = _marks(data)
    if len(marks) > _CHUNK and _deepest(marks[:_CHUNK], limit) > limit:
        return True  # the usual hostile body, deep from its start: no need to peel
    if _peels_away(marks, limit // 2):
        return False
    return _deepest(marks, limit) > limit


def _peels_away(marks: bytes, rounds: int) -> bool:
    """Whether at most ``rounds`` rounds of peeling empty pairs leave nothing: then the
    document nests at most ``2 * rounds`` deep, since a round peels one or two levels.

    The cheap answer for real documents, wide and shallow, which shrink fast. A large
    rest that shrinks slowly (a deep chain, or brackets that do not pair) is counted.
    """
    for _ in range(rounds):
        before = len(marks)
        marks = marks.replace(b"[]", b"").replace(b"{}", b"")
        if not marks:
            return True
        if len(marks) == before or (len(marks) > _CHUNK and len(marks) > before * 3 // 4):
            return False
    return False


def _deepest(marks: bytes, limit: int) -> int:
    """The deepest level ``marks`` reach, counted in chunks; past ``limit``, any level
    past it (an early answer for hostile input)."""
    level = deepest = 0
    for start in range(0, len(marks), _CHUNK):
        chunk = marks[start : start + _CHUNK].translate(_STEP)
        depths: accumulate[int] = accumulate(map(operator.sub, chunk, repeat(1)), initial=level)
        deepest = max(deepest, max(depths))
        if deepest > limit:
            return deepest
        level += 2 * chunk.count(2) - len(chunk)
    return deepest
