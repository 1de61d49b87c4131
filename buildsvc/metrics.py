"""Prometheus metrics at ``GET /metrics``, observed from outside the domain code.

Nothing in ``builds/``, ``sources/`` or ``worker/`` imports prometheus; ``setup_metrics(app)``
watches the application instead:

=========================================  ========================================
series                                     where it comes from
=========================================  ========================================
``buildsvc_builds{status}``                the builds table, counted at scrape time
``buildsvc_queue_depth``                   builds in ``queued`` (same count)
``buildsvc_queue_jobs``                    arq jobs waiting in Redis (absent while
                                           Redis is down)
``buildsvc_build_phase_duration_seconds``  phase timestamps of every finished build,
``{phase}`` (histogram)                    bucketed by one SQL query at scrape time
``buildsvc_webhook_deliveries_total``      the answers of ``POST /webhooks/...``,
``{provider, outcome}``                    seen by an ``on_response_prepare`` hook
                                           (the handler leaves the outcome on the
                                           request: ``WEBHOOK_OUTCOME``)
``buildsvc_forge_call_duration_seconds``   a timing proxy around each code-source
``{provider, operation, result}``          provider and the clients it opens
=========================================  ========================================

Many API processes, one database: the first four series are the same global numbers in
every process (aggregate them with ``max``), the last two count what each process saw
(aggregate with ``sum``). Workers run forge calls too (clone, commit statuses); their
phases reach the histogram through the database, their forge latency is not exported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from buildsvc.builds import queries
from buildsvc.builds.states import BuildStatus
from buildsvc.errors import Unavailable
from buildsvc.forge_timing import instrument_providers
from buildsvc.web.keys import ARQ, ENGINE, PROVIDERS, WEBHOOK_OUTCOME
from buildsvc.web.openapi import describe

log = logging.getLogger(__name__)

PHASE_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
FORGE_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ARQ_QUEUE = "arq:queue"
SCRAPE_TIMEOUT_SECONDS = 5.0
WEBHOOK_PROVIDERS = frozenset({"gitlab", "github", "bitbucket", "bitbucket-server"})

# Webhook answers by status when there is no outcome to read.
_REJECTED = {400: "malformed", 401: "unauthenticated", 404: "unknown_hook", 413: "too_large"}
# Outcome texts recorded by intake, by prefix (most specific first).
_OUTCOME_PREFIXES = (
    ("queued", "queued"),
    ("no rule matched", "no_rule_matched"),
    ("auto build off", "auto_build_off"),
    ("skipped: no changed path", "paths_filtered"),
    ("skipped", "skipped"),
    ("ignored", "ignored"),
    ("ping", "ping"),
    ("not built", "not_built"),
)


@dataclass(slots=True)
class PhaseHistogram:
    buckets: list[int]  # cumulative counts, one per PHASE_BUCKETS bound
    count: int = 0
    total: float = 0.0


@dataclass(slots=True)
class Snapshot:
    """What the database and Redis said at the last scrape."""

    builds: dict[str, int] = field(default_factory=dict)
    queue_jobs: int | None = None
    phases: dict[str, PhaseHistogram] = field(default_factory=dict)


class StateCollector(Collector):
    """Renders the last ``Snapshot``; ``/metrics`` refreshes it before each render."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterable[Metric]:
        snap = self.snapshot
        builds = GaugeMetricFamily(
            "buildsvc_builds", "Builds by status, all accounts.", labels=["status"]
        )
        for status in BuildStatus:
            builds.add_metric([status.value], snap.builds.get(status.value, 0))
        yield builds
        yield GaugeMetricFamily(
            "buildsvc_queue_depth",
            "Builds waiting for a worker (status queued).",
            value=snap.builds.get(BuildStatus.QUEUED.value, 0),
        )
        if snap.queue_jobs is not None:
            yield GaugeMetricFamily(
                "buildsvc_queue_jobs", "Jobs waiting in the arq queue.", value=snap.queue_jobs
            )
        phases = HistogramMetricFamily(
            "buildsvc_build_phase_duration_seconds",
            "Time finished builds spent in each phase (total: queued to finished).",
            labels=["phase"],
        )
        for phase in queries.PHASE_NAMES:
            hist = snap.phases.get(phase, PhaseHistogram([0] * len(PHASE_BUCKETS)))
            pairs = zip(PHASE_BUCKETS, hist.buckets, strict=True)
            buckets = [(str(bound), float(n)) for bound, n in pairs]
            buckets.append(("+Inf", float(hist.count)))
            phases.add_metric([phase], buckets, hist.total)
        yield phases


