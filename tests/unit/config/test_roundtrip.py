"""Property test: a config rendered from random values parses back to those values.

Random globals, virtual services and real servers are written out with the layouts the
format allows (TAB or 4+ spaces, spaces around `=`, comments between lines, CRLF), and
the parsed Config must hold exactly what was written, with inheritance resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldirectord.config import parse
from ldirectord.config.model import CheckType, Forwarding, IpvsProtocol, Service
from tests.unit.config.helpers import FakeSystem

FORWARDINGS = list(Forwarding)
CHECKTYPES = [c for c in CheckType if c is not CheckType.COMBINED]


@dataclass
class RealSpec:
    host: str
    port: int
    fwd: Forwarding
    weight: int | None
    rr: tuple[str, str] | None
    lower: int
    upper: int


@dataclass
class VirtualSpec:
    address: str
    port: int
    reals: list[RealSpec]
    options: dict[str, object] = field(default_factory=dict)


octet = st.integers(1, 254)
address = st.builds(lambda a, b: f"10.{a}.{b}.1", octet, octet)
word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_./-", min_size=1, max_size=12)
reals = st.builds(
    RealSpec,
    host=st.builds(lambda a, b, c: f"10.{a}.{b}.{c}", octet, octet, octet),
    port=st.integers(0, 65535),
    fwd=st.sampled_from(FORWARDINGS),
    weight=st.none() | st.integers(0, 65535),
    rr=st.none() | st.tuples(word, word),
    lower=st.integers(0, 10_000),
    upper=st.integers(0, 10_000),
).filter(lambda r: r.lower <= r.upper)  # the kernel refuses a lower threshold above the upper
options = st.fixed_dictionaries({}, optional={
    "checktype": st.sampled_from(CHECKTYPES) | st.integers(0, 99),
    "service": st.sampled_from([s for s in Service if s is not Service.ORACLE]),
    "checktimeout": st.integers(1, 999),
    "negotiatetimeout": st.integers(1, 999),
    "checkinterval": st.integers(1, 999),
    "failurecount": st.integers(1, 99),
    "quiescent": st.booleans(),
    "scheduler": st.sampled_from(["rr", "wrr", "lc", "wlc", "sh", "mh"]),
    "persistent": st.integers(1, 100_000),  # ipvsadm refuses 0
    "request": word,
    "receive": st.text(alphabet="abcXYZ019 ", min_size=1, max_size=10),
    "login": word,
    "checkport": st.integers(1, 65535),
})
#: Not 1521: with no service or checktype set, the port makes the service oracle, which the
#: loader refuses (tests/data/configs/invalid/service-oracle-guessed.cf); these are all valid.
virtual_port = st.integers(1, 65535).filter(lambda p: p != 1521) | st.just(53)
virtuals = st.lists(st.builds(VirtualSpec, address=address, port=virtual_port,
                              reals=st.lists(reals, max_size=4), options=options),
                    max_size=5, unique_by=lambda v: (v.address, v.port))
globals_ = st.fixed_dictionaries({}, optional={
    "checktimeout": st.integers(1, 999), "negotiatetimeout": st.integers(1, 999),
    "checkinterval": st.integers(1, 999), "quiescent": st.booleans(),
})
indent = st.sampled_from(["\t", "    ", "     ", "        ", "\t ", "  \t"])
eq = st.sampled_from(["=", " = ", "= ", " ="])


def _value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in ("request", "receive", "login"):
        return f'"{value}"'
    return str(value)


def _real_line(r: RealSpec) -> str:
    text = f"real={r.host}:{r.port} {r.fwd.value}"
    if r.weight is not None:
        text += f" {r.weight}"
    if r.rr is not None:
        text += f' "{r.rr[0]}", "{r.rr[1]}"'
    return text + f" l:{r.lower} u:{r.upper}"


@st.composite
def rendered(draw: st.DrawFn) -> tuple[str, dict[str, object], list[VirtualSpec]]:
    g: dict[str, object] = dict(draw(globals_))
    vs = draw(virtuals)
    lines = [f"{k}{draw(eq)}{_value(k, v)}" for k, v in g.items()]
    for v in vs:
        lines.append(f"virtual{draw(eq)}{v.address}:{v.port}")
        body = [_real_line(r) for r in v.reals]
        body += [f"{k}{draw(eq)}{_value(k, val)}" for k, val in v.options.items()]
        for item in body:
            if draw(st.booleans()):
                lines.append(draw(indent) + "# a comment")
            lines.append(draw(indent) + item)
        lines.append("")
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return ending.join(lines) + ending, g, vs


def _first(*values: object) -> object:
    return next(v for v in values if v is not None)


@pytest.mark.timeout(120)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendered())
def test_rendered_config_parses_back(case: tuple[str, dict[str, object], list[VirtualSpec]]
                                     ) -> None:
    text, g, specs = case
    config = parse(text, "r.cf", hostname="h", system=FakeSystem())
    assert len(config.virtuals) == len(specs)
    for vs, spec in zip(config.virtuals, specs, strict=True):
        o = spec.options
        proto = IpvsProtocol.UDP if spec.port == 53 else IpvsProtocol.TCP  # the original's rule
        assert (vs.address, vs.port, vs.protocol) == (spec.address, spec.port, proto)
        ct = o.get("checktype", CheckType.NEGOTIATE)
        if isinstance(ct, int):
            assert (vs.checktype, vs.negotiate_every) == (CheckType.COMBINED, ct)
        else:
            assert vs.checktype is ct
        if "service" in o:
            assert vs.service is o["service"]
        assert vs.checktimeout == _first(o.get("checktimeout"), o.get("negotiatetimeout"),
                                         g.get("checktimeout"), g.get("negotiatetimeout"), 5)
        assert vs.negotiatetimeout == _first(o.get("negotiatetimeout"), o.get("checktimeout"),
                                             g.get("negotiatetimeout"), g.get("checktimeout"),
                                             30)
        assert vs.checkinterval == _first(o.get("checkinterval"), g.get("checkinterval"), 10)
        assert vs.quiescent is _first(o.get("quiescent"), g.get("quiescent"), False)
        assert vs.failurecount == o.get("failurecount", 1)
        assert vs.scheduler == o.get("scheduler", "wrr")
        assert vs.persistent == o.get("persistent")
        assert vs.checkport == o.get("checkport")
        request = o.get("request", "/")
        assert isinstance(request, str)
        assert vs.request == (request if request.startswith("/") else "/" + request)
        assert vs.receive == o.get("receive", "")
        if "login" in o:
            assert vs.login == o["login"]
        assert len(vs.reals) == len(spec.reals)
        for real, rs in zip(vs.reals, spec.reals, strict=True):
            assert (real.host, real.port, real.forwarding) == (rs.host, rs.port, rs.fwd)
            assert real.weight == (1 if rs.weight is None else rs.weight)
            assert (real.lower_threshold, real.upper_threshold) == (rs.lower, rs.upper)
            if rs.rr is None:
                assert (real.request, real.receive) == (None, None)
            else:
                req = rs.rr[0] if rs.rr[0].startswith("/") else "/" + rs.rr[0]
                assert (real.request, real.receive) == (req, rs.rr[1])
