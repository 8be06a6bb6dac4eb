"""A side-by-side scenario: a config, steps with the table each must reach, declared differences.

A scenario is run twice, once by the Perl ldirectord and once by ours, on the same config and
the same real servers. Each step (the start, server stops and starts, file changes, reloads,
the final TERM) names the IPVS table both must reach; after it settles, the two tables and the
two sets of log lines (SPEC Part B §5.4) are compared. A difference is allowed only when the
scenario declares it by name, and every declarable difference maps to an item of SPEC Part A.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

START = "start"
TERM = "term"


class Who(Enum):
    """Which daemon a log line came from."""

    PERL = "perl"
    OURS = "ours"


@dataclass(frozen=True, slots=True)
class Declared:
    """A difference SPEC Part A decides: lines only one side logs, at some steps.

    `perl_only` / `ours_only` are regular expressions over normalised log lines; a line that
    only one side logged is excused when it matches one of that side's patterns at a step in
    `steps` (every step when empty; `reload` also covers `reload-<anything>`). A scenario
    may also name one as the reason the original's table differs at a step
    (`Scenario.perl_tables`).
    """

    name: str
    part_a: int
    why: str
    perl_only: tuple[str, ...] = ()
    ours_only: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()

    def applies(self, step: str) -> bool:
        return not self.steps or any(step == s or step.startswith(f"{s}-") for s in self.steps)

    def excuses(self, who: Who, step: str, line: str) -> bool:
        if not self.applies(step):
            return False
        patterns = self.perl_only if who is Who.PERL else self.ours_only
        return any(re.search(p, line) for p in patterns)


class Action(Enum):
    """What a step does to the world before waiting for the table."""

    NOTHING = "nothing"  # the start itself
    STOP = "stop"  # stop a lab server (host, kind)
    START = "start"  # start it again
    TOUCH = "touch"  # create a file in the scenario's folder (external flags, maintenance)
    REMOVE = "remove"  # delete it
    RELOAD = "reload"  # write `config` over the file and send HUP
    TERM = "term"  # send TERM and wait for the exit
    IPVSADM = "ipvsadm"  # change the table behind the daemon's back (`arg`: the arguments)


@dataclass(frozen=True, slots=True)
class Step:
    """One step: an action, then the table (compact text) both daemons must settle on.

    `table` lines are `PROT VIP SCHED [flags]` and `-> RIP FWD WEIGHT`, in any order; they
    may use the scenario's placeholders. `checks` is how many further checks of every real
    must be seen after the table matched before the step counts as settled.
    """

    name: str
    action: Action
    table: str
    arg: str = ""  # host:kind for STOP/START, a file name for TOUCH/REMOVE, the config for RELOAD
    checks: int = 2


@dataclass(frozen=True, slots=True)
class Scenario:
    """A config (with placeholders), its steps, the servers it needs and what may differ."""

    name: str
    config: str
    steps: tuple[Step, ...]
    declared: tuple[Declared, ...] = ()
    servers: tuple[str, ...] = ()  # fixture names providing placeholders (see conftest)
    initial: tuple[tuple[str, ...], ...] = ()  # ipvsadm argv run before each daemon starts
    #: (step, declared difference, the table Perl's original shows there instead)
    perl_tables: tuple[tuple[str, str, str], ...] = ()
    checked: bool = True  # False when no real is ever checked (checktype=on/off only)
    watch: str = ""  # a file in the scenario folder whose new lines count as log lines
