"""ipvsadm command lines (SPEC §5.1), parsing `ipvsadm -Ln`, and `format_table` (host only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldirectord.cli.ipvs_dump import run_dump
from ldirectord.errors import AlreadyExists, InvalidArgument, IPVSUnavailable, NotFound
from ldirectord.ipvs.ipvsadm import error_for, ipvsadm_args, ipvsadm_command
from ldirectord.ipvs.listing import format_table, glibc_msort, parse_tables
from ldirectord.ipvs.memory import apply_ops
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DestAttrs,
    DestKey,
    EditDest,
    EditService,
    Method,
    Op,
    ServiceAttrs,
)
from tests.kernel.entries import fwm, tcp, udp

DATA = Path(__file__).parent / "data"
LISTING = (DATA / "ipvsadm-Ln.txt").read_text()
THRESHOLDS = (DATA / "ipvsadm-Ln-thresholds.txt").read_text()

COMMANDS: list[tuple[Op, str]] = [
    (AddService(udp("10.0.4.1", 53), ServiceAttrs(
        "sh", 600, "255.255.255.0", ops=True, schedflags=frozenset({"sh-port", "sh-fallback"}))),
     "ipvsadm -A -u 10.0.4.1:53 -o -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port"),
    (AddService(fwm(8, ipv6=True), ServiceAttrs("wrr")), "ipvsadm -A -f 8 -6 -s wrr"),
    (EditService(tcp("10.0.0.1", 80), ServiceAttrs("rr", 300)),
     "ipvsadm -E -t 10.0.0.1:80 -s rr -p 300"),
    (EditService(tcp("2001:db8::1", 443), ServiceAttrs("mh", 60, "64",
                                                       schedflags=frozenset({"mh-port"}))),
     "ipvsadm -E -t [2001:db8::1]:443 -s mh -p 60 -M 64 -b mh-port"),
    (DelService(tcp("10.0.0.1", 80)), "ipvsadm -D -t 10.0.0.1:80"),
    (DelService(fwm(7)), "ipvsadm -D -f 7"),
    (AddDest(fwm(7), DestKey("127.0.0.1", 0), DestAttrs(Method.ROUTE, 1)),
     "ipvsadm -a -f 7 -x 0 -y 0 -r 127.0.0.1:0 -g -w 1"),
    (AddDest(tcp("10.0.0.1", 80), DestKey("10.0.0.2", 8080), DestAttrs(Method.MASQ, 5, 100, 20)),
     "ipvsadm -a -t 10.0.0.1:80 -x 100 -y 20 -r 10.0.0.2:8080 -m -w 5"),
    (EditDest(tcp("10.0.0.1", 80), DestKey("10.0.0.2", 80), DestAttrs(Method.TUNNEL, 3)),
     "ipvsadm -e -t 10.0.0.1:80 -x 0 -y 0 -r 10.0.0.2:80 -i -w 3"),
    # quiesce and re-add quiescent: the original sends no thresholds with weight 0
    (EditDest(tcp("10.0.0.1", 80), DestKey("10.0.0.2", 80), DestAttrs(Method.ROUTE, 0)),
     "ipvsadm -e -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 0"),
    (AddDest(udp("2001:db8::1", 53), DestKey("2001:db8::2", 53), DestAttrs(Method.MASQ, 0)),
     "ipvsadm -a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -m -w 0"),
    (DelDest(tcp("10.0.0.1", 80), DestKey("10.0.0.2", 80)),
     "ipvsadm -d -t 10.0.0.1:80 -r 10.0.0.2:80"),
    (DelDest(fwm(8, ipv6=True), DestKey("::1", 0)), "ipvsadm -d -f 8 -6 -r [::1]:0"),
]


@pytest.mark.parametrize(("op", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_ipvsadm_command_lines(op: Op, command: str) -> None:
    assert ipvsadm_command(op) == command
    assert ipvsadm_args(op) == command.split()[1:]


def test_local_forwarding_has_no_ipvsadm_flag() -> None:
    op = AddDest(tcp("10.0.0.1", 80), DestKey("127.0.0.1", 80), DestAttrs(Method.LOCAL))
    with pytest.raises(InvalidArgument) as caught:
        ipvsadm_args(op)
    assert caught.value.op is op


def test_parse_listing_and_thresholds() -> None:
    table = parse_tables(LISTING, THRESHOLDS)
    assert list(table)[:2] == [tcp("192.168.1.1", 80), tcp("10.0.0.1", 80)]
    sh = table[udp("10.0.0.2", 53)].attrs
    assert sh == ServiceAttrs("sh", 600, "255.255.255.0", ops=True,
                              schedflags=frozenset({"sh-fallback", "sh-port"}))
    assert table[fwm(8, ipv6=True)].attrs == ServiceAttrs("wrr", 60, "64")
    assert table[fwm(7)].attrs == ServiceAttrs("rr", 360)
    v6 = table[tcp("2001:db8::1", 443)]
    assert v6.attrs == ServiceAttrs("mh", 30, schedflags=frozenset({"mh-port"}))
    assert dict(v6.dests) == {DestKey("10.1.1.1", 443): DestAttrs(Method.TUNNEL, 3),
                              DestKey("2001:db8::2", 8443): DestAttrs(Method.MASQ, 3)}
    assert table[tcp("10.0.0.1", 80)].dests[DestKey("10.0.0.11", 80)].weight == 70000
    assert table[fwm(8, ipv6=True)].dests[DestKey("::1", 0)] == DestAttrs(Method.ROUTE, 2)


def test_parse_local_forwarding_thresholds_and_counters() -> None:
    listing = ("IP Virtual Server version 1.2.1 (size=4096)\n"
               "Prot LocalAddress:Port Scheduler Flags\n"
               "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
               "TCP  10.0.0.1:80 wrr\n"
               "  -> 10.0.0.3:80                  Route   1      0          0         \n"
               "  -> 127.0.0.1:80                 Local   2      7          9         \n")
    limits = ("IP Virtual Server version 1.2.1 (size=4096)\n"
              "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n"
              "  -> RemoteAddress:Port\n"
              "TCP  10.0.0.1:80 wrr\n"
              "  -> 10.0.0.3:80                  0          0          0          0         \n"
              "  -> 127.0.0.1:80                 100        50         7          9         \n")
    dests = parse_tables(listing, limits)[tcp("10.0.0.1", 80)].dests
    local = dests[DestKey("127.0.0.1", 80)]
    assert local == DestAttrs(Method.LOCAL, 2, 100, 50)
    assert (local.active_conns, local.inactive_conns) == (7, 9)
    # The original reused the previous real's forwarding for `Local` (SPEC §5.2); we do not.
    assert dests[DestKey("10.0.0.3", 80)].method is Method.ROUTE
    assert format_table(parse_tables(listing, limits), "V").endswith(listing.split("\n", 3)[3])


def test_sctp_services_are_skipped_with_their_reals() -> None:
    head = "".join(LISTING.splitlines(keepends=True)[:3])
    sctp = ("SCTP  10.0.0.1:80 rr\n"
            "  -> 10.0.0.3:80                  Masq    1      0          0         \n")
    tcp_part = ("TCP  10.0.0.1:80 wrr\n"
                "  -> 10.0.0.4:80                  Masq    1      0          0         \n")
    table = parse_tables(head + sctp + tcp_part, "")
    assert {k: set(e.dests) for k, e in table.items()} == {
        tcp("10.0.0.1", 80): {DestKey("10.0.0.4", 80)}}


def test_format_table_reproduces_a_real_listing() -> None:
    """Byte for byte, including ipvsadm's wrapped address order (192.168.x before 10.x)."""
    table = parse_tables(LISTING, THRESHOLDS)
    reordered = dict(reversed(list(table.items())))
    assert format_table(reordered, "IP Virtual Server version 1.2.1 (size=4096)") == LISTING


