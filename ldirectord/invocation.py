"""What a command line asks for and answers: argv parsed into flags and words, exit codes.

Options are GNU style with bundling, no abbreviation, and must precede the first
non-option (`--` ends them), as the original's Getopt configuration does. The daemon
reads its own and other processes' command lines with the same parser (pid files,
sub-instances), so it sits below everything that runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """Every exit status an invocation ends with (the original's, SPEC Part B §1.4)."""

    OK = 0
    FAILURE = 1  # not found, not running, did not stop, a probed real down, ...
    STALE = 1  # status: a pid file naming no live daemon
    INVALID = 2  # config errors, a service without a checker, no usable IPVS
    STOPPED = 3  # status: not running
    NOT_RUN = 127  # a sub-instance's command could not be run, as system() reports it
    USAGE = 255


class Action(StrEnum):
    """The lifecycle actions, as typed on the command line."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    TRY_RESTART = "try-restart"
    RELOAD = "reload"
    FORCE_RELOAD = "force-reload"
    STATUS = "status"


class Flag(StrEnum):
    """The options; a value is the long option's name without the dashes."""

    DEBUG = "debug"
    HELP = "help"
    VERSION = "version"
    TEST = "test"
    DRY_RUN = "dry-run"
    PROBE = "probe"
    IPVS_DUMP = "ipvs-dump"


_LONG = {f"--{flag.value}": flag for flag in Flag}
_SHORT = {"d": Flag.DEBUG, "h": Flag.HELP, "?": Flag.HELP, "v": Flag.VERSION,
          "t": Flag.TEST}
_ACTIONS = {action.value: action for action in Action}


class UsageError(Exception):
    """An option this program does not know; the message names it as the original does."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """What the command line asked for: its options and the words after them."""

    flags: frozenset[Flag]
    args: tuple[str, ...]

    @property
    def action(self) -> Action | None:
        """The action of an action line (`[config] action`); None for any other words."""
        if not 1 <= len(self.args) <= 2:
            return None
        return _ACTIONS.get(self.args[-1])


def parse_argv(argv: Sequence[str]) -> Invocation:
    """The options and words of `argv` (without argv[0]); UsageError for an unknown option."""
    flags: set[Flag] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            if arg not in _LONG:
                raise UsageError(f"Unknown option: {arg[2:]}")
            flags.add(_LONG[arg])
        elif arg.startswith("-") and len(arg) > 1:
            for ch in arg[1:]:
                if ch not in _SHORT:
                    raise UsageError(f"Unknown option: {ch}")
                flags.add(_SHORT[ch])
        else:
            break
        i += 1
    return Invocation(frozenset(flags), tuple(argv[i:]))
