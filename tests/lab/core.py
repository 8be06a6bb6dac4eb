"""The lab itself: a bridge, one network namespace per real-server host, server processes.

See the package docstring for the topology. All commands are argv lists (no shell); every
name the lab creates starts with its prefix, so `cleanup_stale()` can remove what a killed
run left behind without touching anything else.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import TracebackType

from tests.lab import servers

START_DEADLINE = 20.0  # seconds for a server to accept (nginx/proftpd under TCG emulation)
STOP_DEADLINE = 10.0


class LabError(RuntimeError):
    """Setting up the lab or a server in it failed; the message says what and why."""


class Kind(Enum):
    """A real server program the lab can run in a host."""

    HTTP = "http"  # nginx
    FTP = "ftp"  # proftpd
    SINK = "sink"  # tcpsink.py: every local address of the namespace

    @property
    def default_port(self) -> int:
        return {Kind.HTTP: 80, Kind.FTP: 21, Kind.SINK: 80}[self]


@dataclass(frozen=True, slots=True)
class Host:
    """A real-server host: a namespace with one address on the lab's bridge."""

    name: str
    netns: str
    veth: str  # the root-namespace end, enslaved to the bridge
    address: str


@dataclass(frozen=True, slots=True)
class AnyIPHost:
    """A host that owns a whole prefix (a `local` route): one listener answers on all of it."""

    host: Host
    prefix: ipaddress.IPv4Network

    def addresses(self, count: int) -> list[str]:
        """The first `count` usable addresses of the prefix."""
        out: list[str] = []
        for addr in self.prefix.hosts():
            if len(out) == count:
                break
            out.append(str(addr))
        if len(out) < count:
            raise LabError(f"{self.prefix} has fewer than {count} addresses")
        return out


@dataclass
class _Server:
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path
    log: Path


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")


