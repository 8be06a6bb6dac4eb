"""Value converters for directives: each returns a typed value or raises `Invalid`.

Numbers are plain (SPEC Part A 15, replacing the original's "first run of digits"): a
time is decimal digits with an optional fraction (`5`, `1.5`), a count is decimal digits;
leading zeros are harmless and allowed, anything else (`1m`, `-5`, `1e3`) is an error that
says what is allowed. Messages start with the original's wording where SPEC gives it.
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
    """The first run of digits in `value` (the original's `/(\\d+)/`, for the forms that
    are digits by their pattern already: a firewall mark, a checktype number)."""
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


_SECONDS = re.compile(r"([0-9]+)(?:\.[0-9]+)?", re.ASCII)
_WHOLE = re.compile(r"[0-9]+", re.ASCII)
_GLOBAL_NOTE = re.compile(r"\s+#.*", re.DOTALL)
MAX_COUNT: Final = 10**_MAX_DIGITS - 1


def without_note(value: str) -> str:
    """A global number's value without a trailing ` # ...` (the original read only the
    digits, so `checkinterval=5 # five` worked; the builder warns about it)."""
    m = _GLOBAL_NOTE.search(value)
    return value[: m.start()] if m else value


def seconds(value: str, message: str) -> float:
    """A time in seconds greater than 0: `5`, `1.5`, `0.25`."""
    m = _SECONDS.fullmatch(value)
    if not m:
        raise Invalid(f'{message}: "{value}" is not a number of seconds (write a number '
                      "greater than 0, e.g. 5 or 1.5)")
    if len(m.group(1).lstrip("0")) > _MAX_DIGITS:
        raise Invalid(f"{message}: {value} is too large")
    number = float(value)
    if number <= 0:
        raise Invalid(f"{message}: must be greater than 0")
    return number


def is_whole(value: str) -> bool:
    return _WHOLE.fullmatch(value) is not None


def whole(value: str, message: str, low: int = 0, high: int = MAX_COUNT,
          out_of_range: str | None = None) -> int:
    """A whole number in [low, high], written as plain decimal digits."""
    if not _WHOLE.fullmatch(value):
        raise Invalid(f'{message}: "{value}" is not a whole number (write a number from '
                      f"{low} to {high})")
    digits = value.lstrip("0") or "0"
    if len(digits) > len(str(high)) or not low <= int(digits) <= high:
        if out_of_range is not None:
            raise Invalid(f"{message}: {digits} is out of range ({out_of_range})")
        if low == 1 and digits == "0":
            raise Invalid(f"{message}: must be greater than 0")
        raise Invalid(f"{message}: {digits} is out of range ({low} to {high})")
    return int(digits)


def count(value: str, message: str) -> int:
    """A count of 1 or more (failurecount, checkcount)."""
    return whole(value, message, 1)


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


def shell_command(value: str, message: str) -> str:
    """A command for `/bin/sh -c`: quotes around the whole value are removed (as the shell
    would remove them), quotes inside it are left to the shell; must not be empty."""
    m = re.fullmatch(r'"([^"]*)"', value)
    return nonempty(m.group(1) if m else value, message)


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
