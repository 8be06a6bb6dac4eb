"""Command line: argv -> action, with the original's options, exit codes and usage text.

    ldirectord [-d|--debug] [--dry-run] [--] [configfile] start|stop|restart|try-restart|
               reload|force-reload|status
    ldirectord -t|--test [configfile]        validate a config file
    ldirectord --probe [configfile]          run every check once and print the results
    ldirectord --ipvs-dump                   print the kernel table as `ipvsadm -Ln` does
    ldirectord -h|-?|--help    ldirectord -v|--version

Options are parsed by `ldirectord.invocation`; each action lives in a module of this
package: `lifecycle` (start, stop, status, ...), `validate` (-t), `probe` (--probe) and
`ipvs_dump` (--ipvs-dump).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ldirectord import COMPAT_VERSION, __version__
from ldirectord.cli.ipvs_dump import run_dump
from ldirectord.cli.lifecycle import run_action
from ldirectord.cli.probe import run_probe
from ldirectord.cli.validate import run_test
from ldirectord.invocation import ExitCode, Flag, UsageError, parse_argv
from ldirectord.paths import DEFAULT_CONFIG

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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        inv = parse_argv(args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        sys.stdout.write(USAGE)
        return ExitCode.USAGE
    if Flag.HELP in inv.flags:
        sys.stdout.write(USAGE)
        return ExitCode.OK
    if Flag.VERSION in inv.flags:
        sys.stdout.write(VERSION_TEXT)
        return ExitCode.OK
    if Flag.TEST in inv.flags:
        if len(inv.args) > 1:
            sys.stdout.write(USAGE)
            return ExitCode.USAGE
        return run_test(inv.args[0] if inv.args else DEFAULT_CONFIG)
    if Flag.IPVS_DUMP in inv.flags:
        return run_dump(dry_run=Flag.DRY_RUN in inv.flags)
    if Flag.PROBE in inv.flags:
        return run_probe(inv.args[0] if inv.args else DEFAULT_CONFIG)
    if inv.action is None:
        sys.stdout.write(USAGE)
        return ExitCode.USAGE
    return run_action(inv, args)
