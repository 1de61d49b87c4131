"""``buildsvc completion bash|zsh|fish``: scripts that complete through click."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from buildsvc.cli import main


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_that_calls_back_buildsvc(shell: str) -> None:
    result = CliRunner().invoke(main, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert f"_BUILDSVC_COMPLETE={shell}_complete" in result.stdout


def test_the_scripts_protocol_completes_commands_and_subcommands() -> None:
    def complete(words: str) -> list[str]:
        env = {
            "_BUILDSVC_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        }
        result = CliRunner().invoke(main, [], prog_name="buildsvc", env=env)
        assert result.exit_code == 0, result.output
        return [line.split(",", 1)[1] for line in result.stdout.splitlines()]

    assert complete("buildsvc bui") == ["builds"]
    assert complete("buildsvc builds re") == ["rerun"]
    assert complete("buildsvc completion ") == ["bash", "zsh", "fish"]


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["completion", "tcsh"])
    assert result.exit_code == 2
    assert "tcsh" in result.stderr
