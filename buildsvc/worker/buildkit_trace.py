"""BuildKit's progress trace, as the Docker engine streams it, turned into log lines.

A ``POST /build?version=2`` stream carries BuildKit's progress as items
``{"id": "moby.buildkit.trace", "aux": "<base64>"}``: each a serialized
``moby.buildkit.v1.StatusResponse`` (BuildKit's control.proto). The message types are
declared here from that schema (only the fields we read; protobuf skips the others),
so no generated code is vendored.

``Progress`` renders the trace the way ``docker buildx build --progress=plain`` does::

    #5 [2/3] RUN make
    #5 0.412 compiling...
    #5 DONE 1.3s

and remembers what a failure report needs: the failing step and its last lines, and
how many of the Dockerfile's steps came from the cache.
"""

from __future__ import annotations

import base64
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

__all__ = ["TRACE_ID", "Progress", "decode_trace"]

TRACE_ID = "moby.buildkit.trace"
TAIL_LINES = 20
# A Dockerfile step that makes a layer: "[2/5] RUN make", "[build 3/4] COPY . /src";
# not the FROM that starts a stage (an image, not a step to cache).
_LAYER_STEP = re.compile(r"\[(?:\S+ )?\d+/\d+\] (?!FROM )")
# A cache source BuildKit could not read: the build goes on without it.
_CACHE_IMPORT = "importing cache manifest from "

_F = descriptor_pb2.FieldDescriptorProto
_STRING, _BYTES, _BOOL, _INT64 = _F.TYPE_STRING, _F.TYPE_BYTES, _F.TYPE_BOOL, _F.TYPE_INT64
_MESSAGE, _REPEATED = _F.TYPE_MESSAGE, _F.LABEL_REPEATED
_TIMESTAMP = ".google.protobuf.Timestamp"

# (message, [(field, number, type, type name or "", repeated)]) from control.proto.
_SCHEMA: list[tuple[str, list[tuple[str, int, int, str, bool]]]] = [
    (
        "StatusResponse",
        [
            ("vertexes", 1, _MESSAGE, ".moby.buildkit.v1.Vertex", True),
            ("statuses", 2, _MESSAGE, ".moby.buildkit.v1.VertexStatus", True),
            ("logs", 3, _MESSAGE, ".moby.buildkit.v1.VertexLog", True),
        ],
    ),
    (
        "Vertex",
        [
            ("digest", 1, _STRING, "", False),
            ("inputs", 2, _STRING, "", True),
            ("name", 3, _STRING, "", False),
            ("cached", 4, _BOOL, "", False),
            ("started", 5, _MESSAGE, _TIMESTAMP, False),
            ("completed", 6, _MESSAGE, _TIMESTAMP, False),
            ("error", 7, _STRING, "", False),
        ],
    ),
    (
        "VertexStatus",
        [
            ("ID", 1, _STRING, "", False),
            ("vertex", 2, _STRING, "", False),
            ("name", 3, _STRING, "", False),
            ("current", 4, _INT64, "", False),
            ("total", 5, _INT64, "", False),
            ("timestamp", 6, _MESSAGE, _TIMESTAMP, False),
            ("started", 7, _MESSAGE, _TIMESTAMP, False),
            ("completed", 8, _MESSAGE, _TIMESTAMP, False),
        ],
    ),
    (
        "VertexLog",
        [
            ("vertex", 1, _STRING, "", False),
            ("timestamp", 2, _MESSAGE, _TIMESTAMP, False),
            ("stream", 3, _INT64, "", False),
            ("msg", 4, _BYTES, "", False),
        ],
    ),
]


def _status_response_class() -> Any:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    proto = descriptor_pb2.FileDescriptorProto(
        name="buildsvc/buildkit_control.proto",
        package="moby.buildkit.v1",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    for name, fields in _SCHEMA:
        message = proto.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            message.field.add(
                name=field_name,
                number=number,
                type=kind,
                type_name=type_name or None,
                label=_REPEATED if repeated else _F.LABEL_OPTIONAL,
            )
    pool.Add(proto)
    descriptor = pool.FindMessageTypeByName("moby.buildkit.v1.StatusResponse")
    return message_factory.GetMessageClass(descriptor)


StatusResponse = _status_response_class()


def decode_trace(aux: str) -> Any:
    """One ``moby.buildkit.trace`` item's ``aux`` as a ``StatusResponse`` message."""
    message = StatusResponse()
    message.ParseFromString(base64.b64decode(aux))
    return message


def _collateral(error: str) -> bool:
    """Whether a step's error only says it was stopped because another step failed."""
    return error.endswith("context canceled")


def _seconds(message: Any, name: str) -> float | None:
    if not message.HasField(name):
        return None
    stamp = getattr(message, name)
    return float(stamp.seconds) + float(stamp.nanos) / 1e9


@dataclass(slots=True)
class _Vertex:
    number: int
    name: str
    started: float | None = None
    error: str = ""
    announced: bool = False
    ended: bool = False
    partial: str = ""
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))


