"""`make test` covers `make conformance`'s webhook half: the published examples."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.common.webhook_payloads import PAYLOADS
from tests.conformance import webhooks_examples


def test_every_published_example_parses_to_the_event_it_describes() -> None:
    assert webhooks_examples.check() == []


def examples_dir(root: Path, forge: str) -> Path:
    directory = root / "forge-examples" / forge / "webhooks"
    directory.mkdir(parents=True)
    return directory


def test_the_check_reports_an_example_that_is_not_what_its_name_says(tmp_path: Path) -> None:
    directory = examples_dir(tmp_path, "github")
    # an ordinary branch push, named as a branch creation and as a tag push
    shutil.copy(
        PAYLOADS / "github" / "push_branch.json", directory / "push.branch-created.test.json"
    )
    shutil.copy(PAYLOADS / "github" / "push_branch.json", directory / "push.tag.test.json")
    failures = [
        failure
        for path in webhooks_examples.example_files(tmp_path)
        for failure in webhooks_examples.check_file(path)
    ]
    assert any("push.branch-created.test.json: created is False" in f for f in failures)
    assert any("push.tag.test.json: ref_type is 'branch'" in f for f in failures)


def test_a_missing_examples_directory_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILDSVC_SHARED_DIR", str(tmp_path))
    (failure,) = webhooks_examples.check()
    assert "found 0 webhook examples" in failure


def test_an_unknown_event_name_is_a_failure_not_a_pass(tmp_path: Path) -> None:
    directory = examples_dir(tmp_path, "gitlab")
    shutil.copy(PAYLOADS / "gitlab" / "push.json", directory / "note.test.json")
    (failure,) = webhooks_examples.check_file(directory / "note.test.json")
    assert "no X-Gitlab-Event known for 'note'" in failure
