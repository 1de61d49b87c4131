"""forgesim: a local GitLab / GitHub / Bitbucket stand-in for development and tests.

``with forgesim.running("gitlab", tmp_path) as forge:`` starts one in a background
thread; ``python -m forgesim --provider gitlab --data DIR`` runs one in the foreground.
"""

from forgesim.client import AdminClient, AdminError, Forge
from forgesim.core import ForgeConfig
from forgesim.provider import Outgoing, ProviderSpec
from forgesim.server import running, serve

__all__ = [
    "AdminClient",
    "AdminError",
    "Forge",
    "ForgeConfig",
    "Outgoing",
    "ProviderSpec",
    "running",
    "serve",
]