class Progress:
    """Feeds on trace messages, emits plain-progress lines, remembers the failing step."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._vertexes: dict[str, _Vertex] = {}
        self._statuses_done: set[str] = set()
        self.failed: _Vertex | None = None
        self.cached_steps = 0  # Dockerfile steps (layers) taken from the cache

    def feed(self, message: Any) -> None:
        # A step's output comes before its end, whatever order one message lists them in.
        for vertex in message.vertexes:
            self._vertex_start(vertex)
        for status in message.statuses:
            self._status(status)
        for log in message.logs:
            self._log(log)
        for vertex in message.vertexes:
            self._vertex_end(vertex)

    def feed_aux(self, aux: str) -> None:
        self.feed(decode_trace(aux))

    @property
    def step(self) -> str | None:
        """The failing vertex's name, e.g. ``[3/3] RUN make``."""
        return self.failed.name if self.failed else None

    @property
    def tail(self) -> list[str]:
        return list(self.failed.tail) if self.failed else []

    def flush(self) -> None:
        """Emit what is left of unterminated log lines (the stream ended)."""
        for vertex in self._vertexes.values():
            if vertex.partial:
                self._log_line(vertex, vertex.partial, None)
                vertex.partial = ""

    def _get(self, digest: str, name: str) -> _Vertex:
        vertex = self._vertexes.get(digest)
        if vertex is None:
            vertex = self._vertexes[digest] = _Vertex(len(self._vertexes) + 1, name)
        elif name:
            vertex.name = name
        return vertex

    def _announce(self, vertex: _Vertex) -> None:
        # A vertex seen first in a log or status message has no name yet: it is
        # announced when its own message names it.
        if not vertex.announced and vertex.name:
            vertex.announced = True
            self._emit(f"#{vertex.number} {vertex.name}")

    def _vertex_start(self, message: Any) -> None:
        vertex = self._get(message.digest, message.name)
        started = _seconds(message, "started")
        if started is not None and vertex.started is None:
            vertex.started = started
        if started is not None or message.cached or message.error:
            self._announce(vertex)  # a vertex known but not started yet is said once it starts
        if message.cached:
            self._vertex_end(message)  # nothing runs, so nothing comes between

    def _vertex_end(self, message: Any) -> None:
        vertex = self._vertexes[message.digest]
        completed = _seconds(message, "completed")
        if vertex.ended or (completed is None and not message.error and not message.cached):
            return
        if vertex.partial:
            self._log_line(vertex, vertex.partial, None)
            vertex.partial = ""
        vertex.ended = True
        if message.error:
            vertex.error = message.error
            if vertex.name.startswith(_CACHE_IMPORT):
                pass  # not the build's failure: it goes on, building without that cache
            elif self.failed is None or _collateral(self.failed.error):
                # When one step fails BuildKit cancels the steps running beside it,
                # and they end in errors too: the failure is the first real one.
                self.failed = vertex
            self._emit(f"#{vertex.number} ERROR: {message.error}")
        elif message.cached:
            if _LAYER_STEP.match(vertex.name):
                self.cached_steps += 1
            self._emit(f"#{vertex.number} CACHED")
        else:
            took = completed - (vertex.started or completed) if completed else 0.0
            self._emit(f"#{vertex.number} DONE {took:.1f}s")

    def _status(self, message: Any) -> None:
        # Transfers and exports ("exporting layers", "writing image sha256:…"): said when done.
        key = f"{message.vertex}/{message.ID}"
        if not message.HasField("completed") or key in self._statuses_done:
            return
        self._statuses_done.add(key)
        vertex = self._get(message.vertex, "")
        self._announce(vertex)
        self._emit(f"#{vertex.number} {message.name or message.ID} done")

    def _log(self, message: Any) -> None:
        vertex = self._get(message.vertex, "")
        self._announce(vertex)
        at = _seconds(message, "timestamp")
        text = vertex.partial + message.msg.decode("utf-8", "replace")
        *complete, vertex.partial = text.split("\n")
        for line in complete:
            self._log_line(vertex, line.rstrip("\r"), at)

    def _log_line(self, vertex: _Vertex, line: str, at: float | None) -> None:
        vertex.tail.append(line)
        if at is not None and vertex.started is not None:
            self._emit(f"#{vertex.number} {max(at - vertex.started, 0.0):.3f} {line}")
        else:
            self._emit(f"#{vertex.number} {line}")
