"""Run Apache Kafka (KRaft, one node) as a plain Java process from the Maven Central jars.

The lifecycle is: ensure jars -> write config -> format storage once -> ``java kafka.Kafka``
detached in its own session -> wait until a metadata request succeeds -> create topics.
Ports, pid and paths are recorded in ``state.json`` by the caller (:mod:`.api`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from . import kafka_files
from .kafka_dist import ensure_kafka_jars
from .kafka_ready import ensure_topics, wait_until_ready
from .procs import StackError, find_pid, pid_matches, port_open, run_sync, stop_pid, tail
from .settings import LOCALHOST, StackSettings

#: JVM flags for a small single-node broker (laptops, CI, the bench), not Kafka's server defaults.
#: Measured per JVM thread over a full-pilot replay on the 2-core bench machine (issue 6): with
#: Kafka's defaults (G1 with 20 ms pauses, tiered C1+C2 JIT) the broker used 20–23 CPU-s, of which
#: the C2 compiler threads 6 and G1 (concurrent marking + pauses) 3–5; the request handlers, the
#: actual work, 6.1–6.5. With the parallel collector and C1 only: 10.3 CPU-s in all, request
#: handlers 6.2 (C1's code is as fast here), C1 0.5, GC 0.3. A production broker keeps its own
#: JVM settings (deploy/k8s, Strimzi).
JVM_OPTS = (
    "-Xmx512m",
    "-Xms256m",
    "-XX:+UseParallelGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",  # listen on plain IPv4 127.0.0.1, not a v4-mapped v6 socket
)
MAIN_CLASS = "kafka.Kafka"


@dataclass(frozen=True)
class KafkaNode:
    """One single-node cluster: its files under ``var/stack/kafka/<version>`` and its ports.

    One folder per version: storage formatted by a newer Kafka cannot be opened by an older
    one, so switching ``CARBON_KAFKA_VERSION`` back and forth must not share data.
    """

    version: str
    libs: Path
    home: Path
    log_file: Path
    port: int
    controller_port: int

    @classmethod
    def from_settings(cls, s: StackSettings) -> KafkaNode:
        return cls(
            s.kafka_version,
            s.kafka_libs,
            s.kafka_dir / s.kafka_version,
            s.log_dir / "kafka.log",
            s.kafka_port,
            s.controller_port,
        )

    @property
    def bootstrap(self) -> str:
        return f"{LOCALHOST}:{self.port}"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def console_log(self) -> Path:
        return self.log_file.with_name("kafka-console.log")

    def is_ours(self, pid: int | None) -> bool:
        """True when ``pid`` is a live broker started from this stack's folder (any version)."""
        return pid_matches(pid, MAIN_CLASS, f"{self.home.parent}/")

    def find_running(self) -> int | None:
        """Our broker's pid found by its command line, for when ``state.json`` is gone."""
        return find_pid(MAIN_CLASS, f"{self.home.parent}/")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, console: Console, timeout: float = 120.0) -> int:
        """Start the broker and return its pid once it answers metadata requests."""
        for port in (self.port, self.controller_port):
            if port_open(LOCALHOST, port):
                raise StackError(
                    f"Port {port} is already in use by another process; stop it or choose other ports "
                    "(CARBON_KAFKA_PORT / CARBON_KAFKA_CONTROLLER_PORT or --kafka-port/--controller-port)."
                )
        java = _java()
        ensure_kafka_jars(self.version, self.libs, console)
        self._write_files()
        self._format_once(java)
        started = time.monotonic()
        with self.console_log.open("ab") as out:
            proc = subprocess.Popen(
                [
                    java,
                    *JVM_OPTS,
                    *self._logging_opts(),
                    "-cp",
                    f"{self.libs}/*",
                    MAIN_CLASS,
                    str(self.properties),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.home,
            )
        try:
            with console.status(f"Waiting for Kafka {self.version} on {self.bootstrap}"):
                run_sync(
                    wait_until_ready(
                        self.bootstrap,
                        alive=lambda: proc.poll() is None,
                        log_file=self.log_file,
                        within=timeout,
                    )
                )
        except BaseException:
            stop_pid(proc.pid, grace=10)
            raise
        console.print(
            f"[green]✓[/] Kafka {self.version} ready on {self.bootstrap} "
            f"(pid {proc.pid}, {time.monotonic() - started:.1f}s to ready)"
        )
        return proc.pid

    def create_topics(self, partitions: dict[str, int]) -> list[str]:
        return run_sync(ensure_topics(self.bootstrap, partitions))

    def stop(self, pid: int) -> bool:
        """Controlled shutdown (SIGTERM); returns True if it had to be SIGKILLed."""
        return stop_pid(pid, grace=45)

    # -- helpers -----------------------------------------------------------------------------
    def _logging_opts(self) -> list[str]:
        return [
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.log_file.parent}",
        ]

    def _write_files(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(
            kafka_files.server_properties(
                port=self.port, controller_port=self.controller_port, data_dir=self.data_dir
            ),
            encoding="utf-8",
        )
        (self.home / "log4j2.xml").write_text(kafka_files.log4j2_xml(self.log_file), encoding="utf-8")

    def _format_once(self, java: str) -> None:
        """``kafka-storage format`` on first start only; later starts keep topics and offsets."""
        if (self.data_dir / "meta.properties").exists():
            return
        shutil.rmtree(self.data_dir, ignore_errors=True)
        cmd = [
            java,
            *self._logging_opts(),
            "-cp",
            f"{self.libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            kafka_files.random_cluster_id(),
            "--config",
            str(self.properties),
            "--ignore-formatted",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(
                f"kafka-storage format failed:\n{result.stdout}\n{result.stderr}\n{tail(self.log_file, 20)}"
            )


def _java() -> str:
    """The ``java`` to use (``$JAVA_HOME`` first), refusing anything older than Java 17."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise StackError("Java 17+ is needed for Kafka: install OpenJDK 17 or set JAVA_HOME.")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):
        major = int(match.group(2))
    if major < 17:
        raise StackError(f"Kafka 4 needs Java 17 or newer; {java} reports: {out.strip()[:200]}")
    return java
