"""How deep a JSON document nests, found without parsing it and without recursion.

``json`` recurses once per array or object level, so a body of 100,000 ``[`` ends in
``RecursionError``; and a document just under that limit can still make whatever walks
it next (validation, ``json.dumps``) recurse too deep. Checking the raw text first stops
both. Real forge payloads nest about 10 levels; the service's request bodies fewer.

The scan is a handful of C-speed passes over the bytes (``replace``, ``translate``,
``split``) and one over the brackets alone, since a Python loop over every byte would
cost more than parsing: drop escaped backslashes and quotes, keep only quotes and
brackets, drop the quotes of strings without brackets (any adjacent pair), drop what
lies inside the strings left, and take the deepest running total of the brackets.
"""

from __future__ import annotations

import json
import operator
from itertools import accumulate, repeat

MAX_JSON_DEPTH = 64
"""Arrays and objects nested deeper than this are refused wherever JSON comes in."""

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


def json_too_deep(document: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``document`` opens arrays or objects more than ``limit`` levels deep.

    Exact for valid JSON. For invalid JSON it may answer either way, and the parser
    then refuses the document; unclosed brackets count, as they do when parsing.
    """
    data = _utf8(document)
    if data is None:
        return False
    if b"\\" in data:  # an escaped quote must not end a string; \\ then " does
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Two adjacent quotes end a string and start the next, or enclose an empty one:
    # dropping them moves no bracket into or out of a string.
    marks = data.translate(None, _NOT_MARK).replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    if len(marks) <= limit:
        return False
    depths: accumulate[int] = accumulate(map(operator.sub, marks.translate(_STEP), repeat(1)))
    return max(depths) > limit
