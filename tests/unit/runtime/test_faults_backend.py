"""Which IPVS backend the daemon runs on: a forced backend (LDIRECTORD_IPVS) never falls back."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ldirectord.errors import IPVSError, IPVSUnavailable
from ldirectord.invocation import ExitCode
from ldirectord.ipvs import select
from ldirectord.ipvs.backend import Backend
from ldirectord.runtime.daemon import DaemonOptions, open_daemon_backend, serve
from ldirectord.runtime.daemonize import Readiness
from tests.unit.runtime.harness import config, virtual

DEBUG = DaemonOptions(config_path="/etc/ha.d/ldirectord.cf", name="ldirectord", debug=True)


@pytest.fixture
def broken_ipvsadm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `ipvsadm` first on PATH that fails as it does on a kernel without IPVS."""
    program = tmp_path / "ipvsadm"
    program.write_text("#!/bin/sh\necho \"Can't initialize ipvs: Protocol not available\" >&2\n"
                       "exit 2\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    return program


async def no_kernel(prefer: str | None = None) -> Backend:
    raise IPVSUnavailable("no IPVS in this kernel")


@pytest.mark.asyncio
async def test_a_forced_backend_that_fails_is_an_error_in_debug_mode_too(
        broken_ipvsadm: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(select.ENV_VAR, "ipvsadm")
    with pytest.raises(IPVSError) as caught:
        await open_daemon_backend(DEBUG)
    message = str(caught.value)
    assert message.startswith("LDIRECTORD_IPVS=ipvsadm: ")
    assert "Protocol not available" in message
    assert message.endswith("; a forced backend never falls back")
    assert "in-memory" not in caplog.text


@pytest.mark.asyncio
async def test_the_daemon_in_debug_mode_exits_when_the_forced_backend_fails(
        broken_ipvsadm: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ldirectord")
    monkeypatch.setenv(select.ENV_VAR, "ipvsadm")
    code = await serve(config(virtual("10.0.0.2")), DEBUG, Readiness(None))
    assert code == ExitCode.INVALID
    lines = [r.getMessage() for r in caplog.records if r.name == "ldirectord"]
    assert len(lines) == 1
    assert lines[0].startswith("Could not open IPVS: LDIRECTORD_IPVS=ipvsadm: ")


@pytest.mark.asyncio
async def test_an_unknown_forced_backend_is_an_error_in_debug_mode(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(select.ENV_VAR, "netlnk")
    with pytest.raises(IPVSError, match="unknown IPVS backend 'netlnk'"):
        await open_daemon_backend(DEBUG)


@pytest.mark.asyncio
async def test_forcing_the_memory_table_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(select.ENV_VAR, "memory")
    backend = await open_daemon_backend(DEBUG)
    assert backend.name == "memory"
    assert await backend.read() == {}


@pytest.mark.asyncio
async def test_without_a_forced_backend_debug_mode_falls_back_to_memory(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ldirectord")
    monkeypatch.delenv(select.ENV_VAR, raising=False)
    monkeypatch.setattr(select, "open_backend", no_kernel)  # a kernel without IPVS
    backend = await open_daemon_backend(DEBUG)
    assert backend.name == "memory"
    assert "No usable IPVS (no IPVS in this kernel): using an in-memory IPVS table" \
        in caplog.text
    # Without -d the same kernel is an error.
    with pytest.raises(IPVSUnavailable):
        await open_daemon_backend(DaemonOptions(config_path=DEBUG.config_path, name="x"))
