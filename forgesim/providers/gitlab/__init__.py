"""The GitLab provider: REST API v4 and v3, GitLab git auth and Push / Tag Push Hooks."""

from __future__ import annotations

import functools

from aiohttp import web
from aiohttp.typedefs import Handler

from forgesim.core import Core
from forgesim.gitauth import GitTexts, token_git_auth
from forgesim.provider import GITLAB_BACKOFF, ProviderSpec
from forgesim.providers.gitlab import auth, modes, views, views_repo
from forgesim.providers.gitlab.replies import Reply, error
from forgesim.providers.gitlab.webhook import format_push

GIT_TEXTS = GitTexts(
    denied=(
        "HTTP Basic: Access denied. If a password was provided for Git authentication, the "
        "password was incorrect or you're required to use a token instead of a password. If "
        "a token was provided, it was either incorrect, expired, or improperly scoped."
    ),
    not_found=(
        "The project you were looking for could not be found or you don't have permission "
        "to view it."
    ),
    no_push="You are not allowed to push code to this project.",
)


@web.middleware
async def replies(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Reply as reply:
        return reply.response


async def unknown_route(request: web.Request) -> web.Response:
    return error(404, "404 Not Found")


def _add_api(app: web.Application, version: str) -> None:
    p, r = f"/api/{version}", app.router
    r.add_get(p + "/user", views.get_user)
    r.add_get(p + "/users", views.get_users)
    r.add_get(p + "/users/{id}", views.get_user_by_id)
    r.add_get(p + "/version", views.get_version)
    if version == "v4":
        r.add_get(p + "/personal_access_tokens/self", views.get_token_self)
    r.add_get(p + "/namespaces", views.get_namespaces)
    r.add_get(p + "/groups", views.get_groups)
    r.add_get(p + "/groups/{id}", views.get_group)
    r.add_get(p + "/groups/{id}/projects", views.get_group_projects)
    r.add_get(p + "/groups/{id}/subgroups", views.get_subgroups)
    r.add_get(p + "/projects", views.get_projects)
    if version == "v3":
        r.add_get(p + "/projects/owned", views.get_projects_v3_owned)
    r.add_get(p + "/projects/{id}", views.get_project)
    repo = p + "/projects/{id}/repository"
    r.add_get(repo + "/branches", views_repo.get_branches)
    r.add_get(repo + "/branches/{branch}", views_repo.get_branch)
    r.add_get(repo + "/tags", views_repo.get_tags)
    r.add_get(repo + "/commits/{sha}", views_repo.get_commit)
    r.add_get(repo + "/commits/{sha}/statuses", views_repo.get_statuses)
    r.add_post(p + "/projects/{id}/statuses/{sha}", views_repo.post_status)
    hooks = p + "/projects/{id}/hooks"
    r.add_get(hooks, views_repo.list_hooks)
    r.add_post(hooks, views_repo.create_hook)
    r.add_get(hooks + "/{hook_id}", views_repo.get_hook)
    r.add_put(hooks + "/{hook_id}", views_repo.edit_hook)
    r.add_delete(hooks + "/{hook_id}", views_repo.delete_hook)
    r.add_route("*", p + "/{tail:.*}", unknown_route)


def setup(app: web.Application, core: Core) -> None:
    app.middlewares.extend([auth.api_guard, replies])
    _add_api(app, "v4")
    _add_api(app, "v3")


PROVIDER = ProviderSpec(
    name="gitlab",
    api_path="/api/v4",
    setup=setup,
    git_auth=functools.partial(
        token_git_auth,
        realm="GitLab",
        read_scopes=("api", "read_repository", "write_repository"),
        write_scopes=("api", "write_repository"),
        texts=GIT_TEXTS,
    ),
    format_push=format_push,
    token_prefix="glpat-",  # noqa: S106 - a prefix, not a secret
    options={modes.OPTION: tuple(modes.MODES)},
    hook_backoff=GITLAB_BACKOFF,
)
