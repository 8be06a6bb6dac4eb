"""What the directive handlers fill while the file is read: the global and virtual drafts.

A draft holds the values set so far in `values`, keyed by directive name (a name that is
absent was not set, so it takes the global value or the default of its row in
`directives.py`), plus what is not one directive's value: a virtual's header, its real
and fallback lines, the lines the kernel checks point at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ldirectord.config.lexer import Line
from ldirectord.config.model import IpvsProtocol, SourcePos
from ldirectord.config.reals import FallbackSpec, RealSpec
from ldirectord.config.resolve import System


@dataclass(slots=True)
class Context:
    """What a handler needs besides its draft and line."""

    path: str
    hostname: str
    system: System
    warn: Callable[[str], None]


@dataclass(slots=True)
class GlobalFallback:
    """A global fallback: host resolved at once, port per virtual (it may be a name)."""

    spec: FallbackSpec
    host: str
    ipv6: bool
    where: SourcePos


@dataclass(slots=True)
class GlobalDraft:
    """The global directives read so far (they apply wherever they are written)."""

    values: dict[str, object] = field(default_factory=dict)
    fallbacks: dict[bool, GlobalFallback] = field(default_factory=dict)  # by ipv6


@dataclass(slots=True)
class VirtualDraft:
    """A virtual section being read."""

    line: int
    label: str
    ipv6: bool
    ok: bool = True  # False when the header itself was wrong (nothing is built)
    fwmark: int | None = None
    host: str | None = None
    port_text: str = "0"
    protocol: IpvsProtocol = IpvsProtocol.TCP
    negotiate_every: int = 0  # N of checktype=N
    service_line: int = 0  # where service= was written (0: guessed from the port)
    values: dict[str, object] = field(default_factory=dict)
    fallback: tuple[FallbackSpec, int, str] | None = None
    reals: list[tuple[RealSpec, int, str]] = field(default_factory=list)
    lines: dict[str, tuple[int, str]] = field(default_factory=dict)  # directive -> (line, label)


GlobalHandler = Callable[[GlobalDraft, Line, Context], None]
VirtualHandler = Callable[[VirtualDraft, Line, Context], None]
