"""The Bitbucket Server / Data Center provider: REST API under ``/rest/api/1.0`` (and
``/rest/api/latest``), build statuses under ``/rest/build-status/1.0``, git over HTTP at
``{url}/scm/{PROJECTKEY}/{slug}.git`` and signed ``repo:refs_changed`` deliveries."""

from __future__ import annotations

import functools

from aiohttp import web

from forgesim.core import Core
from forgesim.gitauth import GitTexts, token_git_auth
from forgesim.models import User
from forgesim.provider import BITBUCKET_SERVER_BACKOFF, ProviderSpec
from forgesim.providers.bitbucket_server import auth, views, views_hooks, views_repo, webhook

API = "/rest/api/1.0"
GIT_TEXTS = GitTexts(
    denied="Authentication failed. Please check your credentials and try again.",
    not_found="Repository not found",
    no_push="You are not permitted to push to this repository.",
)


def _git_username_ok(name: str, user: User) -> bool:
    return name.lower() in (user.username.lower(), "x-token-auth")


def _add_api(app: web.Application, api: str) -> None:
    r = app.router
    r.add_get(api + "/application-properties", views.application_properties)
    r.add_get(api + "/users", views.get_users)
    r.add_get(api + "/users/{slug}", views.get_user)
    r.add_get(api + "/projects", views.get_projects)
    r.add_get(api + "/repos", views.get_all_repos)
    r.add_get(api + "/projects/{project}", views.get_project)
    r.add_get(api + "/projects/{project}/repos", views.get_repos)
    repo = api + "/projects/{project}/repos/{slug}"
    r.add_get(repo, views.get_repo)
    r.add_get(repo + "/branches", views_repo.get_branches)
    r.add_get(repo + "/branches/default", views_repo.get_default_branch)
    r.add_get(repo + "/default-branch", views_repo.get_default_branch)
    r.add_get(repo + "/tags", views_repo.get_tags)
    r.add_get(repo + "/tags/{name:.+}", views_repo.get_tag)
    r.add_get(repo + "/commits/{commit}", views_repo.get_commit)
    r.add_get(repo + "/commits/{commit}/builds", views_repo.get_builds)
    r.add_post(repo + "/commits/{commit}/builds", views_repo.post_build)
    hooks = repo + "/webhooks"
    r.add_get(hooks, views_hooks.list_hooks)
    r.add_post(hooks, views_hooks.create_hook)
    r.add_post(hooks + "/test", views_hooks.test_hook)
    r.add_get(hooks + "/{hook_id}", views_hooks.get_hook)
    r.add_put(hooks + "/{hook_id}", views_hooks.update_hook)
    r.add_delete(hooks + "/{hook_id}", views_hooks.delete_hook)


def setup(app: web.Application, core: Core) -> None:
    app.middlewares.append(auth.rest_guard)
    for version in ("1.0", "latest"):
        _add_api(app, f"/rest/api/{version}")
        status = f"/rest/build-status/{version}/commits/{{commit}}"
        app.router.add_get(status, views_repo.get_legacy_statuses)
        app.router.add_post(status, views_repo.post_legacy_status)
    app.router.add_route("*", "/rest/{tail:.*}", views.unknown_route)


PROVIDER = ProviderSpec(
    name="bitbucket-server",
    api_path=API,
    setup=setup,
    git_auth=functools.partial(
        token_git_auth,
        realm="Atlassian Bitbucket",
        read_scopes=tuple(auth.PERMISSIONS),
        write_scopes=("REPO_WRITE", "REPO_ADMIN", "PROJECT_WRITE", "PROJECT_ADMIN"),
        username_ok=_git_username_ok,
        texts=GIT_TEXTS,
    ),
    format_push=webhook.format_push,
    git_prefix="/scm",
    token_prefix="BBDC-",  # noqa: S106 - a prefix, not a secret
    hook_backoff=BITBUCKET_SERVER_BACKOFF,
)
