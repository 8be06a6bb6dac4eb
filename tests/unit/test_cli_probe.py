"""`ldirectord --probe`: one line per (virtual, real), exit 0 all up / 1 any down / 2 broken."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldirectord.cli import main
from tests.protocols import faults


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def write(tmp_path: Path, *ports: int, checktype: str = "connect") -> Path:
    path = tmp_path / "probe.cf"
    reals = "".join(f"\treal=127.0.0.1:{p} masq\n" for p in ports)
    path.write_text(
        f'logfile="{tmp_path / "ld.log"}"\nchecktimeout=1\n\n'
        f"virtual=10.9.9.9:80\n{reals}\tservice=http\n\tchecktype={checktype}\n"
        f"\nvirtual=10.9.9.8:80\n{reals}\tservice=http\n\tchecktype={checktype}\n")
    return path


def test_all_up_exits_0(tmp_path: Path, listener: int, capsys: pytest.CaptureFixture[str]
                        ) -> None:
    assert main(["--probe", str(write(tmp_path, listener))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # one per (virtual, real), the same real checked once
    assert lines[0].split()[:4] == ["tcp:10.9.9.9:80", f"127.0.0.1:{listener}", "connect", "up"]
    assert lines[1].split()[0] == "tcp:10.9.9.8:80"
    assert lines[0].endswith("s")


def test_a_down_real_exits_1(tmp_path: Path, listener: int,
                             capsys: pytest.CaptureFixture[str]) -> None:
    dead = faults.refused_target().port
    assert main(["--probe", str(write(tmp_path, listener, dead))]) == 1
    out = capsys.readouterr().out
    down = [line for line in out.splitlines() if f"127.0.0.1:{dead}" in line]
    assert len(down) == 2
    assert all(" down " in line and "refused" in line for line in down)


def test_checktype_off_is_listed_not_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    assert main(["--probe", str(write(tmp_path, 1, checktype="off"))]) == 0
    assert "not checked" in capsys.readouterr().out


def test_broken_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.cf"
    path.write_text("bogus=1\n")
    assert main(["--probe", str(path)]) == 2
    assert "bad.cf:1" in capsys.readouterr().err


def test_missing_config_exits_1(tmp_path: Path) -> None:
    assert main(["--probe", str(tmp_path / "none.cf")]) == 1
