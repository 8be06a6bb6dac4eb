"""IPv4 literals mean what they say: inet_aton's octal, hex and short forms are errors
(SPEC Part A 15), wherever an address is read; host names still resolve."""

from __future__ import annotations

import pytest

from ldirectord.config import parse
from ldirectord.config.addresses import ambiguous_ipv4
from ldirectord.config.model import Config
from ldirectord.config.resolve import RealSystem
from ldirectord.errors import ConfigError

V = "virtual=10.0.0.1:80\n"
R = "\treal=10.0.0.2:80 gate\n"


def real_cfg(text: str) -> Config:
    """Parsed with the machine's resolver: the one that reads inet_aton forms."""
    return parse(text, "t.cf", hostname="h.example", system=RealSystem())


def errors(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ConfigError) as info:
        real_cfg(text)
    return [(m.line, m.message) for m in info.value.errors]


LEADING_ZERO = ("a part with a leading zero is octal to some programs (010 is 8); write "
                "four decimal numbers 0-255 without leading zeros (a.b.c.d)")


@pytest.mark.parametrize(("name", "reason"), [
    ("010.0.0.1", "a part with a leading zero is octal to some programs (010 is 8)"),
    ("10.0.0.01", "a part with a leading zero is octal to some programs (01 is 1)"),
    ("0x7f.1", "hexadecimal parts are not IPv4 address notation"),
    ("0x7f000001", "hexadecimal parts are not IPv4 address notation"),
    ("127.1", "it has 2 parts; an IPv4 address has four"),
    ("2130706433", "it has 1 part; an IPv4 address has four"),
    ("10.0.0", "it has 3 parts; an IPv4 address has four"),
])
def test_inet_aton_forms_are_named(name: str, reason: str) -> None:
    assert ambiguous_ipv4(name) == reason


@pytest.mark.parametrize("name", ["10.0.0.1", "0.0.0.0", "255.255.255.255", "10.0.0.300",
                                  "web.example", "10.0.0.1.example", "localhost", "0xdead.example"])
def test_plain_addresses_and_host_names_are_not_ambiguous(name: str) -> None:
    assert ambiguous_ipv4(name) is None


@pytest.mark.parametrize("name", ["010.0.0.1", "0x7f.1", "127.1", "2130706433",
                                  "::ffff:10.0.0.1"])
def test_the_resolver_never_reinterprets_an_ipv4_form(name: str) -> None:
    assert RealSystem().host(name, False) is None


def test_a_leading_zero_in_the_fixed_part_of_a_range_is_a_line_numbered_error() -> None:
    # It used to raise an uncaught AddressValueError.
    assert errors(V + "\treal=010.0.0.[1-2]:80 gate\n") == [
        (2, f'real=010.0.0.[1-2]:80 gate: invalid address (010.0.0.1) for real server: '
            f'ambiguous IPv4 address "010.0.0.1": {LEADING_ZERO}')]


@pytest.mark.parametrize(("line", "bad"), [
    ("real=010.0.0.1:80 gate", "010.0.0.1"),
    ("real=10.0.0.1->010.0.0.9:80 gate", "010.0.0.9"),
    ("real=010.0.0.1->10.0.0.9:80 gate", "010.0.0.1"),
    ("real=10.0.0.[01-2]:80 gate", "10.0.0.01"),
    ("real=10.0.0.[1-09]:80 gate", "10.0.0.09"),
    ("real=0x7f.1:80 gate", "0x7f.1"),
    ("real=127.1:80 gate", "127.1"),
    ("fallback=010.0.0.9:80", "010.0.0.9"),
])
def test_every_address_of_a_section_is_checked(line: str, bad: str) -> None:
    [(lineno, message)] = errors(V + R + f"\t{line}\n")
    assert lineno == 3
    assert f'ambiguous IPv4 address "{bad}": ' in message
    assert message.startswith(f"{line}: ")


@pytest.mark.parametrize(("text", "bad"), [
    ("virtual=010.0.0.1:80\n" + R, "010.0.0.1"),
    ("virtual=0x0a000001:80\n" + R, "0x0a000001"),
    ("virtual=10.1:80\n" + R, "10.1"),
    ("fallback=010.0.0.9:80\n" + V + R, "010.0.0.9"),
    ("smtp=010.0.0.25\n" + V + R, "010.0.0.25"),
    (V + R + "\tsmtp=127.1\n", "127.1"),
])
def test_virtual_fallback_and_smtp_addresses_are_checked(text: str, bad: str) -> None:
    [(lineno, message)] = errors(text)
    assert f'ambiguous IPv4 address "{bad}": ' in message
    assert lineno == next(i for i, line in enumerate(text.splitlines(), 1) if bad in line)


def test_netmask_with_a_leading_zero_is_refused() -> None:
    [(lineno, message)] = errors(V + R + "\tpersistent=300\n\tnetmask=255.255.255.000\n")
    assert lineno == 4
    assert "leading zero" in message


def test_ipv6_with_an_embedded_leading_zero_ipv4_is_refused() -> None:
    [(lineno, _)] = errors("virtual6=[2001:db8::1]:80\n\treal6=[::ffff:010.0.0.1]:80 gate\n")
    assert lineno == 2


def test_plain_literals_and_host_names_still_resolve() -> None:
    c = real_cfg("virtual=127.0.0.1:80\n\treal=localhost:80 gate\n"
                 "\treal=10.0.0.[1-2]:80 gate\n\tfallback=10.0.0.9:80\n")
    vs = c.virtuals[0]
    assert [r.host for r in vs.reals] == ["127.0.0.1", "10.0.0.1", "10.0.0.2"]
    assert vs.fallback is not None and vs.fallback.host == "10.0.0.9"
