"""Fixed wall clocks for the tests of what the daemon stamps with the date and time.

Each `WallCase` is a moment (seconds since the epoch), the time zone and the locale to
show it in, and what the original's stamp (Perl's `scalar localtime`) reads there. The cases
cover the days the stamp pads (1-9), a two-digit day, the end of a month and of a year
(the stamps of one test cross midnight), a zone east of UTC with a half-hour offset and a
zone with summer time under a German locale (month and day names stay English, as Perl's
do). `fixed_wall` sets the process's zone and locale and makes `time.time()` return the
case's moment plus what the test's own clock has advanced: the log stamps read the wall
clock themselves, and the mail tests keep the mailer's default wall clock (`time.time`)
so that the default is what they test.
"""

from __future__ import annotations

import locale
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Where a generated locale is kept between runs (localedef takes seconds).
LOCALES = Path(__file__).resolve().parents[2] / ".work" / "locales"
GERMAN = "de_DE.UTF-8"


@dataclass(frozen=True)
class WallCase:
    """A moment, the zone and locale it is shown in, and its stamps at +0, +5, +10, +15 s."""

    name: str
    epoch: int
    tz: str  # a POSIX TZ string: no tzdata needed
    stamps: tuple[str, str, str, str]
    date_header: str  # email.utils.formatdate(epoch + 15, localtime=True)
    lang: str = "C"


CASES = (
    WallCase("day-6", 1796544630, "UTC0",
             ("Sun Dec  6 08:10:30 2026", "Sun Dec  6 08:10:35 2026",
              "Sun Dec  6 08:10:40 2026", "Sun Dec  6 08:10:45 2026"),
             "Sun, 06 Dec 2026 08:10:45 +0000"),
    WallCase("day-23", 1795421430, "UTC0",
             ("Mon Nov 23 08:10:30 2026", "Mon Nov 23 08:10:35 2026",
              "Mon Nov 23 08:10:40 2026", "Mon Nov 23 08:10:45 2026"),
             "Mon, 23 Nov 2026 08:10:45 +0000"),
    WallCase("month-end", 1796083195, "UTC0",
             ("Mon Nov 30 23:59:55 2026", "Tue Dec  1 00:00:00 2026",
              "Tue Dec  1 00:00:05 2026", "Tue Dec  1 00:00:10 2026"),
             "Tue, 01 Dec 2026 00:00:10 +0000"),
    WallCase("year-end", 1798761595, "UTC0",
             ("Thu Dec 31 23:59:55 2026", "Fri Jan  1 00:00:00 2027",
              "Fri Jan  1 00:00:05 2027", "Fri Jan  1 00:00:10 2027"),
             "Fri, 01 Jan 2027 00:00:10 +0000"),
    WallCase("east-half-hour", 1796668195, "IST-5:30",  # 18:29:55 UTC: the next local day
             ("Mon Dec  7 23:59:55 2026", "Tue Dec  8 00:00:00 2026",
              "Tue Dec  8 00:00:05 2026", "Tue Dec  8 00:00:10 2026"),
             "Tue, 08 Dec 2026 00:00:10 +0530"),
    WallCase("summer-time-german", 1785535195, "CET-1CEST,M3.5.0,M10.5.0/3",
             ("Fri Jul 31 23:59:55 2026", "Sat Aug  1 00:00:00 2026",
              "Sat Aug  1 00:00:05 2026", "Sat Aug  1 00:00:10 2026"),
             "Sat, 01 Aug 2026 00:00:10 +0200", GERMAN),
)
IDS = [c.name for c in CASES]


def locale_path(lang: str) -> Path:
    """A folder holding `lang` compiled (LOCPATH), made once with localedef."""
    target = LOCALES / lang
    if not (target / "LC_TIME").exists():
        LOCALES.mkdir(parents=True, exist_ok=True)
        name, charset = lang.split(".")
        done = subprocess.run(["localedef", "-i", name, "-f", charset,
                               str(target)], capture_output=True, text=True, check=False)
        # localedef warns (exit 1) about harmless details; what counts is the result.
        if not (target / "LC_TIME").exists():
            pytest.fail(f"localedef {lang}: {done.stderr.strip()} (Debian package: locales)")
    return LOCALES


@contextmanager
def zone_and_locale(case: WallCase) -> Iterator[None]:
    """The process's TZ and LC_ALL set to the case's, and restored after."""
    saved = {k: os.environ.get(k) for k in ("TZ", "LOCPATH", "LC_ALL")}
    saved_locale = locale.setlocale(locale.LC_ALL)
    try:
        os.environ["TZ"] = case.tz
        time.tzset()
        if case.lang != "C":
            os.environ["LOCPATH"] = str(locale_path(case.lang))
            os.environ["LC_ALL"] = case.lang
            locale.setlocale(locale.LC_ALL, case.lang)
            # Proof that the locale is in force: strftime now names the month in German.
            assert time.strftime("%B", time.localtime(case.epoch)) in ("Juli", "August")
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        locale.setlocale(locale.LC_ALL, saved_locale)
        time.tzset()


def perl_env(case: WallCase) -> dict[str, str]:
    """The environment a subprocess needs to see the case's zone and locale."""
    env = {**os.environ, "TZ": case.tz, "LC_ALL": case.lang}
    if case.lang != "C":
        env["LOCPATH"] = str(locale_path(case.lang))
    return env


@contextmanager
def fixed_wall(case: WallCase, elapsed: Callable[[], float] = lambda: 0.0) -> Iterator[None]:
    """`time.time()` is the case's moment plus `elapsed()`, in the case's zone and locale."""
    with zone_and_locale(case), pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: case.epoch + elapsed())
        yield
