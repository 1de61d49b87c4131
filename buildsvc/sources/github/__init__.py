"""GitHub (github.com and GitHub Enterprise Server) over PyGithub.

``provider`` is the adapter; ``session`` pins PyGithub to our transport; ``bind``
checks a token's scopes and expiry; ``models`` turns answers into ``sources.base`` types.
"""

from __future__ import annotations

from buildsvc.sources.github.provider import GitHubClient, GitHubProvider

__all__ = ["GitHubClient", "GitHubProvider"]
