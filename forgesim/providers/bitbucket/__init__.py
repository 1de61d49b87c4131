"""The Bitbucket Cloud provider: REST API 2.0 under ``/2.0``, git over HTTPS at
``{url}/{workspace}/{slug}.git`` and one signed ``repo:push`` delivery per push."""

from __future__ import annotations

import functools

from aiohttp import web

from forgesim.core import Core
from forgesim.gitauth import GitTexts, token_git_auth
from forgesim.models import User
from forgesim.provider import ProviderSpec
from forgesim.providers.bitbucket import auth, views, views_hooks, views_repo, webhook

API = auth.API
GIT_TEXTS = GitTexts(
    denied="Invalid credentials",
    not_found="Repository not found",
    no_push="You need write access to push to this repository.",
)


def _git_username_ok(name: str, user: User) -> bool:
    """Access tokens go with ``x-token-auth``; app passwords with the account's name."""
    return name.lower() in ("x-token-auth", user.username.lower(), user.email.lower())


def _add_api(app: web.Application) -> None:
    r = app.router
    r.add_get(API + "/user", views.get_user)
    r.add_get(API + "/user/workspaces", views.get_user_workspaces)
    r.add_get(API + "/user/permissions/workspaces", views.get_workspace_permissions)
    r.add_get(API + "/users/{user:[^/]+}", views.get_user_by_id)
    r.add_get(API + "/workspaces", views.get_workspaces)
    r.add_get(API + "/workspaces/{workspace:[^/]+}", views.get_workspace)
    r.add_get(API + "/workspaces/{workspace:[^/]+}/projects", views.get_workspace_projects)
    r.add_get(API + "/repositories", views.get_repositories)
    r.add_get(API + "/repositories/{workspace:[^/]+}", views.get_workspace_repositories)
    repo = API + "/repositories/{workspace}/{repo_slug}"
    r.add_get(repo, views.get_repository)
    r.add_get(repo + "/refs/branches{slash:/?}", views_repo.get_branches)
    r.add_get(repo + "/refs/branches/{name:.+}", views_repo.get_branch)
    r.add_get(repo + "/refs/tags{slash:/?}", views_repo.get_tags)
    r.add_get(repo + "/refs/tags/{name:.+}", views_repo.get_tag)
    commit = repo + "/commit/{commit}"
    r.add_get(commit, views_repo.get_commit)
    r.add_get(commit + "/statuses{slash:/?}", views_repo.get_statuses)
    r.add_post(commit + "/statuses/build{slash:/?}", views_repo.post_build_status_route)
    r.add_get(commit + "/statuses/build/{key}", views_repo.get_build_status)
    r.add_put(commit + "/statuses/build/{key}", views_repo.put_build_status)
    hooks = repo + "/hooks"
    r.add_get(hooks + "{slash:/?}", views_hooks.list_hooks)
    r.add_post(hooks + "{slash:/?}", views_hooks.create_hook)
    r.add_get(hooks + "/{uid:[^/]+}", views_hooks.get_hook)
    r.add_put(hooks + "/{uid:[^/]+}", views_hooks.update_hook)
    r.add_delete(hooks + "/{uid:[^/]+}", views_hooks.delete_hook)
    r.add_route("*", API + "/{tail:.*}", views.unknown_route)


def setup(app: web.Application, core: Core) -> None:
    app.middlewares.append(auth.api_guard)
    _add_api(app)


PROVIDER = ProviderSpec(
    name="bitbucket",
    api_path=API,
    setup=setup,
    git_auth=functools.partial(
        token_git_auth,
        realm="Bitbucket.org HTTP",
        read_scopes=("repository", "repository:write", "pullrequest", "pullrequest:write"),
        write_scopes=("repository:write", "pullrequest:write"),
        username_ok=_git_username_ok,
        texts=GIT_TEXTS,
    ),
    format_push=webhook.format_push,
)
