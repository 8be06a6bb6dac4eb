"""Which virtual services an instance manages, recorded beside its pid file across restarts.

`<rundir>/ldirectord.<name>.services` names, one a line (`tcp:10.0.0.1:80`,
`udp:[2001:db8::1]:53`, `fwm:7`, `fwm6:7`), the virtual services of the config this
instance last ran with. It is rewritten (atomically) when that set changes: at start and
after each successful reload; a stop keeps it, since a stop with cleanstop=no leaves
services in the kernel that are still ours. At the next start the services it names
that the config no longer names are removed, as a reload removes a dropped virtual; a
service it does not name is never touched, so a service added by hand and another
instance's services (another name, another file) are safe.

A missing file is an empty set. A file that cannot be read or does not parse is logged
and also treated as empty: a bad record is never a reason to remove anything. A record
that cannot be written is logged and the daemon carries on.

The daemon and `supervised=yes` keep the file. A dry run and `-d` keep the record in
memory only (`Ownership(None)`), never reading or writing the file: a dry run promises
to write nothing outside memory, and `-d`, which writes no pid file either, is a debugging
session whose leftovers must not be taken for the instance's own (a service nobody owns
is left alone; one wrongly owned could be removed while it serves traffic).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Iterable

from ldirectord.config.model import IpvsProtocol
from ldirectord.ipvs.model import ServiceKey
from ldirectord.logsetup import log
from ldirectord.netloc import netloc
from ldirectord.runtime import pidfile

#: A record larger than this is not ours (a few hundred thousand services).
MAX_BYTES = 8 * 1024 * 1024
HEADER = ("# Virtual services managed by this ldirectord instance, written by the daemon.\n"
          "# At start, those its config no longer names are removed from the IPVS table.\n")


class RecordError(ValueError):
    """A line of the record that is not a virtual service."""


def services_path(name: str) -> str:
    """`<rundir>/ldirectord.<name>.services`, beside the pid file."""
    return os.path.join(pidfile.rundir(), f"ldirectord.{name}.services")


def format_key(key: ServiceKey) -> str:
    """One line of the record: the service as the original's virtual ids write it."""
    if key.fwmark is not None:
        return f"fwm6:{key.fwmark}" if key.ipv6 else f"fwm:{key.fwmark}"
    assert key.address is not None  # only firewall-mark services have none
    return f"{key.protocol.value}:{netloc(key.address, key.port)}"


def _port(text: str, line: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > 65535:
        raise RecordError(f"not a port in {line!r}")
    return int(text)


def parse_key(line: str) -> ServiceKey:
    """The service of one record line; RecordError if it is not one `format_key` writes."""
    kind, sep, rest = line.partition(":")
    if not sep:
        raise RecordError(f"not a virtual service: {line!r}")
    if kind in ("fwm", "fwm6"):
        if not rest.isascii() or not rest.isdigit() or not 0 < int(rest) < 2 ** 32:
            raise RecordError(f"not a firewall mark in {line!r}")
        return ServiceKey(IpvsProtocol.FWM, None, 0, int(rest), kind == "fwm6")
    if kind not in ("tcp", "udp"):
        raise RecordError(f"not a virtual service: {line!r}")
    if rest.startswith("["):
        host, sep, port = rest[1:].partition("]:")
    else:
        host, sep, port = rest.rpartition(":")
    if not sep:
        raise RecordError(f"not address:port in {line!r}")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise RecordError(f"not an IP address in {line!r}") from None
    if (address.version == 6) != rest.startswith("["):
        raise RecordError(f"not address:port in {line!r}")
    return ServiceKey(IpvsProtocol(kind), str(address), _port(port, line), None,
                      address.version == 6)


def parse_record(text: str) -> frozenset[ServiceKey]:
    """Every service of a record's text; RecordError on the first line that is not one."""
    keys: set[ServiceKey] = set()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keys.add(parse_key(line))
    return frozenset(keys)


def format_record(keys: Iterable[ServiceKey]) -> str:
    return HEADER + "".join(f"{line}\n" for line in sorted(format_key(k) for k in keys))


class Ownership:
    """The record of one instance: `load` once at start, `record` after every change.

    `keys` is what this instance owns now (what was loaded, then what was recorded).
    With `path` None everything stays in memory.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.keys: frozenset[ServiceKey] = frozenset()
        self._written: frozenset[ServiceKey] | None = None

    @classmethod
    def of_instance(cls, name: str, *, in_memory: bool) -> Ownership:
        """Instance `name`'s record: its file, or memory only (`--dry-run`, `-d`)."""
        return cls(None if in_memory else services_path(name))

    async def load(self) -> frozenset[ServiceKey]:
        """The services the file names ({} when absent, unreadable or corrupt: logged)."""
        if self.path is not None:
            self.keys = await asyncio.to_thread(self._read, self.path)
        return self.keys

    def _read(self, path: str) -> frozenset[ServiceKey]:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return frozenset()
        except OSError as exc:
            log.info("Ignoring %s: %s; no virtual service is removed because of it", path,
                     exc.strerror or exc)
            return frozenset()
        try:
            if len(data) > MAX_BYTES:
                raise RecordError(f"larger than {MAX_BYTES} bytes")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise RecordError("not UTF-8 text") from None
            keys = parse_record(text)
        except RecordError as exc:
            shown = str(exc).encode("ascii", "backslashreplace").decode("ascii")
            log.info("Ignoring %s: %s; no virtual service is removed because of it",
                     path, shown)
            return frozenset()
        self._written = keys
        return keys

    async def record(self, keys: frozenset[ServiceKey]) -> None:
        """Own exactly `keys` from now on; rewrite the file if it does not say so already."""
        self.keys = keys
        if self.path is None or keys == self._written:
            return
        try:
            await asyncio.to_thread(pidfile.write_atomically, self.path,
                                    format_record(keys).encode("ascii"))
        except OSError as exc:
            log.info("Could not record the managed virtual services in %s: %s", self.path,
                     exc.strerror or exc)
            return
        self._written = keys
