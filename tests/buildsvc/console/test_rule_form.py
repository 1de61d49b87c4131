"""Reading the create and edit forms' rule fields into the API's ``RuleIn`` (no server)."""

from __future__ import annotations

import pytest
from multidict import MultiDict, MultiDictProxy

from buildsvc.console.rule_form import (
    RuleFieldError,
    RuleRow,
    options_summary,
    read_rows,
    row_from_rule,
    rules_from_rows,
    stored_secrets,
)
from buildsvc.crypto import Cipher, generate_key
from buildsvc.repositories.schemas import MAX_BUILD_ARGS

BLANK = {
    "type": "branch",
    "pattern": "",
    "tag": "",
    "dockerfile": "Dockerfile",
    "context": ".",
    "build_args": "",
    "secret_build_args": "",
    "include_paths": "",
    "ignore_paths": "",
}


def form(*rules: dict[str, str], no_cache: tuple[str, ...] = ()) -> MultiDictProxy[str]:
    """The body a browser sends for ``rules``, in order, keyed 1, 2 ..."""
    data: MultiDict[str] = MultiDict()
    for key, rule in enumerate(rules, start=1):
        data.add("rule_key", str(key))
        for name, value in {**BLANK, **rule}.items():
            data.add(f"rule_{name}", value)
    for key_text in no_cache:
        data.add("rule_no_cache", key_text)
    return MultiDictProxy(data)


def refused(*rules: dict[str, str]) -> RuleFieldError:
    with pytest.raises(RuleFieldError) as caught:
        rules_from_rows(read_rows(form(*rules)))
    assert caught.value.code == "INVALID_RULE"
    return caught.value


def test_every_option_reaches_the_api_model() -> None:
    typed = form(
        {"pattern": "main", "tag": "latest"},
        {
            "type": "tag",
            "pattern": "/v.+/",
            "build_args": "NODE_ENV=production\r\n\r\n  NPM_TOKEN = s3cr=t  \r\nEMPTY=",
            "secret_build_args": "NPM_TOKEN",
            "include_paths": "src/**\r\n\r\npackage.json",
            "ignore_paths": "*.md",
        },
        no_cache=("2",),
    )
    first, second = rules_from_rows(read_rows(typed)) or []
    assert (first.build_args, first.no_cache) == ({}, False)
    assert second.build_args == {"NODE_ENV": "production", "NPM_TOKEN": "s3cr=t", "EMPTY": ""}
    assert second.secret_build_args == ["NPM_TOKEN"]
    assert second.no_cache is True
    assert second.include_paths == ["src/**", "package.json"]
    assert second.ignore_paths == ["*.md"]


def test_no_cache_follows_its_rule_key_not_its_position() -> None:
    # The first rule was removed in the browser: keys 2 and 3 remain; only 3 is ticked.
    data: MultiDict[str] = MultiDict()
    for key, pattern in (("2", "main"), ("3", "dev")):
        data.add("rule_key", key)
        for name, value in {**BLANK, "pattern": pattern}.items():
            data.add(f"rule_{name}", value)
    data.add("rule_no_cache", "3")
    rows = read_rows(MultiDictProxy(data))
    assert [(row.pattern, row.no_cache) for row in rows] == [("main", False), ("dev", True)]


def test_secret_names_split_on_commas_and_spaces() -> None:
    typed = form({"pattern": "main", "build_args": "A=1\nB=2\nC=3", "secret_build_args": "A, B C"})
    [rule] = rules_from_rows(read_rows(typed)) or []
    assert rule.secret_build_args == ["A", "B", "C"]


def test_untouched_rows_are_left_out_and_none_means_the_defaults() -> None:
    assert read_rows(form(BLANK, BLANK)) == []
    assert rules_from_rows([]) is None
    # Options without a pattern are not dropped silently: the user is told.
    error = refused({"build_args": "A=1"})
    assert (error.row, error.field) == (0, "pattern")
    assert error.detail == "Rule 1, pattern: must not be empty"


def test_a_build_arg_line_without_equals_names_rule_field_and_line_not_its_text() -> None:
    error = refused({"pattern": "main"}, {"pattern": "dev", "build_args": "A=1\n\nTOKEN hunter2"})
    assert (error.row, error.field) == (1, "build_args")
    assert error.detail == "Rule 2, build args, line 3: write NAME=value"
    assert "hunter2" not in str(error)


def test_an_invalid_name_is_refused_by_the_api_rules() -> None:
    error = refused({"pattern": "main", "build_args": "MY-ARG=1"})
    assert (error.row, error.field) == (0, "build_args")
    assert error.detail == "Rule 1, build args: 'MY-ARG' is not a valid argument name"


def test_a_name_set_twice_is_refused() -> None:
    error = refused({"pattern": "main", "build_args": "A=1\nA=2"})
    assert error.detail == "Rule 1, build args, line 2: 'A' is set twice"


