"""Numbers mean what they say (SPEC Part A 15): a value that is not a plain number of the
directive's kind is a line-numbered error; intervals and timeouts take fractions."""

from __future__ import annotations

import pytest

from tests.unit.config.helpers import cfg, errors

V = "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n"
SECONDS = "a number of seconds (write a number greater than 0, e.g. 5 or 1.5)"


@pytest.mark.parametrize(("line", "message"), [
    ("checkinterval=1m", f'invalid check interval value: "1m" is not {SECONDS}'),
    ("checkinterval=-5", f'invalid check interval value: "-5" is not {SECONDS}'),
    ("checktimeout=5s", f'invalid check timeout value: "5s" is not {SECONDS}'),
    ("negotiatetimeout=1e3", f'invalid negotiate timeout value: "1e3" is not {SECONDS}'),
    ("checktimeout=inf", f'invalid check timeout value: "inf" is not {SECONDS}'),
    ("checktimeout=1.", f'invalid check timeout value: "1." is not {SECONDS}'),
    ("checktimeout=0.0", "invalid check timeout value: must be greater than 0"),
    ("failurecount=-1", 'invalid failure count value: "-1" is not a whole number '
                        "(write a number from 1 to 999999999)"),
    ("failurecount=1.5", 'invalid failure count value: "1.5" is not a whole number '
                         "(write a number from 1 to 999999999)"),
    ("checkcount=2x", 'invalid check count value: "2x" is not a whole number '
                      "(write a number from 1 to 999999999)"),
    ("emailalertfreq=30s", 'invalid email alert frequency: "30s" is not a whole number '
                           "(write a number from 0 to 999999999)"),
    ("emailalertfreq=-1", 'invalid email alert frequency: "-1" is not a whole number '
                          "(write a number from 0 to 999999999)"),
])
def test_global_values_that_are_not_plain_numbers(line: str, message: str) -> None:
    assert errors(f"{line}\n" + V)[0] == f"ldirectord.cf:1: {line}: {message}"


@pytest.mark.parametrize(("line", "message"), [
    ("checkinterval=1m", f'invalid checkinterval: "1m" is not {SECONDS}'),
    ("checktimeout=-5", f'invalid check timeout: "-5" is not {SECONDS}'),
    ("negotiatetimeout=2 s", f'invalid negotiate timeout: "2 s" is not {SECONDS}'),
    ("failurecount=-1", 'invalid failure count: "-1" is not a whole number '
                        "(write a number from 1 to 999999999)"),
    ("checkcount=0x2", 'invalid check count: "0x2" is not a whole number '
                       "(write a number from 1 to 999999999)"),
    ("emailalertfreq=1h", 'invalid email alert frequency: "1h" is not a whole number '
                          "(write a number from 0 to 999999999)"),
    ("checkport=80a", 'invalid port: "80a" is not a whole number (write a number from 1 '
                      "to 65535)"),
    ("checkport=-80", 'invalid port: "-80" is not a whole number (write a number from 1 '
                      "to 65535)"),
    ("persistent=300s", 'invalid persistent timeout: "300s" is not a whole number '
                        "(write a number from 1 to 2678400)"),
    ("persistent=0", "invalid persistent timeout: 0 is out of range (1 to 2678400 seconds: "
                     "ipvsadm refuses 0 and more than 31 days)"),
    ("persistent=2678401", "invalid persistent timeout: 2678401 is out of range (1 to "
                           "2678400 seconds: ipvsadm refuses 0 and more than 31 days)"),
])
def test_per_virtual_values_that_are_not_plain_numbers(line: str, message: str) -> None:
    assert errors(V + f"\t{line}\n") == [f"ldirectord.cf:3: {line}: {message}"]


def test_fractional_seconds_mean_what_they_say() -> None:
    c = cfg("checkinterval=1.5\nchecktimeout=0.25\nnegotiatetimeout=2.75\n" + V
            + "virtual=10.0.0.1:81\n\treal=10.0.0.2:81 gate\n\tcheckinterval=0.5\n"
            "\tchecktimeout=1.25\n\tnegotiatetimeout=3.5\n")
    assert (c.checkinterval, c.checktimeout, c.negotiatetimeout) == (1.5, 0.25, 2.75)
    first, second = c.virtuals
    assert (first.checkinterval, first.checktimeout, first.negotiatetimeout) == (1.5, 0.25,
                                                                                  2.75)
    assert (second.checkinterval, second.checktimeout, second.negotiatetimeout) == (
        0.5, 1.25, 3.5)


def test_harmless_forms_the_original_accepted_still_work() -> None:
    # Leading zeros in a number, and (on a global line, where '#' is not a comment) a
    # '#' note after the number: the original read the digits, and so do we (warned).
    c = cfg("checkinterval=05 # five seconds\nfailurecount=003\n" + V
            + "\tcheckport=0081\n\temailalertfreq=060\n\tpersistent=0300\n")
    vs = c.virtuals[0]
    assert (c.checkinterval, c.failurecount) == (5.0, 3)
    assert (vs.checkport, vs.emailalertfreq, vs.persistent) == (81, 60, 300)
    assert [w.line for w in c.warnings] == [1]


def test_a_hash_note_is_not_allowed_to_hide_garbage() -> None:
    assert errors("checkinterval=5x # five\n" + V) == [
        f'ldirectord.cf:1: checkinterval=5x # five: invalid check interval value: "5x" is '
        f"not {SECONDS}; note: a '#' after a global directive is not a comment"]
