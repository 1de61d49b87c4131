"""Commit status names: readable, one per image repository and rule, stable, bounded."""

from __future__ import annotations

from buildsvc.builds.status_context import MAX_LENGTH, image_context, rule_contexts
from buildsvc.intake.triggers import StoredRule


def rule(rule_id: int, pattern: str = "main", tag: str = "latest", **changes: str) -> StoredRule:
    values = {"type": "branch", "dockerfile": "Dockerfile", "context": ".", **changes}
    return StoredRule(
        id=rule_id,
        type=values["type"],
        pattern=pattern,
        tag=tag,
        dockerfile=values["dockerfile"],
        context=values["context"],
        build_args={},
        secret_build_args=(),
        no_cache=False,
        include_paths=(),
        ignore_paths=(),
    )


def test_each_rule_has_its_own_readable_name() -> None:
    rules = [
        rule(7),
        rule(8, "/release-.+/", "{branch},{short_sha}"),
        rule(9, "v1", "{tag}", type="tag"),
        rule(10, dockerfile="docker/api.Dockerfile", context="api"),
    ]
    assert rule_contexts("team", "app", rules) == {
        7: "buildsvc/team/app:latest (branch main)",
        8: "buildsvc/team/app:{branch},{short_sha} (branch /release-.+/)",
        9: "buildsvc/team/app:{tag} (tag v1)",
        10: "buildsvc/team/app:latest (branch main, docker/api.Dockerfile, context api)",
    }
    assert image_context("team", "app") == "buildsvc/team/app"


def test_names_stay_when_rules_are_replaced_or_others_change() -> None:
    before = rule_contexts("team", "app", [rule(1), rule(2, "dev", "dev")])
    # A PATCH replaces every rule (new ids) and drops one: the kept rule keeps its name.
    after = rule_contexts("team", "app", [rule(5, "dev", "dev")])
    assert after[5] == before[2]


def test_alike_rules_are_told_apart_and_other_images_too() -> None:
    named = rule_contexts("team", "app", [rule(1), rule(2), rule(3, "dev")])
    assert named[2] == named[1] + " #2"
    assert len(set(named.values())) == 3
    assert rule_contexts("team", "web", [rule(1)])[1] != named[1]


def test_long_names_are_cut_but_stay_apart() -> None:
    long = "x" * 200
    named = rule_contexts("team", "app", [rule(1, long), rule(2, long + "y")])
    assert all(len(name) == MAX_LENGTH for name in named.values())
    assert named[1] != named[2]
    assert named[1].startswith("buildsvc/team/app:latest (branch xxx")
    assert rule_contexts("team", "app", [rule(1, long)]) == {1: named[1]}  # stable
