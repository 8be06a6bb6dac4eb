"""MariaDB and PostgreSQL on loopback (127.0.0.1 and ::1) for the mysql and pgsql checker tests.

Each server gets a throwaway data directory, a free port and the same small schema: database
`ldtest`, table `backends(id, enabled)` with one enabled row and one disabled, and a user
`checker` (password `s3cret`) that may read it, so wrong credentials really fail.
MariaDB runs as root (`--user=root`); PostgreSQL refuses to, so it runs as `postgres`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.protocols.faults import free_port
from tests.protocols.servers_tcp import HOSTS, Daemon, need, wait_until

USER = "checker"
PASSWORD = "s3cret"
DATABASE = "ldtest"

_MARIADB_INIT = f"""
CREATE DATABASE IF NOT EXISTS {DATABASE};
CREATE TABLE IF NOT EXISTS {DATABASE}.backends (id INT PRIMARY KEY, enabled INT NOT NULL);
INSERT IGNORE INTO {DATABASE}.backends VALUES (1, 1), (2, 0);
CREATE OR REPLACE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';
GRANT SELECT ON {DATABASE}.* TO '{USER}'@'%';
"""


@dataclass(frozen=True)
class SqlServer:
    port: int  # on 127.0.0.1 and ::1


def _mysql_login_works(port: int) -> bool:
    import pymysql

    for host in HOSTS:
        try:
            pymysql.connect(host=host, port=port, user=USER, password=PASSWORD,
                            database=DATABASE, connect_timeout=1).close()
        except pymysql.err.MySQLError:
            return False
    return True


@pytest.fixture(scope="module")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlServer]:
    pytest.importorskip("pymysql")
    mariadbd = need("mariadbd")
    install = need("mariadb-install-db")
    tmp = tmp_path_factory.mktemp("mariadb")
    data = tmp / "data"
    Daemon.start("mariadb-install-db", [install, "--no-defaults", f"--datadir={data}",
                                        "--user=root", "--skip-test-db",
                                        "--auth-root-authentication-method=socket"],
                 tmp / "install.log").proc.wait(timeout=120)
    (tmp / "init.sql").write_text(_MARIADB_INIT)
    port = free_port()
    daemon = Daemon.start("mariadbd", [
        mariadbd, "--no-defaults", f"--datadir={data}", f"--port={port}",
        "--bind-address=127.0.0.1,::1", f"--socket={tmp / 'mysqld.sock'}",
        f"--pid-file={tmp / 'mysqld.pid'}", "--user=root", f"--init-file={tmp / 'init.sql'}",
        "--innodb-buffer-pool-size=16M", "--performance-schema=0", "--skip-log-bin",
        f"--log-error={tmp / 'error.log'}",
    ], tmp / "mariadbd.log")
    try:
        try:
            wait_until(lambda: _mysql_login_works(port), "mariadbd", timeout=60,
                       proc=daemon.proc)
        except RuntimeError as exc:
            log = (tmp / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\n{log}") from None
        yield SqlServer(port)
    finally:
        daemon.stop()


def _pg_bin(program: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"),
                   key=lambda p: int(Path(p).parts[-3]))
    if not found:
        pytest.skip(f"PostgreSQL's {program} is not installed (see tests/deps/apt-f2.txt)")
    return found[-1]


def _pg_superuser_ready(port: int, password: str) -> bool:
    import psycopg

    try:
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", password=password,
                        dbname="postgres", connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def _pg_setup(port: int, password: str) -> None:
    import psycopg

    su = f"host=127.0.0.1 port={port} user=postgres password={password}"
    with psycopg.connect(su, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    with psycopg.connect(su, dbname=DATABASE, autocommit=True) as conn:
        conn.execute("CREATE TABLE backends (id INT PRIMARY KEY, enabled INT NOT NULL)")
        conn.execute("INSERT INTO backends VALUES (1, 1), (2, 0)")
        conn.execute(f"GRANT SELECT ON backends TO {USER}")


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[SqlServer]:
    pytest.importorskip("psycopg")
    initdb = _pg_bin("initdb")
    postgres = _pg_bin("postgres")
    # Not under pytest's root-only tmp dir: the postgres user must reach its data directory.
    tmp = Path(tempfile.mkdtemp(prefix="ldirectord-pgsql-"))
    try:
        shutil.chown(tmp, "postgres", "postgres")
        superpw = os.urandom(8).hex()
        pwfile = tmp / "pw"
        pwfile.write_text(superpw + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        Daemon.start("initdb", [initdb, "-D", str(tmp / "data"), "-U", "postgres",
                                "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                                "--no-sync", "--no-instructions"],
                     tmp / "initdb.log", user="postgres", cwd=tmp).proc.wait(timeout=120)
        port = free_port()
        # SIGINT: PostgreSQL's "fast" shutdown (ends sessions, no waiting for clients).
        daemon = Daemon.start("postgres", [
            postgres, "-D", str(tmp / "data"), "-p", str(port), "-k", str(tmp),
            "-c", "listen_addresses=127.0.0.1,::1", "-c", "fsync=off",
            "-c", "shared_buffers=16MB", "-c", "max_connections=20",
        ], tmp / "postgres.log", stop_signal=signal.SIGINT, user="postgres", cwd=tmp)
        try:
            try:
                wait_until(lambda: _pg_superuser_ready(port, superpw), "postgres", timeout=60,
                           proc=daemon.proc)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\n{daemon.tail()}") from None
            _pg_setup(port, superpw)
            yield SqlServer(port)
        finally:
            daemon.stop()
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
