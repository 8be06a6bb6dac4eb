"""The ipvsadm backend: runs the `ipvsadm` command (no shell) and reads what it prints.

`ipvsadm_args(op)` renders an operation as the original ldirectord's exact command line
(SPEC Part B §5.1); the daemon prints it in dry-run and debug mode, and this backend runs
exactly that. The table is read from `ipvsadm -Ln` (services, forwarding, weights,
counters) and `ipvsadm -Ln --thresholds` (thresholds), parsed by `ldirectord.ipvs.listing`.

ipvsadm itself, not the kernel, moves a gate or ipip real of a TCP/UDP service to the
service's port, and a real given without a port (we always give one) to the same port.
"""

from __future__ import annotations

import asyncio
import errno
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, assert_never

from ldirectord.errors import InvalidArgument, IPVSError, IPVSUnavailable, PermissionDenied
from ldirectord.ipvs.backend import Backend, check_op
from ldirectord.ipvs.listing import parse_tables
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    IpvsProtocol,
    Method,
    Op,
    ServiceAttrs,
    ServiceKey,
    Table,
)
from ldirectord.ipvs.rules import refusal, sched_flag_order
from ldirectord.netloc import netloc

IPVSADM = "ipvsadm"
_FWD_FLAG = {Method.ROUTE: "-g", Method.MASQ: "-m", Method.TUNNEL: "-i"}


def service_args(key: ServiceKey) -> list[str]:
    """`-t VIP:port`, `-u VIP:port`, `-f mark` or `-f mark -6`."""
    if key.fwmark is not None:
        return ["-f", str(key.fwmark), *(["-6"] if key.ipv6 else [])]
    flag = "-u" if key.protocol is IpvsProtocol.UDP else "-t"
    return [flag, netloc(str(key.address), key.port)]


def _service_attr_args(attrs: ServiceAttrs) -> list[str]:
    args = ["-o"] if attrs.ops else []
    args += ["-s", attrs.scheduler]
    if attrs.persistent is not None:
        args += ["-p", str(attrs.persistent)]
        if attrs.netmask is not None:
            args += ["-M", attrs.netmask]
    if attrs.schedflags:
        # A set has no order: use the order ipvsadm itself prints them in.
        order = sched_flag_order(attrs.scheduler)
        names = [n for n in order if n in attrs.schedflags]
        names += sorted(attrs.schedflags - set(order))
        args += ["-b", ",".join(names)]
    return args


def _dest_args(op: AddDest | EditDest) -> list[str]:
    fwd = _FWD_FLAG.get(op.attrs.method)
    if fwd is None:
        raise InvalidArgument(f"ipvsadm cannot set {op.attrs.method.label} forwarding", op)
    a = op.attrs
    # The original's quiesce and re-add-quiescent commands carry no thresholds; ipvsadm
    # then sets both to 0, which is exactly what the operation asks for.
    thresholds = ([] if a.weight == 0 and a.upper_threshold == a.lower_threshold == 0
                  else ["-x", str(a.upper_threshold), "-y", str(a.lower_threshold)])
    return [*service_args(op.service), *thresholds, "-r", str(op.dest), fwd, "-w",
            str(a.weight)]


def ipvsadm_args(op: Op) -> list[str]:
    """The ipvsadm arguments (without the program name) that perform `op`, in §5.1's order."""
    match op:
        case AddService(key, attrs):
            return ["-A", *service_args(key), *_service_attr_args(attrs)]
        case EditService(key, attrs):
            return ["-E", *service_args(key), *_service_attr_args(attrs)]
        case DelService(key):
            return ["-D", *service_args(key)]
        case AddDest():
            return ["-a", *_dest_args(op)]
        case EditDest():
            return ["-e", *_dest_args(op)]
        case DelDest(key, dest):
            return ["-d", *service_args(key), "-r", str(dest)]
        case _:
            assert_never(op)


def ipvsadm_command(op: Op) -> str:
    """The command line as the original logs it (`ipvsadm -a -t ...`)."""
    return " ".join([IPVSADM, *ipvsadm_args(op)])


# ---- errors -----------------------------------------------------------------------------

#: The errno behind each of ipvsadm's messages: its wording of the kernel's answer.
_ERRNOS: tuple[tuple[str, int], ...] = (
    ("already exists", errno.EEXIST),
    ("No such service", errno.ESRCH),
    ("No such destination", errno.ENOENT),
    ("Service not defined", errno.ESRCH),
    ("not found", errno.ENOENT),
    ("Permission denied", errno.EACCES),
    ("not permitted", errno.EPERM),
    ("Protocol not available", errno.ENOPROTOOPT),
    ("Can't initialize ipvs", errno.ENOPROTOOPT),
)


def error_for(text: str, op: Op | None = None) -> IPVSError:
    """The exception for ipvsadm's error message (EINVAL, ERANGE, usage: InvalidArgument)."""
    message = text.strip() or "ipvsadm failed"
    code = next((code for needle, code in _ERRNOS if needle in message), errno.EINVAL)
    return refusal(code, message, op)


# ---- the backend ------------------------------------------------------------------------


class IpvsadmBackend:
    """The `Backend` that runs ipvsadm (when netlink is unusable)."""

    name = "ipvsadm"

    def __init__(self, program: str = IPVSADM) -> None:
        self._program = program

    @classmethod
    async def open(cls) -> IpvsadmBackend:
        """Find ipvsadm and check that it can list the table.

        Raises `PermissionDenied` when it can't for want of root, else `IPVSUnavailable`.
        """
        program = shutil.which(IPVSADM) or shutil.which(f"/sbin/{IPVSADM}")
        if program is None:
            raise IPVSUnavailable("ipvsadm is not installed")
        backend = cls(program)
        code, out, err = await backend._run(["-Ln"])
        if code != 0:
            error = error_for(err or out)
            if isinstance(error, PermissionDenied):
                raise error
            raise IPVSUnavailable(f"ipvsadm cannot list the table: {error}")
        return backend

    async def _run(self, args: Sequence[str]) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            self._program, *args, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    async def _listing(self, *extra: str) -> str:
        code, out, err = await self._run(["-Ln", *extra])
        if code != 0:
            raise error_for(err or out)
        return out

    async def read(self) -> Table:
        listing = await self._listing()
        return parse_tables(listing, await self._listing("--thresholds"))

    async def apply(self, ops: Sequence[Op]) -> None:
        for op in ops:
            check_op(op)
            code, out, err = await self._run(ipvsadm_args(op))
            if code != 0:
                raise error_for(err or out, op)

    async def flush(self) -> None:
        """Delete every service (`ipvsadm -C`)."""
        code, out, err = await self._run(["-C"])
        if code != 0:
            raise error_for(err or out)

    async def close(self) -> None:
        return None


if TYPE_CHECKING:
    _check: type[Backend] = IpvsadmBackend