def test_format_table_of_applied_ops() -> None:
    vip = tcp("10.0.0.1", 80)
    table = apply_ops({}, [AddService(vip, ServiceAttrs("wrr")),
                           AddDest(vip, DestKey("10.0.0.10", 80), DestAttrs(Method.MASQ, 5)),
                           AddDest(vip, DestKey("10.0.0.9", 80), DestAttrs(Method.ROUTE, 0))])
    assert format_table(table, "V") == (
        "V\n"
        "Prot LocalAddress:Port Scheduler Flags\n"
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        "TCP  10.0.0.1:80 wrr\n"
        "  -> 10.0.0.9:80                  Route   0      0          0         \n"
        "  -> 10.0.0.10:80                 Masq    5      0          0         \n")


def test_glibc_msort_is_a_stable_merge_sort() -> None:
    items = [(3, "a"), (1, "b"), (3, "c"), (2, "d"), (1, "e")]
    assert glibc_msort(items, lambda x, y: x[0] - y[0]) == sorted(items, key=lambda x: x[0])


@pytest.mark.parametrize(("text", "kind"), [
    ("Service already exists\n", AlreadyExists),
    ("Destination already exists\n", AlreadyExists),
    ("No such service\n", NotFound),
    ("No such destination\n", NotFound),
    ("Service not defined\n", NotFound),
    ("Scheduler or persistence engine not found\n", NotFound),
    ("Numerical result out of range\n", InvalidArgument),
    ("illegal weight specified\n", InvalidArgument),
    ("Can't initialize ipvs: Protocol not available\n", IPVSUnavailable),
    ("Protocol not available\n", IPVSUnavailable),
])
def test_ipvsadm_errors_are_typed(text: str, kind: type[Exception]) -> None:
    assert type(error_for(text)) is kind


def test_run_dump_dry_run_prints_the_empty_memory_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_dump(dry_run=True) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == ["Prot LocalAddress:Port Scheduler Flags",
                                    "  -> RemoteAddress:Port           Forward Weight "
                                    "ActiveConn InActConn"]
    assert out.startswith("IP Virtual Server version ")
