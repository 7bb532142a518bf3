"""The command line's one error class, for commands this package defines and those other
packages add (``cryptoscore_server.commands``): ``main`` prints its message as one line on
stderr and exits with status 2. Standard library only, so any package may raise it."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """A problem the user can fix (bad path, missing option, a dependency not installed,
    a server that cannot start), said in one line."""
