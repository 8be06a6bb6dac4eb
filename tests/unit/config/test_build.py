"""Parser semantics beyond the corpus: inheritance, resolution, order dependence, API."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldirectord.config import load, parse
from ldirectord.config.model import (
    CheckType,
    Config,
    DaemonState,
    Forwarding,
    IpvsProtocol,
    Service,
)
from ldirectord.errors import ConfigError
from tests.unit.config.helpers import FakeSystem


def cfg(text: str) -> Config:
    return parse(text, "t.cf", hostname="h.example", system=FakeSystem())


def errors(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ConfigError) as info:
        cfg(text)
    return [(m.line, m.message) for m in info.value.errors]


V = "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n"


def test_globals_written_after_a_section_apply_to_it() -> None:
    c = cfg(V + "quiescent=yes\nchecktimeout=4\nemailalert=x@example.com\n")
    vs = c.virtuals[0]
    assert vs.quiescent is True
    assert (vs.checktimeout, vs.negotiatetimeout) == (4.0, 4.0)
    assert vs.emailalert == "x@example.com"


def test_per_virtual_values_beat_globals() -> None:
    c = cfg("quiescent=yes\ncleanstop=no\nsmtp=a.example\nemailalertstatus=none\n"
            + V + "\tquiescent=no\n\tcleanstop=yes\n\tsmtp=b.example\n"
            "\temailalertstatus=running\n\tcheckinterval=2\n")
    vs = c.virtuals[0]
    assert (vs.quiescent, vs.cleanstop, vs.smtp) == (False, True, "b.example")
    assert vs.emailalertstatus == frozenset({DaemonState.RUNNING})
    assert c.emailalertstatus == frozenset()
    assert vs.checkinterval == 2.0 and c.checkinterval == 10.0


def test_per_virtual_checkinterval_is_honoured_without_fork_and_without_warning() -> None:
    c = cfg("fork=no\n" + V + "\tcheckinterval=3\n")
    assert c.virtuals[0].checkinterval == 3.0
    assert c.warnings == ()


@pytest.mark.parametrize(("text", "proto"), [
    ("virtual=10.0.0.1:53\n", IpvsProtocol.UDP), ("virtual=10.0.0.1:domain\n", IpvsProtocol.UDP),
    ("virtual=10.0.0.1:053\n", IpvsProtocol.TCP), ("virtual=10.0.0.1:80\n", IpvsProtocol.TCP),
    ("virtual=10.0.0.1:53\n\tprotocol=tcp\n", IpvsProtocol.TCP),
])
def test_protocol_default_is_udp_only_for_53_or_domain_as_written(text: str,
                                                                  proto: IpvsProtocol) -> None:
    assert cfg(text).virtuals[0].protocol is proto


def test_fwmark_virtual6_is_an_ipv6_fwmark_service() -> None:
    vs = cfg("virtual6=12\n\treal6=[2001:db8::2] gate\n").virtuals[0]
    assert (vs.fwmark, vs.ipv6, vs.protocol, vs.port, vs.vid) == (12, True, IpvsProtocol.FWM, 0,
                                                                  "fwm6:12")


def test_host_names_resolved_once_with_the_family() -> None:
    system = FakeSystem()
    c = parse("virtual=localhost:http\n\treal=localhost gate\n", "t.cf", system=system)
    vs = c.virtuals[0]
    assert (vs.address, vs.port, vs.service) == ("127.0.0.1", 80, Service.HTTP)
    assert vs.reals[0].host == "127.0.0.1"
    assert system.lookups.count("localhost") == 2


def test_ranges_expand_in_order() -> None:
    reals = cfg("virtual=10.0.0.1:80\n\treal=10.0.0.254->10.0.1.1:80 gate\n"
                "\treal=10.0.2.[7-8] masq 3\n").virtuals[0].reals
    assert [r.host for r in reals] == ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1",
                                       "10.0.2.7", "10.0.2.8"]
    assert reals[-1].forwarding is Forwarding.MASQ and reals[-1].weight == 3


@pytest.mark.parametrize("line", [
    'real=10.0.0.2:80 gate 2 "x", "y" l:1 u:9',
    'real=10.0.0.2:80 gate 2 "/x" "y" u:9 l:1',
    'real=10.0.0.2:80 gate 2 "x","y" "<l:1>" "<u:9>"',
])
def test_per_real_request_receive_and_thresholds(line: str) -> None:
    r = cfg(f"virtual=10.0.0.1:80\n\t{line}\n").virtuals[0].reals[0]
    assert (r.request, r.receive, r.lower_threshold, r.upper_threshold, r.weight) == \
        ("/x", "y", 1, 9, 2)


def test_fallback_port_comes_from_the_virtual() -> None:
    c = cfg("fallback=127.0.0.1:81\n" + V + "virtual=10.0.0.1:443\n\treal=10.0.0.2 gate\n"
            "\tfallback=10.0.0.9\n")
    assert c.virtuals[0].fallback is not None and c.virtuals[0].fallback.port == 81
    fb = c.virtuals[1].fallback
    assert fb is not None and (fb.host, fb.port, fb.forwarding) == ("10.0.0.9", 443,
                                                                    Forwarding.GATE)
    assert c.fallback is not None and c.fallback.port == 81


def test_global_fallback_is_per_family() -> None:
    c = cfg("fallback6=[::1]\n" + V + "virtual6=[2001:db8::1]:80\n\treal6=[::2] gate\n")
    assert c.virtuals[0].fallback is None
    fb = c.virtuals[1].fallback
    assert fb is not None and (fb.host, fb.port, fb.ipv6) == ("::1", 80, True)


def test_checktype_number_is_combined() -> None:
    vs = cfg(V + "\tchecktype=4\n").virtuals[0]
    assert (vs.checktype, vs.negotiate_every) == (CheckType.COMBINED, 4)


def test_service_defaults_use_the_hostname_and_line_order() -> None:
    c = parse(V + "\tpasswd=\"early\"\n\tservice=ftp\n", "t.cf", hostname="dir1",
              system=FakeSystem())
    vs = c.virtuals[0]
    assert (vs.login, vs.passwd) == ("anonymous", "early")
    vs2 = parse(V + "\tservice=sip\n", "t.cf", hostname="dir1",
                system=FakeSystem()).virtuals[0]
    assert vs2.login == "ldirectord@dir1"


def test_hostname_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTNAME", "from-env")
    vs = parse(V + "\tservice=sip\n", "t.cf", system=FakeSystem()).virtuals[0]
    assert vs.login == "ldirectord@from-env"


def test_all_errors_reported_at_once_sorted() -> None:
    found = errors("fork=maybe\n" + V + "\tservice=nope\n\tchecktype=x\nbogus=1\n")
    assert [n for n, _ in found] == [1, 4, 5, 6]


def test_warnings_travel_with_errors() -> None:
    with pytest.raises(ConfigError) as info:
        cfg("checkcount=2\nfork=maybe\n")
    assert [m.line for m in info.value.warnings] == [1]
    assert "deprecated" in info.value.warnings[0].message
    assert str(info.value.errors[0]).startswith("t.cf:2: fork=maybe:")


def test_positions_excluded_from_equality() -> None:
    a = cfg(V)
    b = cfg("# shifted\n\n" + V)
    assert a.virtuals == b.virtuals
    assert a.virtuals[0].where.line == 1 and b.virtuals[0].where.line == 3


def test_load_makes_the_path_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    (tmp_path / "x.cf").write_text(V)
    monkeypatch.chdir(tmp_path)
    c = load("x.cf", system=FakeSystem())
    assert c.path == str(tmp_path / "x.cf")


def test_load_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="can not open file"):
        load(str(tmp_path / "missing.cf"))


def test_monitorfile_is_created_at_parse_time(tmp_path: Path) -> None:
    target = tmp_path / "monitor.log"
    c = parse(V + f'\tmonitorfile="{target}"\n', "t.cf")
    assert c.virtuals[0].monitorfile == str(target)
    assert target.exists()


def test_logfile_is_opened_for_append(tmp_path: Path) -> None:
    target = tmp_path / "ld.log"
    target.write_text("kept\n")
    c = parse(f'logfile="{target}"\n', "t.cf")
    assert c.logfile == str(target)
    assert target.read_text() == "kept\n"


def test_unresolvable_name_does_not_reach_a_name_server() -> None:
    # RFC 6761 .invalid and dotted numbers are refused without a DNS query.
    from ldirectord.config.resolve import RealSystem

    assert RealSystem().host("web.example.invalid", False) is None
    assert RealSystem().host("10.0.0.300", False) is None
    assert RealSystem().host("127.0.0.1", False) == "127.0.0.1"


@pytest.mark.parametrize("text", ['fallbackcommand="/x.sh ARG"\n' + V,
                                  V + '\tfallbackcommand="/x.sh ARG"\n',
                                  "fallbackcommand=/x.sh ARG\n" + V])
def test_a_quoted_fallbackcommand_loses_its_quotes_globally_as_per_virtual(text: str) -> None:
    c = cfg(text)
    assert c.virtuals[0].fallbackcommand == "/x.sh ARG"


@pytest.mark.parametrize(("value", "command"), [
    ('"/usr/local/sbin/sorry" --flag', '"/usr/local/sbin/sorry" --flag'),
    ('"/x.sh" "ARG"', '"/x.sh" "ARG"'),
])
def test_fallbackcommand_quotes_inside_the_value_are_left_to_the_shell(value: str,
                                                                       command: str) -> None:
    # Only quotes around the whole value are removed: nothing after a quote is lost.
    assert cfg(f"fallbackcommand={value}\n" + V).virtuals[0].fallbackcommand == command
    assert cfg(V + f"\tfallbackcommand={value}\n").virtuals[0].fallbackcommand == command


def test_a_quoted_global_fallbackcommand_runs(tmp_path: Path) -> None:
    import asyncio

    from ldirectord.runtime.effects import run_shell_command

    out = tmp_path / "args"
    script = tmp_path / "sorry.sh"
    script.write_text(f'#!/bin/sh\necho "$@" > {out}\n')
    script.chmod(0o755)
    command = cfg(f'fallbackcommand="{script} ARG"\n' + V).virtuals[0].fallbackcommand
    assert command is not None
    assert asyncio.run(run_shell_command(command, ("start", "10.0.0.1:80"))) == 0
    assert out.read_text() == "ARG start 10.0.0.1:80\n"
