"""GitLab version modes: which API versions and endpoints an instance of that era has."""

from __future__ import annotations

from dataclasses import dataclass

from forgesim.core import Core

OPTION = "gitlab_mode"


@dataclass(frozen=True)
class Mode:
    name: str
    version: str  # what /version answers
    revision: str
    v4: bool
    v3: bool
    introspection_v4: bool  # GET /personal_access_tokens/self (GitLab >= 15.5)

    def serves(self, api: str) -> bool:
        return self.v4 if api == "v4" else self.v3

    def introspection(self, api: str) -> bool:
        return api == "v4" and self.introspection_v4


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("v4", "17.5.0", "2c8bc3c5b8d", v4=True, v3=True, introspection_v4=True),
        Mode("v4-only", "17.5.0", "2c8bc3c5b8d", v4=True, v3=False, introspection_v4=True),
        Mode(
            "no-introspection", "15.4.0", "a7d4b5f1c2e", v4=True, v3=False, introspection_v4=False
        ),
        Mode("v3-only", "8.17.8", "9d1ab2e", v4=False, v3=True, introspection_v4=False),
    )
}


def mode(core: Core) -> Mode:
    return MODES[core.options[OPTION]]
