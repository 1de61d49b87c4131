"""Bitbucket Cloud and Bitbucket Server / Data Center over atlassian-python-api.

Both editions share one transport (``rest``); each has its adapter, binding checks and
answer models side by side: ``cloud``, ``cloud_bind``, ``cloud_models`` and ``server``,
``server_bind``, ``server_models``. Flat files rather than two subpackages, because the
editions share ``rest`` and Server's models reuse Cloud's URL cleaning.
"""

from __future__ import annotations

from buildsvc.sources.bitbucket.cloud import BitbucketClient, BitbucketProvider
from buildsvc.sources.bitbucket.server import BitbucketServerClient, BitbucketServerProvider

__all__ = [
    "BitbucketClient",
    "BitbucketProvider",
    "BitbucketServerClient",
    "BitbucketServerProvider",
]
