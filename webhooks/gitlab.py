"""GitLab (gitlab.com and self-managed): ``Push Hook`` and ``Tag Push Hook``.

Headers: ``X-Gitlab-Event``; the delivery id is ``Idempotency-Key`` (stable across
retries, 17.4+), else ``X-Gitlab-Event-UUID``, else ``webhook-id``. ``System Hook``
deliveries and every other event are unsupported.

Authentication: ``X-Gitlab-Token`` carries the hook's secret token verbatim. Newer
GitLab can also sign in the Standard Webhooks form; a delivery is accepted when either
mechanism it carries matches ``secret`` (both prove knowledge of it).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from webhooks import _core as c
from webhooks import _events as e
from webhooks._errors import SignatureError
from webhooks._models import Event, Provider
from webhooks._signing import check_standard_webhooks, require_secret, token_matches

PROVIDER: Provider = "gitlab"
PUSH_EVENTS = ("Push Hook", "Tag Push Hook")
# GitLab documents no per-commit path cap; this bound only guards absurd lists.
MAX_PATHS = 100_000


def verify(headers: c.Headers, body: bytes, secret: str, *, now: float | None = None) -> None:
    """``now`` (Unix seconds) replaces the clock for the Standard Webhooks timestamp check."""
    require_secret(PROVIDER, secret)
    token = headers.get("x-gitlab-token")
    if token is not None and token_matches(token, secret):
        return
    if headers.get("webhook-signature") is not None:
        check_standard_webhooks(PROVIDER, headers, body, secret, now)
        return
    if token is None:
        raise SignatureError(
            "gitlab: neither X-Gitlab-Token nor webhook-signature present",
            provider=PROVIDER,
            reason="missing",
        )
    raise SignatureError(
        "gitlab: X-Gitlab-Token does not match", provider=PROVIDER, reason="mismatch"
    )


def parse(headers: c.Headers, body: bytes) -> list[Event]:
    event = c.require_header(PROVIDER, headers, "X-Gitlab-Event")
    if event not in PUSH_EVENTS:
        raise c.unsupported_event(PROVIDER, event)
    data = c.load_object(PROVIDER, body)
    ref = c.string(data, "ref")
    if ref is None:
        raise c.missing_field(PROVIDER, "ref")
    project = c.obj(data, "project")
    repository = c.obj(data, "repository")
    listed, intact = e.listed_commits(data.get("commits"))
    commits = listed or ()
    total = data.get("total_commits_count")
    # GitLab lists at most 20 commits of a larger push; total_commits_count says so.
    truncated = isinstance(total, int) and not isinstance(total, bool) and total > len(commits)
    paths_known = (
        intact and listed is not None and not truncated and e.paths_listed(commits, MAX_PATHS)
    )
    after = c.object_id(PROVIDER, data.get("after"), "after")
    checkout_sha = c.commit_id(data.get("checkout_sha")) or after
    head = next((commit for commit in reversed(commits) if commit.sha == checkout_sha), None)
    return [
        e.push_event(
            PROVIDER,
            delivery_id=c.first(
                headers.get("idempotency-key"),
                headers.get("x-gitlab-event-uuid"),
                headers.get("webhook-id"),
            ),
            repository=_path(project, repository),
            ref=ref,
            before=c.object_id(PROVIDER, data.get("before"), "before"),
            after=after,
            created=False,
            deleted=False,
            head_commit=head,
            commits=commits,
            paths_known=paths_known,
            pusher=c.first(c.string(data, "user_username"), c.string(data, "user_name")),
            clone_url=c.first(
                c.http_url(c.string(project, "git_http_url")),
                c.http_url(c.string(project, "http_url")),
                c.http_url(c.string(repository, "git_http_url")),
            ),
        )
    ]


def _path(project: c.JSONObject | None, repository: c.JSONObject | None) -> str:
    """``group/subgroup/project``; old payloads without ``project`` give only a URL.

    The URL fallback cannot tell a relative URL root (``https://host/gitlab/...``) from
    a group, so it is the last resort.
    """
    path = c.string(project, "path_with_namespace")
    if path is not None:
        return path
    for url in (c.string(project, "web_url"), c.string(repository, "homepage")):
        if url is not None and c.http_url(url):
            try:
                path = urlsplit(url).path.strip("/")
            except ValueError:  # e.g. a malformed IPv6 host
                continue
            if "/" in path:
                return path.removesuffix(".git")
    raise c.missing_field(PROVIDER, "project.path_with_namespace")
