"""``buildsvc completion bash|zsh|fish``: the shell's completion script, from click.

Click completes through ``_BUILDSVC_COMPLETE=<shell>_source``; this command prints the
same script under a name people can find in ``--help``.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

PROG_NAME = "buildsvc"
COMPLETE_VAR = "_BUILDSVC_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script of SHELL.

    \b
    bash:  echo 'eval "$(buildsvc completion bash)"' >> ~/.bashrc
    zsh:   echo 'eval "$(buildsvc completion zsh)"' >> ~/.zshrc
    fish:  buildsvc completion fish > ~/.config/fish/completions/buildsvc.fish
    """
    ctx = click.get_current_context()
    complete = get_completion_class(shell)
    if complete is None:  # click ships these three; a Choice keeps out the rest
        raise click.UsageError(f"no completion for {shell}")
    root = ctx.find_root().command
    click.echo(complete(root, {}, PROG_NAME, COMPLETE_VAR).source())
