"""Lines -> Config: each line to its directive's handler, then every virtual finished.

Rules of this file:
- Every problem is collected with its line; nothing stops at the first error. A file
  with errors yields no Config but one ConfigError carrying all of them.
- Globals apply to every virtual wherever they are written (the original reads them at
  run time), so virtual services are finished only after the last line: inherited values
  resolved (inherit.py; the fallback of the family here), names resolved, the service
  guessed from the port, duplicates found.
"""

from __future__ import annotations

import os

from ldirectord.config import convert as cv
from ldirectord.config import kernel
from ldirectord.config.addresses import ambiguous_message
from ldirectord.config.convert import Invalid
from ldirectord.config.directives import (
    BY_NAME,
    GLOBAL_HANDLERS,
    GLOBAL_ONLY,
    TIMEOUT_MSG,
    VIRTUAL_HANDLERS,
)
from ldirectord.config.draft import Context, GlobalDraft, GlobalFallback, VirtualDraft
from ldirectord.config.inherit import global_values, virtual_values
from ldirectord.config.lexer import BadLine, Kind, Line, lex
from ldirectord.config.model import (
    CheckType,
    Config,
    Fallback,
    IpvsProtocol,
    RealServer,
    Service,
    SourcePos,
    VirtualService,
)
from ldirectord.config.reals import (
    MAX_REALS,
    expand_real,
    real_addresses,
    real_port,
    resolve_fallback_host,
    resolve_fallback_port,
)
from ldirectord.config.resolve import System, resolve_port
from ldirectord.config.services import REFUSED, guess_service
from ldirectord.config.virtual import parse_header
from ldirectord.errors import ConfigError, ConfigMessage
from ldirectord.logsetup import log


