"""The GitHub provider: GitHub Enterprise style REST API v3 under ``/api/v3``, git over
HTTPS at ``{url}/{owner}/{repo}.git`` and ``push`` / ``create`` / ``delete`` / ``ping``
deliveries signed with ``X-Hub-Signature-256``."""

from __future__ import annotations

from aiohttp import web

from forgesim.core import Core
from forgesim.provider import ProviderSpec
from forgesim.providers.github import auth, git, tokens, views, views_hooks, views_repo, webhook
from forgesim.providers.github.replies import error

API = auth.API


async def unknown_route(request: web.Request) -> web.Response:
    return error(404, "Not Found")


def _add_api(app: web.Application) -> None:
    r = app.router
    r.add_get(API + "/user", views.get_user)
    r.add_get(API + "/user/orgs", views.get_user_orgs)
    r.add_get(API + "/user/repos", views.get_user_repos)
    r.add_get(API + "/users/{login}", views.get_user_by_login)
    r.add_get(API + "/users/{login}/repos", views.get_users_repos)
    r.add_get(API + "/orgs/{org}", views.get_org)
    r.add_get(API + "/orgs/{org}/repos", views.get_org_repos)
    repo = API + "/repos/{owner}/{repo}"
    r.add_get(repo, views.get_repo)
    r.add_get(repo + "/branches", views_repo.get_branches)
    r.add_get(repo + "/branches/{branch:.+}", views_repo.get_branch)
    r.add_get(repo + "/tags", views_repo.get_tags)
    r.add_get(repo + "/commits/{ref:[^/]+}", views_repo.get_commit)
    r.add_get(repo + "/commits/{ref:[^/]+}/statuses", views_repo.get_statuses)
    r.add_get(repo + "/commits/{ref:[^/]+}/status", views_repo.get_combined_status)
    r.add_get(repo + "/statuses/{ref}", views_repo.get_statuses)
    r.add_post(repo + "/statuses/{sha}", views_repo.post_status)
    r.add_get(repo + "/git/{kind:refs}", views_repo.get_git_ref)
    r.add_get(repo + "/git/{kind:refs?}/{ref:.+}", views_repo.get_git_ref)
    r.add_get(repo + "/git/matching-refs/{ref:.*}", views_repo.get_matching_refs)
    hooks = repo + "/hooks"
    r.add_get(hooks, views_hooks.list_hooks)
    r.add_post(hooks, views_hooks.create_hook)
    r.add_get(hooks + "/{hook_id}", views_hooks.get_hook)
    r.add_patch(hooks + "/{hook_id}", views_hooks.edit_hook)
    r.add_delete(hooks + "/{hook_id}", views_hooks.delete_hook)
    r.add_post(hooks + "/{hook_id}/pings", views_hooks.ping_hook)
    r.add_route("*", API + "/{tail:.*}", unknown_route)


def setup(app: web.Application, core: Core) -> None:
    app[auth.RATES] = auth.RateLimits()
    app.middlewares.append(auth.api_guard)
    tokens.add_admin_routes(app)
    _add_api(app)


PROVIDER = ProviderSpec(
    name="github",
    api_path=API,
    setup=setup,
    git_auth=git.git_auth,
    format_push=webhook.format_push,
    token_prefix=tokens.CLASSIC_PREFIX,
)
