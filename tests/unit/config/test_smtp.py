"""`smtp=`: host, host:port, [v6], [v6]:port and a bare IPv6 literal; nothing is cut off."""

from __future__ import annotations

import pytest

from ldirectord.config import parse
from ldirectord.config.smtp import smtp_address
from ldirectord.errors import ConfigError
from tests.unit.config.helpers import FakeSystem

V = "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n"


def smtp_of(value: str) -> str | None:
    return parse(f"smtp={value}\n" + V, "t.cf", hostname="h", system=FakeSystem()).smtp


@pytest.mark.parametrize(("value", "stored", "split"), [
    ("mail.example.com", "mail.example.com", ("mail.example.com", None)),
    ("mail.example.com:2525", "mail.example.com:2525", ("mail.example.com", 2525)),
    ("127.0.0.1", "127.0.0.1", ("127.0.0.1", None)),
    ("127.0.0.1:8025", "127.0.0.1:8025", ("127.0.0.1", 8025)),
    ("[2001:db8::25]", "[2001:db8::25]", ("2001:db8::25", None)),
    ("[2001:DB8:0::25]:587", "[2001:db8::25]:587", ("2001:db8::25", 587)),
    ("2001:db8::25", "[2001:db8::25]", ("2001:db8::25", None)),
    ("::1", "[::1]", ("::1", None)),
])
def test_accepted_forms(value: str, stored: str, split: tuple[str, int | None]) -> None:
    assert smtp_of(value) == stored
    assert smtp_address(stored) == split


def test_per_virtual_smtp_keeps_its_port() -> None:
    c = parse(V + "\tsmtp=relay.example:2525\n", "t.cf", hostname="h", system=FakeSystem())
    assert c.virtuals[0].smtp == "relay.example:2525"


@pytest.mark.parametrize(("value", "message"), [
    ("127.0.0.1:80x", 'invalid SMTP server address "127.0.0.1:80x": the port must be a '
                      "number 1-65535"),
    ("127.0.0.1:0", 'invalid SMTP server address "127.0.0.1:0": the port must be a '
                    "number 1-65535"),
    ("127.0.0.1:65536", 'invalid SMTP server address "127.0.0.1:65536": the port must be '
                        "a number 1-65535"),
    ("127.0.0.1:", 'invalid SMTP server address "127.0.0.1:": the port must be a number '
                   "1-65535"),
    ("mail.example.com extra", 'invalid SMTP server address "mail.example.com extra": '
                               "write host, host:port, [IPv6 address] or "
                               "[IPv6 address]:port"),
    ("a,b", 'invalid SMTP server address "a,b": write host, host:port, [IPv6 address] or '
            "[IPv6 address]:port"),
    ("[2001:db8::zz]:25", 'invalid SMTP server address "[2001:db8::zz]:25": '
                          "2001:db8::zz is not an IPv6 address"),
    ("2001:db8::25:x", 'invalid SMTP server address "2001:db8::25:x": write host, '
                       "host:port, [IPv6 address] or [IPv6 address]:port"),
    ("10.0.0.300", 'invalid SMTP server address "10.0.0.300": 10.0.0.300 is not an IPv4 '
                   "address"),
])
def test_anything_else_is_an_error_not_a_truncation(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        smtp_of(value)
    assert [(m.line, m.message) for m in info.value.errors] == [(1, f"smtp={value}: {message}")]