class _Builder:
    def __init__(self, path: str, hostname: str, system: System) -> None:
        self.path = path
        self.hostname = hostname
        self.system = system
        self.errors: list[ConfigMessage] = []
        self.warnings: list[ConfigMessage] = []
        self.g = GlobalDraft()
        self.drafts: list[VirtualDraft] = []
        self.real_total = 0  # real servers the file defines so far (MAX_REALS)

    def error(self, line: int, msg: str) -> None:
        self.errors.append(ConfigMessage(self.path, line, msg))

    def warn(self, line: int, msg: str) -> None:
        self.warnings.append(ConfigMessage(self.path, line, msg))

    def context(self, lineno: int, label: str) -> Context:
        return Context(self.path, self.hostname, self.system,
                       lambda m: self.warn(lineno, f"{label}: {m}"))

    def internal(self, line: int, label: str, exc: Exception) -> None:
        """A bug of ours while handling `line`: a line-numbered error, never a crash."""
        log.debug("internal error reading %s:%d", self.path, line, exc_info=exc)
        self.error(line, f"{label}: {internal_error(exc, 'line')}")

    # -- reading -------------------------------------------------------------------

    def read(self, data: bytes) -> None:
        current: VirtualDraft | None = None
        for item in lex(data):
            if isinstance(item, BadLine):
                self.error(item.lineno, item.message)
            elif item.kind is Kind.SECTION:
                assert current is not None
                self.section_line(current, item)
            elif item.kind is Kind.STRAY:
                current = None
                self.stray_line(item)
            elif item.key in ("virtual", "virtual6"):
                current = self.open_virtual(item)
            else:
                current = None
                self.global_line(item)

    def stray_line(self, line: Line) -> None:
        label = cv.label(line.text)
        if line.indent == 0:
            self.error(line.lineno, f"{label}: starts with a whitespace character other "
                       "than space or TAB; global directives must start in column 0")
        elif line.indent < 4:
            self.error(line.lineno, f"{label}: indented by {line.indent} "
                       f"space{'s' if line.indent != 1 else ''}: lines of a virtual section "
                       "must be indented by at least 4 spaces or a TAB, global directives "
                       "must start in column 0")
        else:
            self.error(line.lineno, f"{label}: indented line outside a virtual section "
                       "(a blank line ends a section)")

    def open_virtual(self, line: Line) -> VirtualDraft:
        assert line.key is not None
        label = cv.label(line.text)
        try:
            draft, warning = parse_header(line.lineno, line.key, line.value, label)
        except Invalid as exc:
            self.error(line.lineno, f"{label}: {exc}")
            draft = VirtualDraft(line.lineno, label, line.key == "virtual6", ok=False)
        except Exception as exc:  # a bug of ours: this section is not built
            self.internal(line.lineno, label, exc)
            draft = VirtualDraft(line.lineno, label, line.key == "virtual6", ok=False)
        else:
            if warning:
                self.warn(line.lineno, f"{label}: {warning}")
        self.drafts.append(draft)
        return draft

    def section_line(self, draft: VirtualDraft, line: Line) -> None:
        label = cv.label(line.text)
        key = line.key
        handler = VIRTUAL_HANDLERS.get(key) if key else None
        if key is None or handler is None:
            self.error(line.lineno, f"{label}: {self.unknown_in_section(key)}")
            return
        try:
            handler(draft, line, self.context(line.lineno, label))
            draft.lines[key] = (line.lineno, label)
        except Invalid as exc:
            hint = ""
            if line.had_hash and line.text.count('"') % 2:
                # An unbalanced quote: the value was most likely cut at a '#'.
                hint = ("; note: '#' starts a comment inside a virtual section, so it "
                        "cannot be part of a value")
            self.error(line.lineno, f"{label}: {exc}{hint}")
        except Exception as exc:
            self.internal(line.lineno, label, exc)
            draft.ok = False

    def unknown_in_section(self, key: str | None) -> str:
        if key is None:
            return "not a directive (expected name=value)"
        if key in ("virtual", "virtual6"):
            return f"{key}= must start in column 0 (it cannot be inside a virtual section)"
        if key == "timeout":
            return TIMEOUT_MSG
        if key in GLOBAL_ONLY:
            return f"{key} is a global directive: not allowed inside a virtual section"
        return _unknown(key)

    def global_line(self, line: Line) -> None:
        label = cv.label(line.text)
        key = line.key
        handler = GLOBAL_HANDLERS.get(key) if key else None
        if handler is None:
            if key is None:
                msg = "not a directive (expected name=value)"
            elif key in VIRTUAL_HANDLERS:
                msg = (f"{key} is only allowed inside a virtual section (after a virtual= "
                       "line, indented by at least 4 spaces or a TAB)")
            else:
                msg = _unknown(key)
            self.error(line.lineno, f"{label}: {msg}")
            return
        try:
            handler(self.g, line, self.context(line.lineno, label))
        except Invalid as exc:
            hint = ""
            if line.had_hash and "#" not in str(exc):
                hint = "; note: a '#' after a global directive is not a comment"
            self.error(line.lineno, f"{label}: {exc}{hint}")
        except Exception as exc:
            self.internal(line.lineno, label, exc)
        else:
            if line.had_hash:
                self.warn(line.lineno, f"{label}: '#' after a global directive is part of "
                          "the value, not a comment")

    # -- finishing -----------------------------------------------------------------

    def finish(self) -> tuple[VirtualService, ...]:
        virtuals: list[VirtualService] = []
        seen: dict[tuple[object, ...], int] = {}
        for draft in self.drafts:
            try:
                vs = self.finish_draft(draft, seen)
            except Exception as exc:
                self.internal(draft.line, draft.label, exc)
                continue
            if vs is not None:
                virtuals.append(vs)
        return tuple(virtuals)

    def finish_draft(self, draft: VirtualDraft, seen: dict[tuple[object, ...], int]
                     ) -> VirtualService | None:
        """The finished virtual, or None when it is wrong (errors reported)."""
        ok, address, port = self.resolve_header(draft)
        if ok:
            key = (draft.protocol, draft.ipv6, address, port, draft.fwmark)
            if key in seen:
                self.error(draft.line, f"{draft.label}: duplicate virtual server "
                           f"(same as line {seen[key]})")
                ok = False
            else:
                seen[key] = draft.line
        vs = self.finish_virtual(draft, address, port)
        return vs if ok and vs is not None and self.kernel_accepts(draft, vs) else None

    def resolve_header(self, d: VirtualDraft) -> tuple[bool, str | None, int]:
        """(ok, address, port) of the virtual; errors reported here."""
        if not d.ok or d.fwmark is not None:
            return d.ok, None, 0
        assert d.host is not None
        ok = True
        ambiguous = ambiguous_message(d.host)
        address = None if ambiguous else self.system.host(d.host, d.ipv6)
        if ambiguous:
            self.error(d.line, f"{d.label}: invalid address for virtual service: {ambiguous}")
            ok = False
        elif address is None:
            self.error(d.line, f"{d.label}: invalid address for virtual service: "
                       f"{d.host} is not an IPv{6 if d.ipv6 else 4} address or "
                       "resolvable host name")
            ok = False
        port = resolve_port(self.system, d.port_text, d.protocol)
        if port is None:
            self.error(d.line, f"{d.label}: invalid port for virtual service: "
                       f"{d.port_text} is not a port number or a known {d.protocol.value} "
                       "service name")
            return False, address, 0
        return ok, address, port

    def finish_virtual(self, d: VirtualDraft, address: str | None, port: int
                       ) -> VirtualService | None:
        """The VirtualService; None when something in it is wrong (errors reported)."""
        ok = True
        service = d.values.get("service")
        if service is None:
            service = guess_service(port) if d.fwmark is None else Service.NONE
        assert isinstance(service, Service)
        checktype = d.values.get("checktype", BY_NAME["checktype"].default)
        if service in REFUSED and checktype in (CheckType.NEGOTIATE, CheckType.COMBINED):
            if d.service_line:
                self.error(d.service_line, f"service={service.value}: {REFUSED[service]}")
            else:
                self.error(d.line, f"{d.label}: {REFUSED[service]} (the service is guessed "
                           "from the port: set service= or checktype=)")
            ok = False
        reals: list[RealServer] = []
        for spec, lineno, label in d.reals:
            try:
                addresses = real_addresses(spec, self.system, d.ipv6)
                rport = real_port(spec, self.system)
                before, self.real_total = self.real_total, self.real_total + len(addresses)
                if self.real_total > MAX_REALS:
                    if before <= MAX_REALS:  # said once, on the line that passes the limit
                        self.error(lineno, f"{label}: too many real servers: this line "
                                   f"brings the file to {self.real_total} (a range counts "
                                   "each of its addresses); a file may define at most "
                                   f"{MAX_REALS}")
                    ok = False
                    continue
                reals.extend(expand_real(spec, addresses, rport, d.ipv6,
                                         SourcePos(self.path, lineno)))
            except Invalid as exc:
                self.error(lineno, f"{label}: {exc}")
                ok = False
            except Exception as exc:
                self.internal(lineno, label, exc)
                ok = False
        fallback = self.virtual_fallback(d, port)
        if not ok or not d.ok or isinstance(fallback, bool):
            return None
        return self.virtual_service(d, address, port, service, tuple(reals), fallback)

    def kernel_accepts(self, d: VirtualDraft, vs: VirtualService) -> bool:
        """Report what the kernel is known to refuse in `vs`, on the line that says it."""
        errors: list[tuple[int, str, str]] = []
        if vs.schedflags is not None and (
                msg := kernel.schedflags_error(vs.scheduler, vs.schedflags)):
            errors.append((*d.lines.get("schedflags", (d.line, d.label)), msg))
        elif msg := kernel.service_error(vs):
            errors.append((d.line, d.label, msg))
        first_of_line: dict[int, RealServer] = {}
        for real in vs.reals:
            first_of_line.setdefault(real.where.line, real)
        labels = {lineno: label for _, lineno, label in d.reals}
        for lineno, real in first_of_line.items():
            if msg := kernel.real_error(vs, real):
                errors.append((lineno, labels.get(lineno, d.label), msg))
        if vs.fallback is not None and (msg := kernel.fallback_error(vs, vs.fallback)):
            line, label = d.lines.get("fallback", d.lines.get("fallback6", (d.line, d.label)))
            errors.append((line, label, msg))
        for line, label, msg in errors:
            self.error(line, f"{label}: {msg}")
        return not errors

    def virtual_fallback(self, d: VirtualDraft, port: int) -> Fallback | bool | None:
        """The resolved fallback; False when it could not be resolved (error reported)."""
        if d.fallback is not None:
            spec, lineno, label = d.fallback
            try:
                host = resolve_fallback_host(spec, self.system, d.ipv6)
                fport = resolve_fallback_port(spec, self.system, d.protocol, port)
            except Invalid as exc:
                self.error(lineno, f"{label}: {exc}")
                return False
            except Exception as exc:
                self.internal(lineno, label, exc)
                return False
            return Fallback(host, fport, spec.forwarding, d.ipv6, SourcePos(self.path, lineno))
        glob = self.g.fallbacks.get(d.ipv6)
        if glob is None:
            return None
        try:
            fport = resolve_fallback_port(glob.spec, self.system, d.protocol, port)
        except Invalid as exc:
            self.error(d.line, f"{d.label}: global fallback: {exc}")
            return False
        return Fallback(glob.host, fport, glob.spec.forwarding, d.ipv6, glob.where)

    def virtual_service(self, d: VirtualDraft, address: str | None, port: int,
                        service: Service, reals: tuple[RealServer, ...],
                        fallback: Fallback | None) -> VirtualService:
        values = virtual_values(d, self.g)
        values.update(
            service=service, fallback=fallback, protocol=d.protocol, address=address,
            port=port, fwmark=d.fwmark, ipv6=d.ipv6, reals=reals,
            negotiate_every=d.negotiate_every, where=SourcePos(self.path, d.line))
        return VirtualService(**values)

    def config(self, virtuals: tuple[VirtualService, ...]) -> Config:
        def glob_fallback(gf: GlobalFallback | None) -> Fallback | None:
            if gf is None:
                return None
            port = 0
            if gf.spec.port:
                port = (resolve_port(self.system, gf.spec.port, IpvsProtocol.TCP)
                        or resolve_port(self.system, gf.spec.port, IpvsProtocol.UDP) or 0)
            return Fallback(gf.host, port, gf.spec.forwarding, gf.ipv6, gf.where)

        values = global_values(self.g)
        values.update(fallback=glob_fallback(self.g.fallbacks.get(False)),
                      fallback6=glob_fallback(self.g.fallbacks.get(True)))
        return Config(path=os.path.abspath(self.path), virtuals=virtuals,
                      warnings=tuple(sorted(self.warnings, key=lambda m: m.line)), **values)


def _unknown(key: str) -> str:
    known = GLOBAL_HANDLERS.keys() | VIRTUAL_HANDLERS.keys()
    if key.lower() in known:
        return f'unknown directive "{key}" (directive names are lower case: {key.lower()})'
    return f'unknown directive "{key}"'


def internal_error(exc: BaseException, where: str) -> str:
    """The text of an error that is a bug of ours (`where` is "line" or "file")."""
    return (f"internal error while reading this {where}: {type(exc).__name__}: {exc} "
            "(please report this)")


def build(data: bytes, path: str, *, hostname: str, system: System) -> Config:
    """Parse `data` (the file's bytes); raises ConfigError with every problem found.

    Nothing else escapes: a bug of ours is reported as an error of the line being read
    (or of the file, when no line is), so a reload fails cleanly instead of crashing.
    """
    builder = _Builder(path, hostname, system)
    try:
        builder.read(data)
        virtuals = builder.finish()
        if not builder.errors:
            return builder.config(virtuals)
    except Exception as exc:
        log.debug("internal error reading %s", path, exc_info=exc)
        builder.error(0, internal_error(exc, "file"))
    raise ConfigError(sorted(builder.errors, key=lambda m: m.line),
                      sorted(builder.warnings, key=lambda m: m.line))
