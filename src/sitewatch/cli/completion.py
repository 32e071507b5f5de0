"""``sitewatch completion bash|zsh|fish``: the script that makes the shell complete sitewatch's command lines."""

from __future__ import annotations

import click

from ..errors import ConfigError
from .options import OnceCommand, handle_errors

SHELLS = ("bash", "zsh", "fish")
"""The shells click writes a completion script for."""

COMPLETE_VAR = "_SITEWATCH_COMPLETE"
"""The environment variable the script sets when it asks ``sitewatch`` for completions."""


@click.command("completion", cls=OnceCommand, short_help="Print the shell's completion script for sitewatch.")
@click.argument("shell", type=click.Choice(SHELLS))
@handle_errors
def command(shell: str) -> None:
    """Print the script that makes SHELL complete sitewatch's commands, options and their choices, and the
    workspace's site and observation ids (from -w, else SITEWATCH_WORKSPACE, else the current folder).

    \b
    Install it once:
      bash (4.4 or later), in ~/.bashrc:   eval "$(sitewatch completion bash)"
      zsh, in ~/.zshrc (after compinit):   eval "$(sitewatch completion zsh)"
      fish:   sitewatch completion fish > ~/.config/fish/completions/sitewatch.fish

    Then open a new shell. Completion only reads the workspace's sitewatch.gpkg, read-only; it offers no ids
    for a PostGIS team store, or for a database an older sitewatch made until a command has migrated it.
    """
    from click.shell_completion import get_completion_class

    from . import main

    cls = get_completion_class(shell)
    if cls is None:  # click registers all three; a future click without one of them
        raise ConfigError(f"the click installed writes no completion script for {shell}; upgrade click")
    click.echo(cls(main, {}, "sitewatch", COMPLETE_VAR).source())
