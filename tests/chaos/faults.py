"""The faults, in an order and at times a seeded ``random.Random`` picks.

Each fault takes a part of the cluster away and brings it back with ``cluster.sh start
PART`` (which waits until the part answers, or for a worker until it is ready):

- a worker SIGKILLed (its running builds are requeued once its heartbeat is stale);
- an API process SIGKILLed (requests in flight on it are lost; haproxy sends the rest to
  the other one);
- Redis restarted (empty: the queue is rebuilt from the database);
- PostgreSQL restarted (fast shutdown: every connection is cut);
- then a rolling restart: each API process and each worker in turn SIGTERMed, waited
  for and started again, and haproxy reloaded (SIGUSR2).

The first four come in a seeded order with seeded pauses between them.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.common.cluster import LocalCluster

ROLLING = ("api-1", "api-2", "worker-1", "worker-2")
STOP_TIMEOUT_SECONDS = 30.0  # then SIGKILL, as systemd's TimeoutStopSec would


@dataclass
class Fault:
    name: str
    act: Callable[[], None]


@dataclass
class Faults:
    cluster: LocalCluster
    rng: random.Random
    events: list[str] = field(default_factory=list)  # "t+12.3 s: worker-2 SIGKILLed", ...
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def plan(self) -> list[Fault]:
        worker = self.rng.choice(("worker-1", "worker-2"))
        api = self.rng.choice(("api-1", "api-2"))
        single = [
            Fault(f"{worker} SIGKILLed and started again", lambda: self._kill(worker)),
            Fault(f"{api} SIGKILLed and started again", lambda: self._kill(api)),
            Fault("Redis restarted", lambda: self._restart("redis", signal.SIGTERM)),
            Fault("PostgreSQL restarted", lambda: self._restart("postgresql", signal.SIGINT)),
        ]
        self.rng.shuffle(single)
        rolling = [
            Fault(f"{part} SIGTERMed and started again", functools.partial(self._term, part))
            for part in ROLLING
        ]
        reload = Fault("haproxy reloaded (SIGUSR2)", self._reload_haproxy)
        return [*single, *rolling, reload]

    def run(self, started: float) -> None:
        """Every fault in turn (in a thread of its own); ``done`` is set at the end."""
        try:
            time.sleep(self.rng.uniform(2, 4))
            for fault in self.plan():
                self.events.append(f"t+{time.monotonic() - started:5.1f} s: {fault.name}")
                fault.act()
                time.sleep(self.rng.uniform(1, 4))
        except BaseException as exc:  # reported by the driver, which then stops
            self.error = exc
        finally:
            self.done.set()

    def _kill(self, part: str) -> None:
        self.cluster.signal(part, signal.SIGKILL)
        time.sleep(self.rng.uniform(0.5, 2))  # down for a moment, as a crash would be
        self._start(part)

    def _term(self, part: str) -> None:
        try:
            self.cluster.signal(part, signal.SIGTERM, timeout=STOP_TIMEOUT_SECONDS)
        except TimeoutError:  # as systemd does after TimeoutStopSec: counted as a loss
            self.events.append(f"{part} did not stop within {STOP_TIMEOUT_SECONDS:g} s: SIGKILL")
            self.cluster.signal(part, signal.SIGKILL)
        self._start(part)

    def _restart(self, part: str, sig: signal.Signals) -> None:
        self.cluster.signal(part, sig)
        time.sleep(self.rng.uniform(1, 3))
        self._start(part)

    def _start(self, part: str) -> None:
        output = self.cluster.start_parts(part)
        if f"{part}: started" not in output:  # "running" would mean it never went away
            raise RuntimeError(f"cluster.sh did not start {part} again:\n{output}")

    def _reload_haproxy(self) -> None:
        os.kill(self.cluster.pid("haproxy"), signal.SIGUSR2)
