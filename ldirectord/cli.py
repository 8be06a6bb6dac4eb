"""Command line: argv -> action, with the original's options, exit codes and usage text.

    ldirectord [-d|--debug] [--dry-run] [--] [configfile] start|stop|restart|try-restart|
               reload|force-reload|status
    ldirectord -t|--test [configfile]        validate a config file
    ldirectord --probe [configfile]          run every check once and print the results
    ldirectord --ipvs-dump                   print the kernel table as `ipvsadm -Ln` does
    ldirectord -h|-?|--help    ldirectord -v|--version

Options are GNU style with bundling, no abbreviation, and must precede the first
non-option (`--` ends them), as the original's Getopt configuration does.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ldirectord import COMPAT_VERSION, __version__

EXIT_USAGE = 255

ACTIONS = ("start", "stop", "restart", "try-restart", "reload", "force-reload", "status")

USAGE = """\
Usage:
    ldirectord [-d|--debug] [--dry-run] [--] [ldirectord.cf]
               start|stop|restart|try-restart|reload|force-reload|status
    ldirectord [-t|--test] [ldirectord.cf]
    ldirectord --probe [ldirectord.cf]
    ldirectord --ipvs-dump
    ldirectord [-h|-?|--help]
    ldirectord [-v|--version]

Options:
    -d, --debug     Stay in the foreground and log to stderr. Where the kernel has no
                    IPVS (or with --dry-run) the table is kept in memory and every change
                    is printed as the ipvsadm command it stands for.
    --dry-run       Use the in-memory IPVS table; never touch the kernel.
    -t, --test      Check the configuration file and exit: 0 valid, 2 invalid, 1 not found.
    --probe         Run every configured check once and print one line per real server.
    --ipvs-dump     Print the kernel's IPVS table exactly as `ipvsadm -Ln` does.
    -h, -?, --help  Show this help.
    -v, --version   Show the version.

Environment:
    LDIRECTORD_RUNDIR   Directory of the pid files (default /var/run).
    LDIRECTORD_IPVS     Force an IPVS backend: netlink, ipvsadm or memory.
"""

VERSION_TEXT = f"""\
ldirectord {__version__} (Python), compatible with {COMPAT_VERSION}
1999-2006 Jacob Rief, Horms and others (original Perl ldirectord)

ldirectord comes with ABSOLUTELY NO WARRANTY.
This is free software, and you are welcome to redistribute it
under certain conditions. See the GNU General Public Licence for details.
"""

_LONG = {"--debug": "d", "--help": "h", "--version": "v", "--test": "t",
         "--dry-run": "dry-run", "--probe": "probe", "--ipvs-dump": "ipvs-dump"}
_SHORT = {"d": "d", "h": "h", "?": "h", "v": "v", "t": "t"}


class UsageError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Invocation:
    """What the command line asked for."""

    flags: frozenset[str]
    args: tuple[str, ...]


def parse_argv(argv: Sequence[str]) -> Invocation:
    flags: set[str] = set()
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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        inv = parse_argv(args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        sys.stdout.write(USAGE)
        return EXIT_USAGE
    if "h" in inv.flags:
        sys.stdout.write(USAGE)
        return 0
    if "v" in inv.flags:
        sys.stdout.write(VERSION_TEXT)
        return 0
    if "t" in inv.flags:
        if len(inv.args) > 1:
            sys.stdout.write(USAGE)
            return EXIT_USAGE
        from ldirectord.config.check import run_test

        return run_test(inv.args[0] if inv.args else "ldirectord.cf")
    if "ipvs-dump" in inv.flags:
        from ldirectord.ipvs.dump import run_dump

        return run_dump(dry_run="dry-run" in inv.flags)
    if "probe" in inv.flags:
        from ldirectord.runtime.probe import run_probe

        return run_probe(inv.args[0] if inv.args else "ldirectord.cf")
    if not inv.args or len(inv.args) > 2 or inv.args[-1] not in ACTIONS:
        sys.stdout.write(USAGE)
        return EXIT_USAGE
    from ldirectord.runtime.actions import run_action

    return run_action(inv, args)


if __name__ == "__main__":
    sys.exit(main())