def _batch(lines: list[list[str]], netns: str | None = None) -> None:
    """Several `ip` commands in one process (each spawn costs ~0.3 s under emulation)."""
    argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    text = "".join(" ".join(line) + "\n" for line in lines)
    done = subprocess.run(argv, input=text, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)} <<{text!r}: exit {done.returncode}: "
                       f"{done.stderr.strip()}")


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Lab:
    """Real-server namespaces on a bridge; a context manager that removes all it made."""

    prefix: str = "ldlab"
    network: str = "10.0.1.0/24"
    _hosts: dict[str, Host] = field(default_factory=dict)
    _servers: dict[tuple[str, Kind], _Server] = field(default_factory=dict)
    _routes: list[str] = field(default_factory=list)
    _workdir: Path | None = None
    _bridge_up: bool = False

    # -- topology -------------------------------------------------------------------------

    @property
    def bridge(self) -> str:
        return f"{self.prefix}0"

    @property
    def director(self) -> str:
        """The root namespace's address on the bridge (checks come from here)."""
        return str(next(ipaddress.IPv4Network(self.network).hosts()))

    def __enter__(self) -> Lab:
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, a bridge)")
        self.cleanup_stale()
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self._workdir.chmod(0o755)
        net = ipaddress.IPv4Network(self.network)
        self._bridge_up = True
        _batch([["link", "add", self.bridge, "type", "bridge"],
                ["addr", "add", f"{self.director}/{net.prefixlen}", "dev", self.bridge],
                ["link", "set", self.bridge, "up"]])
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop every server, delete the namespaces, routes and the bridge."""
        for host_name, kind in list(self._servers):
            self.stop(self._hosts[host_name], kind)
        for route in self._routes:
            subprocess.run(["ip", "route", "del", route], capture_output=True, check=False)
        self._routes.clear()
        for host in self._hosts.values():
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True, check=False)
            subprocess.run(["ip", "link", "del", host.veth], capture_output=True, check=False)
        self._hosts.clear()
        if self._bridge_up:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
            self._bridge_up = False
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def cleanup_stale(self) -> None:
        """Remove namespaces and links with this lab's prefix left by a killed run."""
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                check=False).stdout
        for line in listed.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(f"{self.prefix}-"):
                subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                               check=False).stdout
        for line in links.splitlines():
            parts = line.split(":")
            if len(parts) > 1:
                name = parts[1].strip().split("@")[0]
                if name == self.bridge or name.startswith(f"{self.prefix}-"):
                    subprocess.run(["ip", "link", "del", name], capture_output=True,
                                   check=False)

    def add_host(self, name: str, address: str | None = None) -> Host:
        """A namespace `<prefix>-<name>` at `address` (default: .11, .12, ... in order)."""
        if name in self._hosts:
            raise LabError(f"host {name} exists")
        net = ipaddress.IPv4Network(self.network)
        if address is None:
            address = str(net.network_address + 11 + len(self._hosts))
        host = Host(name=name, netns=f"{self.prefix}-{name}", veth=f"{self.prefix}-{name}",
                    address=address)
        if len(host.veth) > 15:
            raise LabError(f"interface name {host.veth!r} is longer than 15 characters")
        self._hosts[name] = host  # registered first, so close() removes a half-made host
        _batch([["netns", "add", host.netns],
                ["link", "add", host.veth, "type", "veth", "peer", "name", "eth0",
                 "netns", host.netns],
                ["link", "set", host.veth, "master", self.bridge],
                ["link", "set", host.veth, "up"]])
        _batch([["addr", "add", f"{address}/{net.prefixlen}", "dev", "eth0"],
                ["link", "set", "eth0", "up"],
                ["link", "set", "lo", "up"],
                ["route", "add", "default", "via", self.director]], netns=host.netns)
        return host

    def add_anyip_host(self, name: str, prefix: str, address: str | None = None) -> AnyIPHost:
        """A host that accepts every address of `prefix` as its own (routed via the bridge)."""
        host = self.add_host(name, address)
        _run("ip", "-n", host.netns, "route", "add", "local", prefix, "dev", "lo")
        _run("ip", "route", "add", prefix, "via", host.address)
        self._routes.append(prefix)
        return AnyIPHost(host, ipaddress.IPv4Network(prefix))

    def hosts(self) -> list[Host]:
        return list(self._hosts.values())

    # -- servers --------------------------------------------------------------------------

    def start(self, host: Host, kind: Kind, port: int | None = None,
              probe: str | None = None) -> None:
        """Start `kind` in `host` on `port` and return once it accepts connections.

        `probe` is the address to test readiness on (default: the host's own address;
        give one of an AnyIPHost's addresses for a sink).
        """
        key = (host.name, kind)
        if key in self._servers:
            raise LabError(f"{kind.value} already runs in {host.name}")
        assert self._workdir is not None, "use the lab as a context manager"
        port = kind.default_port if port is None else port
        d = Path(tempfile.mkdtemp(prefix=f"{host.name}-{kind.value}-", dir=self._workdir))
        match kind:
            case Kind.HTTP:
                argv = servers.nginx(d, host.address, port)
            case Kind.FTP:
                argv = servers.proftpd(d, host.name, host.address, port)
            case Kind.SINK:
                argv = servers.tcpsink(port)
        log = d / "output.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(["ip", "netns", "exec", host.netns, *argv],
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self._servers[key] = _Server(proc, port, d, log)
        self._wait_accepting(host, kind, probe or host.address)

    def _wait_accepting(self, host: Host, kind: Kind, address: str) -> None:
        server = self._servers[(host.name, kind)]
        deadline = time.monotonic() + START_DEADLINE
        while not _accepts(address, server.port):
            if server.proc.poll() is not None or time.monotonic() > deadline:
                text = server.log.read_text(errors="replace")[-2000:]
                self.stop(host, kind)
                raise LabError(f"{kind.value} in {host.name} did not start on "
                               f"{address}:{server.port}: {text}")
            time.sleep(0.05)  # readiness poll, bounded by the deadline

    def stop(self, host: Host, kind: Kind) -> None:
        """Stop `kind` in `host` (its whole process group); a refused connect from now on."""
        server = self._servers.pop((host.name, kind), None)
        if server is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(STOP_DEADLINE)
        shutil.rmtree(server.workdir, ignore_errors=True)

    def running(self, host: Host, kind: Kind) -> bool:
        server = self._servers.get((host.name, kind))
        return server is not None and server.proc.poll() is None

    # -- faults ---------------------------------------------------------------------------

    def blackhole(self, host: Host) -> None:
        """Silently drop the host's replies to the director: connects to it time out."""
        # A /32 beats the connected /24, so only traffic to the director is dropped.
        _run("ip", "-n", host.netns, "route", "add", "blackhole", f"{self.director}/32")

    def unblackhole(self, host: Host) -> None:
        _run("ip", "-n", host.netns, "route", "del", "blackhole", f"{self.director}/32")