def test_a_secret_that_is_not_an_arg_is_refused() -> None:
    error = refused({"pattern": "main", "build_args": "A=1", "secret_build_args": "A, TOKEN"})
    assert (error.row, error.field) == (0, "secret_build_args")
    assert error.detail == "Rule 1, secret build args: 'TOKEN' is not in build_args"


def test_too_many_lines_are_refused() -> None:
    many = "\n".join(f"A{n}=x" for n in range(MAX_BUILD_ARGS + 1))
    error = refused({"pattern": "main", "build_args": many})
    assert error.detail == f"Rule 1, build args: at most {MAX_BUILD_ARGS}"
    globs = "\n".join(f"dir{n}/**" for n in range(51))
    error = refused({"pattern": "main", "ignore_paths": globs})
    assert error.field == "ignore_paths"
    assert error.detail == "Rule 1, ignored paths: at most 50 globs"


def test_a_value_too_long_names_the_argument() -> None:
    error = refused({"pattern": "main", "build_args": "A=" + "x" * 5000})
    assert error.detail == "Rule 1, build args A: longer than 4096"


def test_bad_glob_pattern_and_type_name_their_field() -> None:
    assert refused({"pattern": "main", "include_paths": "/"}).field == "include_paths"
    assert refused({"pattern": "/(open/"}).field == "pattern"
    assert refused({"pattern": "main", "type": "commit"}).detail == (
        "Rule 1, type: choose branch or tag"
    )
    too_long = refused({"pattern": "x" * 300})
    assert too_long.field == "pattern"
    assert too_long.detail.startswith("Rule 1, pattern: ")


def test_row_summary_matches_the_repository_page_wording() -> None:
    row = RuleRow(
        pattern="main",
        build_args="A=1\n\nB=2",
        secret_build_args="B",
        no_cache=True,
        include_paths="src/**",
        ignore_paths="*.md",
    )
    assert row.has_options
    assert row.summary == "2 build args (1 secret), no cache, 2 path filters"
    assert RuleRow(pattern="main").summary == "none"
    assert options_summary(1, 0, False, 1) == "1 build arg, 1 path filter"


class Stored:
    """A stored rule as the edit form reads it (``store.models.BuildRule``'s columns)."""

    def __init__(self, id: int, build_args: dict[str, str], secret: list[str]) -> None:
        self.id = id
        self.type, self.pattern, self.tag = "branch", "main", "latest"
        self.dockerfile, self.context = "Dockerfile", "."
        self.build_args: dict[str, object] = dict(build_args)
        self.secret_build_args: list[object] = list(secret)
        self.no_cache = True
        self.include_paths: list[object] = ["src/**"]
        self.ignore_paths: list[object] = ["*.md", "docs/"]


def test_a_stored_rule_prefills_the_edit_form_without_its_secret_values() -> None:
    row = row_from_rule(Stored(7, {"A": "1", "TOKEN": "hunter2"}, ["TOKEN"]))
    assert row.build_args == "A=1\nTOKEN="
    assert row.secret_build_args == "TOKEN"
    assert (row.rule_id, row.no_cache, row.ignore_paths) == ("7", True, "*.md\ndocs/")
    assert "hunter2" not in repr(row)


def test_an_empty_secret_value_keeps_only_its_own_stored_rules_secret() -> None:
    cipher = Cipher([generate_key().encode()])
    sealed = {"A": "1", "TOKEN": cipher.encrypt("hunter2")}  # as the service stores it
    stored = stored_secrets([Stored(7, sealed, ["TOKEN"]), Stored(8, {"B": "x"}, [])], cipher)
    assert stored == {"7": {"TOKEN": "hunter2"}, "8": {}}
    typed = {"pattern": "main", "build_args": "A=\nTOKEN=", "secret_build_args": "TOKEN"}
    data = form(typed, typed, {**typed, "build_args": "TOKEN=new"})
    ids = MultiDict(data)
    for rule_id in ("7", "", "7"):
        ids.add("rule_id", rule_id)
    rows = read_rows(MultiDictProxy(ids))
    assert [row.rule_id for row in rows] == ["7", "", "7"]
    kept, new, replaced = rules_from_rows(rows, stored) or []
    assert kept.build_args == {"A": "", "TOKEN": "hunter2"}  # A is not secret: emptied
    assert new.build_args == {"A": "", "TOKEN": ""}  # a new rule keeps nothing
    assert replaced.build_args == {"TOKEN": "new"}
    # Not marked secret on the form any more: its empty value is taken as typed.
    [plain] = (
        rules_from_rows(read_rows(_with_id({**typed, "secret_build_args": ""}, "7")), stored) or []
    )
    assert plain.build_args == {"A": "", "TOKEN": ""}


def _with_id(rule: dict[str, str], rule_id: str) -> MultiDictProxy[str]:
    data = MultiDict(form(rule))
    data.add("rule_id", rule_id)
    return MultiDictProxy(data)
