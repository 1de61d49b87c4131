"""GitLab (gitlab.com and self-hosted, API v4 and v3) over python-gitlab.

``provider`` is the adapter; ``session`` opens one connection per operation; ``rest``
holds the calls written once for v4 and v3 (``v3`` is the transport python-gitlab
lacks); ``bind`` runs the binding checks; ``models`` turns answers into base types.
"""

from __future__ import annotations

from buildsvc.sources.gitlab.provider import GitLabClient, GitLabProvider

__all__ = ["GitLabClient", "GitLabProvider"]