class Metrics:
    """One registry per application (tests run many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.state = StateCollector()
        self.registry.register(self.state)
        self.webhook_deliveries = Counter(
            "buildsvc_webhook_deliveries",
            "Webhook deliveries answered, by provider and outcome.",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self._delivery_counters: dict[tuple[str, str], Counter] = {}
        self.forge_calls = Histogram(
            "buildsvc_forge_call_duration_seconds",
            "Code-source (forge) operations made by this process, by outcome.",
            ["provider", "operation", "result"],
            buckets=FORGE_BUCKETS,
            registry=self.registry,
        )

    def count_delivery(self, provider: str, outcome: str) -> None:
        # The labelled child, kept: ``labels()`` validates and locks on every call.
        child = self._delivery_counters.get((provider, outcome))
        if child is None:
            child = self.webhook_deliveries.labels(provider, outcome)
            self._delivery_counters[(provider, outcome)] = child
        child.inc()

    def observe_forge_call(
        self, provider: str, operation: str, result: str, seconds: float
    ) -> None:
        self.forge_calls.labels(provider, operation, result).observe(seconds)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


METRICS = web.AppKey("metrics", Metrics)


async def load_snapshot(engine: AsyncEngine) -> Snapshot:
    """Build counts by status, and the phase histograms of finished builds (one query each)."""
    snapshot = Snapshot()
    async with engine.connect() as connection:
        snapshot.builds = await queries.count_by_status(connection)
        values = await queries.phase_histograms(connection, PHASE_BUCKETS)
    width = len(PHASE_BUCKETS) + 2
    for index, phase in enumerate(queries.PHASE_NAMES):
        chunk = values[index * width : (index + 1) * width]
        snapshot.phases[phase] = PhaseHistogram(
            buckets=[int(n or 0) for n in chunk[:-2]],
            count=int(chunk[-2] or 0),
            total=float(chunk[-1] or 0.0),
        )
    return snapshot


def webhook_outcome(status: int, outcome: str | None) -> str:
    """A low-cardinality outcome label for one webhook answer; ``outcome`` is the text
    intake recorded (the answer's ``outcome``), None when there is none."""
    if status in _REJECTED:
        return _REJECTED[status]
    if status >= 500:
        return "error"
    if status != 202 or outcome is None:
        return f"http_{status}"
    text = outcome.lower()
    if text.endswith(" deleted"):
        return "ref_deleted"
    return next((label for prefix, label in _OUTCOME_PREFIXES if text.startswith(prefix)), "other")


async def _observe_response(request: web.BaseRequest, response: web.StreamResponse) -> None:
    if request.method != "POST" or not request.path.startswith("/webhooks/"):
        return
    if not isinstance(request, web.Request):
        return
    metrics = request.app.get(METRICS)
    if metrics is None:
        return
    provider = request.path.split("/")[2]
    provider = provider if provider in WEBHOOK_PROVIDERS else "other"
    label = webhook_outcome(response.status, request.get(WEBHOOK_OUTCOME))
    metrics.count_delivery(provider, label)


async def _queue_jobs(app: web.Application) -> int | None:
    redis = await app[ARQ].get()
    if redis is None:
        return None
    try:
        return int(await redis.zcard(ARQ_QUEUE))
    except Exception as exc:  # Redis trouble only hides this one gauge
        log.warning("metrics: arq queue length unavailable: %r", exc)
        return None


routes = web.RouteTableDef()


@routes.get("/metrics")
@describe(
    "Prometheus metrics",
    public=True,
    errors=(503,),
    alternatives={"text/plain": {"schema": {"type": "string"}}},
)
async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus text exposition format; see ``buildsvc.metrics`` for every series."""
    metrics = request.app[METRICS]
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_SECONDS):
            snapshot = await load_snapshot(request.app[ENGINE])
            snapshot.queue_jobs = await _queue_jobs(request.app)
    except Exception as exc:  # answer 503 rather than stale numbers
        log.warning("metrics: database unavailable: %r", exc)
        raise Unavailable(detail="metrics need the database, which did not answer") from exc
    metrics.state.snapshot = snapshot
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _instrument(app: web.Application) -> AsyncIterator[None]:
    """Wrap the providers ``_providers`` put in place with the timing proxy."""
    metrics = app[METRICS]
    app[PROVIDERS] = instrument_providers(app[PROVIDERS], metrics.observe_forge_call)
    yield


def setup_metrics(app: web.Application) -> None:
    """Call from ``create_app`` after the provider context is listed."""
    app[METRICS] = Metrics()
    app.on_response_prepare.append(_observe_response)
    app.cleanup_ctx.append(_instrument)


def sample(metrics: Metrics, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """One sample's value from the registry (for tests and debugging)."""
    value = metrics.registry.get_sample_value(name, dict(labels or {}))
    return None if value is None else float(value)
