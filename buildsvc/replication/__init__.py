"""Replication: copy pushed images to other registries, over the registry API.

Rules (``service``, validated by ``schemas``) name a destination registry, a namespace
and name template, a tag filter with the build rules' syntax, and a trigger: on push
(``jobs.after_push``, called by the worker after a build pushed) or manual
(``manual.run_rule``). Planning (``plan``) writes one status row per tag and
destination; the arq job (``jobs.replicate``) copies it (``copy``, over
``registry_api``), writing its progress (``status``) and retrying transient failures;
``sweep`` queues again the rows whose job Redis lost.

Imports run one way: ``errors ← registry_api ← copy ← status ← plan ← jobs ← sweep``; it may
import store, repositories (the tag matcher), builds (the wake channel), sources (the
address policy) and crypto; the worker and the API import it, never the reverse.
"""
