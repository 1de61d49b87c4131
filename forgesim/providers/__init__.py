"""The provider registry: name -> module exposing ``PROVIDER: ProviderSpec``."""

from __future__ import annotations

import importlib

from forgesim.provider import ProviderSpec

MODULES: dict[str, str] = {
    "gitlab": "forgesim.providers.gitlab",
    "github": "forgesim.providers.github",
    "bitbucket": "forgesim.providers.bitbucket",
    "bitbucket-server": "forgesim.providers.bitbucket_server",
}


def load(name: str) -> ProviderSpec:
    if name not in MODULES:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(MODULES)}")
    try:
        module = importlib.import_module(MODULES[name])
    except ModuleNotFoundError as exc:
        if exc.name != MODULES[name]:
            raise
        raise ValueError(f"provider {name!r} is not available in this build") from exc
    spec = module.PROVIDER
    if not isinstance(spec, ProviderSpec) or spec.name != name:
        raise TypeError(f"{MODULES[name]}.PROVIDER must be a ProviderSpec named {name!r}")
    return spec
