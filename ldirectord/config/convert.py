"""Value converters for directives: each returns a typed value or raises `Invalid`.

The numeric converters follow the original: a value is read from the first run of digits
in it (`checkinterval=5s` is 5), and "positive" ones refuse 0. Messages use the
original's wording where SPEC gives it.
"""

from __future__ import annotations

import re
from typing import Final

from ldirectord.config.model import ALL_DAEMON_STATES, DaemonState

_DIGITS = re.compile(r"\d+", re.ASCII)
_QUOTED = re.compile(r'"(.*)"', re.DOTALL)
_MAX_DIGITS: Final = 9  # more is a typo, not a timeout; also keeps int() cheap


_LABEL_MAX: Final = 80


def label(text: str) -> str:
    """A directive line as quoted at the start of a message (long ones shortened)."""
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 3] + "..."


class Invalid(Exception):
    """A directive's value is wrong; the message says what is allowed."""


def first_number(value: str, message: str, *, positive: bool = False) -> int:
    """The first run of digits in `value` (the original's `/(\\d+)/`)."""
    m = _DIGITS.search(value)
    if not m:
        raise Invalid(message)
    digits = m.group().lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        raise Invalid(f"{message}: {m.group()} is too large")
    number = int(digits)
    if positive and number == 0:
        raise Invalid(f"{message}: must be greater than 0")
    return number


def leading_number(value: str, message: str) -> int:
    """Digits at the very start of `value` (the original's `=\\s*(\\d*)` forms)."""
    m = _DIGITS.match(value)
    if not m:
        raise Invalid(message)
    return first_number(m.group(), message)


def plain_number(value: str, message: str, low: int, high: int) -> int:
    """A value that must be just digits within [low, high]."""
    if not (value.isascii() and value.isdigit()):
        raise Invalid(message)
    digits = value.lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS or not low <= int(digits) <= high:
        raise Invalid(message)
    return int(digits)


def yes_no(name: str, value: str) -> bool:
    if value == "yes":
        return True
    if value == "no":
        return False
    hint = ""
    if "#" in value:
        hint = " (a '#' comment must be on a line of its own here)"
    elif value.lower() in ("yes", "no"):
        hint = " (lower case)"
    raise Invalid(f"{name} must be 'yes' or 'no'{hint}")


def quoted(name: str, value: str) -> str:
    """The text between the first and the last double quote (quotes required)."""
    m = _QUOTED.match(value)
    if not m:
        raise Invalid(f'the value must be in double quotes ({name}="...")')
    return m.group(1)


def quoted_nonempty(name: str, value: str, message: str) -> str:
    text = quoted(name, value)
    if not text:
        raise Invalid(message)
    return text


def optionally_quoted(value: str) -> str:
    """`"x"` -> `x`, anything else as written (the `"(.*)"` or `(.*)` directive forms)."""
    m = _QUOTED.match(value)
    return m.group(1) if m else value


def nonempty(value: str, message: str) -> str:
    if not value:
        raise Invalid(message)
    return value


def email_addresses(value: str) -> str:
    """read_emailalert: enclosing quotes stripped; must not be empty."""
    m = re.fullmatch(r'"([^"]*)"', value)
    text = m.group(1) if m else value
    if not text:
        raise Invalid("no email address specified")
    return text


_STATES: Final[dict[str, frozenset[DaemonState]]] = {
    "all": ALL_DAEMON_STATES,
    **{s.value: frozenset({s}) for s in DaemonState},
}


def email_alert_status(value: str) -> frozenset[DaemonState]:
    """parse_emailalertstatus: `all`, `none`, or a comma list of daemon states."""
    words = re.split(r"\s*,\s*", value) if value else []
    while words and words[-1] == "":
        words.pop()  # Perl's split drops trailing empty fields
    has_none = "none" in words
    states: set[DaemonState] = set()
    for word in words:
        if word == "none":
            continue
        if word not in _STATES:
            raise Invalid(f'invalid email alert status at: "{word}" '
                          "(allowed: all, none, starting, running, stopping, reloading)")
        if has_none:
            raise Invalid(f'invalid email alert status: "{word}" specified with "none"')
        states |= _STATES[word]
    return frozenset(states)
