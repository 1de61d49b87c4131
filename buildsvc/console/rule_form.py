"""Build rules as the create form sends them, read into the API's ``RuleIn``.

Each rule is a group of fields repeated once per rule (``rule_type``, ``rule_pattern``
...). Browsers send a checkbox only when it is ticked, so ``rule_no_cache`` carries its
rule's ``rule_key`` instead of relying on position. Multi-line fields hold one entry a
line: build args as ``NAME=value``, path globs as they are; secret names are separated
by commas or spaces.

On the edit form each row also carries ``rule_id``, the stored rule it was pre-filled
from. Secret values are never pre-filled (``NAME=``), so an empty value for a name that
is secret there and in the stored rule keeps the stored value (``rules_from_rows``'s
``stored``, decrypted by ``stored_secrets``); a typed value replaces it.

Meaning is checked by the API's own ``RuleIn`` and ``prepare_rules``; their errors are
re-worded to name the rule and field as the user sees them (``Rule 2, build args: ...``)
and raised as ``RuleFieldError`` (an ``InvalidRule``, code ``INVALID_RULE``), which also
carries both so the form can mark the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from multidict import MultiDictProxy
from pydantic import ValidationError

from buildsvc.crypto import Cipher
from buildsvc.repositories.errors import InvalidRule
from buildsvc.repositories.schemas import RuleIn, prepare_rules
from buildsvc.secret_args import decrypt_secrets

MAX_RULE_ROWS = 50
TEXT_FIELDS = (
    "type",
    "pattern",
    "tag",
    "dockerfile",
    "context",
    "build_args",
    "secret_build_args",
    "include_paths",
    "ignore_paths",
)
LABELS = {
    "type": "type",
    "pattern": "pattern",
    "tag": "tags",
    "dockerfile": "Dockerfile",
    "context": "context",
    "build_args": "build args",
    "secret_build_args": "secret build args",
    "no_cache": "no cache",
    "include_paths": "only these paths",
    "ignore_paths": "ignored paths",
}
_API_DETAIL = re.compile(r"rules\[(\d+)\]\.([a-z_]+)(.*)", re.DOTALL)
_NAME_SEPARATORS = re.compile(r"[\s,]+")


class StoredRule(Protocol):
    """What the edit form reads from a stored rule (``store.models.BuildRule``)."""

    id: int
    type: str
    pattern: str
    tag: str
    dockerfile: str
    context: str
    build_args: dict[str, Any]
    secret_build_args: list[Any]
    no_cache: bool
    include_paths: list[Any]
    ignore_paths: list[Any]


class RuleFieldError(InvalidRule):
    """An invalid rule, naming its position among the submitted rules and its field."""

    def __init__(self, row: int = 0, field: str = "", problem: str = "") -> None:
        label = LABELS.get(field, field)
        super().__init__(detail=f"Rule {row + 1}, {label}{problem}" if field else None)
        self.row = row
        self.field = field


@dataclass(slots=True)
class RuleRow:
    """One rule as typed, kept verbatim so a refused form shows it again."""

    type: str = "branch"
    pattern: str = ""
    tag: str = ""
    dockerfile: str = "Dockerfile"
    context: str = "."
    build_args: str = ""
    secret_build_args: str = ""
    no_cache: bool = False
    include_paths: str = ""
    ignore_paths: str = ""
    rule_id: str = ""  # the stored rule this row was pre-filled from (edit form)

    @property
    def has_options(self) -> bool:
        return self.no_cache or any(
            (self.build_args, self.secret_build_args, self.include_paths, self.ignore_paths)
        )

    def is_blank(self) -> bool:
        # Type, Dockerfile and context come filled in; anything else means the user typed.
        return not (self.pattern or self.tag or self.has_options)

    def without_secret_values(self) -> RuleRow:
        """This row with the values of its secret build args blanked (``NAME=``): a
        refused form is sent back, and a secret is not, as the bind form's token is not."""
        secret = set(secret_names(self.secret_build_args))
        kept = []
        for line in self.build_args.splitlines():
            name, equals, _value = line.partition("=")
            kept.append(f"{name}=" if equals and name.strip() in secret else line)
        return replace(self, build_args="\n".join(kept))

    @property
    def summary(self) -> str:
        return options_summary(
            len(lines(self.build_args)),
            len(secret_names(self.secret_build_args)),
            self.no_cache,
            len(lines(self.include_paths)) + len(lines(self.ignore_paths)),
        )


def options_summary(build_args: int, secrets: int, no_cache: bool, paths: int) -> str:
    """A rule's options in a few words; console.js words its live summary the same way."""
    parts = []
    if build_args:
        secret = f" ({secrets} secret)" if secrets else ""
        parts.append(f"{build_args} build arg{'' if build_args == 1 else 's'}{secret}")
    if no_cache:
        parts.append("no cache")
    if paths:
        parts.append(f"{paths} path filter{'' if paths == 1 else 's'}")
    return ", ".join(parts) or "none"


