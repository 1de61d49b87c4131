"""GitHub and GitHub Enterprise Server: ``push`` and ``ping`` deliveries.

Headers: ``X-GitHub-Event`` (push, ping; create/delete and the rest are unsupported),
``X-GitHub-Delivery`` (delivery id), ``X-Hub-Signature-256``. Hooks whose content type
is ``form`` send the JSON in a ``payload=`` form field; both forms are accepted.

Push bodies are large (the repository object alone has ~90 fields) and we read few of
them, so a push is first validated straight from the bytes into ``_Push`` by
pydantic-core, which skips what it does not need. Anything that schema rejects gets
the lenient path: decode, then fill ``_Push`` field by field (``_lenient``). Both feed
one mapping, and give equal results wherever the strict one succeeds.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, ValidationError

from webhooks import _core as c
from webhooks import _events as e
from webhooks._models import Commit, Event, PingEvent, Provider, PushEvent
from webhooks._signing import check_hub_signature

PROVIDER: Provider = "github"
# GitHub reports at most 3000 changed files per commit: at the cap, the list may be cut.
MAX_FILES_PER_COMMIT = 3000
# Older GitHub documented at most 2048 commits per push delivery: at the cap, assume a cut.
MAX_COMMITS = 2048


class _Schema(BaseModel):
    # strict: no coercion (e.g. "true" for a bool), so a result equals the lenient path's
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)


class _Owner(_Schema):
    login: str | None = None
    name: str | None = None


class _Repository(_Schema):
    full_name: str | None = None
    name: str | None = None
    owner: _Owner | None = None
    clone_url: str | None = None
    html_url: str | None = None


class _Pusher(_Schema):
    name: str | None = None


class _Sender(_Schema):
    login: str | None = None


class _Push(_Schema):
    """The part of a push payload we read."""

    ref: str
    before: str
    after: str
    created: bool = False
    deleted: bool = False
    commits: tuple[Commit, ...] | None = None
    head_commit: Commit | None = None
    repository: _Repository | None = None
    pusher: _Pusher | None = None
    sender: _Sender | None = None


def verify(headers: c.Headers, body: bytes, secret: str) -> None:
    check_hub_signature(PROVIDER, headers, "X-Hub-Signature-256", body, secret)


def parse(headers: c.Headers, body: bytes) -> list[Event]:
    event = c.require_header(PROVIDER, headers, "X-GitHub-Event")
    if event not in ("push", "ping"):
        raise c.unsupported_event(PROVIDER, event)
    document = _json_document(headers, body)
    delivery_id = headers.get("x-github-delivery")
    if event == "ping":
        return [_ping(c.load_object(PROVIDER, document), headers, delivery_id)]
    try:
        push, intact = _Push.model_validate_json(document), True
    except ValidationError:
        push, intact = _lenient(c.load_object(PROVIDER, document))
    return [_event(push, intact, delivery_id)]


def _ping(data: c.JSONObject, headers: c.Headers, delivery_id: str | None) -> PingEvent:
    hook_id = data.get("hook_id")
    if not isinstance(hook_id, int) or isinstance(hook_id, bool):
        hook_id = headers.get("x-github-hook-id")
    return PingEvent(
        provider=PROVIDER,
        delivery_id=delivery_id,
        hook_id=None if hook_id is None else str(hook_id),
        zen=c.string(data, "zen"),
        repository=c.string(c.obj(data, "repository"), "full_name"),
    )


def _json_document(headers: c.Headers, body: bytes) -> bytes | str:
    content_type = headers.get("content-type") or ""
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return body
    try:
        form = parse_qs(body.decode("ascii"), max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise c.bad_field(PROVIDER, "form body is not URL-encoded ASCII") from exc
    values = form.get("payload")
    if not values:
        raise c.missing_field(PROVIDER, "the form field payload")
    return values[0]


def _lenient(data: c.JSONObject) -> tuple[_Push, bool]:
    """Fill ``_Push`` from a decoded body, defaulting every malformed optional field."""
    commits, intact = e.listed_commits(data.get("commits"))
    head = e.listed_commit(data.get("head_commit"))
    push = _Push(
        ref=_required(data, "ref"),
        before=_required(data, "before"),
        after=_required(data, "after"),
        created=c.flag(data, "created"),
        deleted=c.flag(data, "deleted"),
        commits=commits,
        head_commit=None if head is None else head[0],
        repository=_lenient_repository(c.obj(data, "repository")),
        pusher=_Pusher(name=c.text(c.obj(data, "pusher"), "name")),
        sender=_Sender(login=c.text(c.obj(data, "sender"), "login")),
    )
    return push, intact


def _required(data: c.JSONObject, key: str) -> str:
    value = data.get(key)
    if value is None:
        raise c.missing_field(PROVIDER, key)
    if not isinstance(value, str):
        raise c.bad_field(PROVIDER, f"{key} is not a string")
    return value


def _lenient_repository(repo: c.JSONObject | None) -> _Repository | None:
    if repo is None:
        return None
    owner = c.obj(repo, "owner")
    return _Repository(
        full_name=c.text(repo, "full_name"),
        name=c.text(repo, "name"),
        owner=None
        if owner is None
        else _Owner(login=c.text(owner, "login"), name=c.text(owner, "name")),
        clone_url=c.text(repo, "clone_url"),
        html_url=c.text(repo, "html_url"),
    )


def _event(push: _Push, intact: bool, delivery_id: str | None) -> PushEvent:
    commits = push.commits or ()
    repo = push.repository or _Repository()
    return e.push_event(
        PROVIDER,
        delivery_id=delivery_id,
        repository=_full_name(repo),
        ref=push.ref,
        before=c.object_id(PROVIDER, push.before, "before"),
        after=c.object_id(PROVIDER, push.after, "after"),
        created=push.created,
        deleted=push.deleted,
        head_commit=push.head_commit,
        commits=commits,
        paths_known=intact
        and push.commits is not None
        and len(commits) < MAX_COMMITS
        and e.paths_listed(commits, MAX_FILES_PER_COMMIT),
        pusher=(push.pusher and push.pusher.name) or (push.sender and push.sender.login) or None,
        clone_url=c.first(
            c.http_url(repo.clone_url),
            None if (html := c.http_url(repo.html_url)) is None else html.rstrip("/") + ".git",
        ),
    )


def _full_name(repo: _Repository) -> str:
    if repo.full_name:
        return repo.full_name
    owner = repo.owner or _Owner()
    owner_name = owner.login or owner.name
    if not owner_name or not repo.name:
        raise c.missing_field(PROVIDER, "repository.full_name")
    return f"{owner_name}/{repo.name}"