def row_from_rule(rule: StoredRule) -> RuleRow:
    """A stored rule as the edit form shows it: a secret build arg without its value."""
    secret = {str(name) for name in rule.secret_build_args}
    args = [f"{k}=" if k in secret else f"{k}={v}" for k, v in rule.build_args.items()]
    return RuleRow(
        type=rule.type,
        pattern=rule.pattern,
        tag=rule.tag,
        dockerfile=rule.dockerfile,
        context=rule.context,
        build_args="\n".join(args),
        secret_build_args=", ".join(sorted(secret)),
        no_cache=rule.no_cache,
        include_paths="\n".join(str(p) for p in rule.include_paths),
        ignore_paths="\n".join(str(p) for p in rule.ignore_paths),
        rule_id=str(rule.id),
    )


def stored_secrets(rules: Iterable[StoredRule], cipher: Cipher) -> dict[str, dict[str, str]]:
    """Stored secret build args' values (decrypted) by rule id, for the edit form to keep."""
    kept = {}
    for rule in rules:
        names = [str(name) for name in rule.secret_build_args if name in rule.build_args]
        secret = {name: rule.build_args[name] for name in names}
        kept[str(rule.id)] = decrypt_secrets(cipher, secret, names)
    return kept


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def secret_names(text: str) -> list[str]:
    return [name for name in _NAME_SEPARATORS.split(text) if name]


def read_rows(form: MultiDictProxy[Any]) -> list[RuleRow]:
    """The rules the user filled in, in order; untouched rows are left out."""
    columns = {name: [str(v) for v in form.getall(f"rule_{name}", [])] for name in TEXT_FIELDS}
    keys = [str(v) for v in form.getall("rule_key", [])]
    ids = [str(v).strip()[:20] for v in form.getall("rule_id", [])]
    no_cache = {str(v) for v in form.getall("rule_no_cache", [])}
    count = min(max(len(values) for values in columns.values()), MAX_RULE_ROWS)
    rows = []
    for index in range(count):
        typed = {
            # Browsers send textarea lines as CRLF; one form for re-display and parsing.
            name: (values[index] if index < len(values) else "").replace("\r\n", "\n").strip()
            for name, values in columns.items()
        }
        key = keys[index] if index < len(keys) else str(index + 1)
        rule_id = ids[index] if index < len(ids) else ""
        row = RuleRow(**typed, no_cache=key in no_cache, rule_id=rule_id)
        if not row.is_blank():
            rows.append(row)
    return rows


def rules_from_rows(
    rows: list[RuleRow], stored: Mapping[str, Mapping[str, str]] | None = None
) -> list[RuleIn] | None:
    """The API's rules for ``rows`` (None: the service's defaults), checked as the API does.

    ``stored`` (edit form): secret build args' values by stored rule id; a row's empty
    value for a name secret in both the row and its stored rule keeps the stored value."""
    if not rows:
        return None
    rules = [_rule(position, row, stored or {}) for position, row in enumerate(rows)]
    try:
        prepare_rules(rules)
    except InvalidRule as exc:
        found = _API_DETAIL.fullmatch(exc.detail or "")
        if found is None:
            raise
        position, field, rest = int(found[1]), found[2], found[3]
        if rest.startswith("."):  # "build_args.NAME: ..." names one argument
            rest = " " + rest[1:]
        raise RuleFieldError(position, field, rest) from exc
    return rules


def _rule(position: int, row: RuleRow, stored: Mapping[str, Mapping[str, str]]) -> RuleIn:
    if row.type not in ("branch", "tag"):
        raise RuleFieldError(position, "type", ": choose branch or tag")
    args = _build_args(position, row.build_args)
    secrets = secret_names(row.secret_build_args)
    kept = stored.get(row.rule_id, {}) if row.rule_id else {}
    for name in secrets:
        if args.get(name) == "" and name in kept:
            args[name] = kept[name]
    try:
        return RuleIn.model_validate(
            {
                "type": row.type,
                "pattern": row.pattern,
                "tag": row.tag or None,
                "dockerfile": row.dockerfile or "Dockerfile",
                "context": row.context or ".",
                "build_args": args,
                "secret_build_args": secrets,
                "no_cache": row.no_cache,
                "include_paths": lines(row.include_paths),
                "ignore_paths": lines(row.ignore_paths),
            }
        )
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        field = str(first["loc"][0]) if first["loc"] else "pattern"
        raise RuleFieldError(position, field, f": {first['msg']}") from exc


def _build_args(position: int, text: str) -> dict[str, str]:
    """``NAME=value`` lines; names are checked by ``prepare_rules``. No line is quoted
    back in an error: a mistyped line may hold a secret value."""
    args: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals:
            raise RuleFieldError(position, "build_args", f", line {number}: write NAME=value")
        if name in args:
            raise RuleFieldError(
                position, "build_args", f", line {number}: {name[:40]!r} is set twice"
            )
        args[name] = value.strip()
    return args
