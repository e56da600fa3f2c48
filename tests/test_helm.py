"""The Helm chart: rendered by Helm's own Go library (helm-python-sdk, no helm binary), every
manifest validated against the Kubernetes schemas, and what an operator relies on checked in code.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from egsu.core.settings import Settings
from egsu.gateway.config import DEFAULT_AREAS
from egsu.realm.export import keycloak_realm, secret_placeholder
from egsu.realm.model import RealmDefinition

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "egsu"
REALM_FILE = CHART / "files" / "realm-egsu.json"
VALUES_FILES = {"default": None, "dev": "values-dev.yaml", "production": "values-production.yaml"}
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas known.
KUBE_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
# Custom resources have no schema in kubernetes-validate; these are checked by hand below.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
RELEASE = "egsu"
Doc = dict[str, Any]


def chart() -> helm.Chart:
    """A freshly loaded chart (rendering drops the disabled dependencies from a loaded chart)."""
    return helm.Chart.load(CHART)


def values_of(flavour: str) -> dict[str, Any]:
    name = VALUES_FILES[flavour]
    return yaml.safe_load((CHART / name).read_text()) if name else {}


def render(values: dict[str, Any] | None = None, *, upgrade: bool = False) -> list[Doc]:
    with chart() as c:
        out = c.render(
            values or {},
            name=RELEASE,
            namespace=RELEASE,
            is_install=not upgrade,
            is_upgrade=upgrade,
        )
    docs = []
    for template, text in sorted(out.items()):
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc["__template__"] = template
                docs.append(doc)
    return docs


@cache
def rendered(flavour: str) -> tuple[Doc, ...]:
    return tuple(render(values_of(flavour)))


def k8s(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k != "__template__"}


def of_kind(docs: tuple[Doc, ...] | list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def by_name(docs: tuple[Doc, ...] | list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in of_kind(docs, kind)}


def pod_specs(docs: tuple[Doc, ...] | list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            yield d, d["spec"]["template"]


def env_of(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector matches the labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
        if expr["operator"] == "Exists" and value is None:
            return False
    return True


def peer_admits(peer: Doc, labels: dict[str, str]) -> bool:
    """Whether a NetworkPolicy peer admits a pod of the release's namespace with these labels."""
    if "ipBlock" in peer:
        return False
    ns = peer.get("namespaceSelector")
    if ns is not None and ns != {}:
        return False  # another namespace (the release's namespace carries no such label here)
    return selects(peer.get("podSelector", {}), labels)


def pod_labels(deployments: dict[str, Doc], name: str) -> dict[str, str]:
    return deployments[f"{RELEASE}-{name}"]["spec"]["template"]["metadata"]["labels"]


def ports_of(rule: Doc) -> set[int | str]:
    return {p["port"] for p in rule.get("ports", [])}


# --- rendering and schemas -----------------------------------------------------------------------


@pytest.mark.parametrize("flavour", VALUES_FILES)
@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_every_manifest_is_valid_kubernetes(flavour: str, kube: str) -> None:
    docs = rendered(flavour)
    assert of_kind(docs, "Deployment"), "nothing rendered"
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(k8s(doc), kube, strict=True)
        except kubernetes_validate.ValidationError as e:
            where = ".".join(str(p) for p in e.path)
            pytest.fail(
                f"{doc['__template__']}: {doc['kind']}/{doc['metadata']['name']}: "
                f"{where}: {e.message}"
            )


@pytest.mark.parametrize("flavour", VALUES_FILES)
def test_service_monitors_point_at_the_metrics_endpoint(flavour: str) -> None:
    docs = rendered(flavour)
    monitors = of_kind(docs, "ServiceMonitor")
    services = by_name(docs, "Service")
    if flavour != "production":
        assert not monitors  # off unless asked for: the CRD may not exist
        return
    assert {m["metadata"]["name"] for m in monitors} == set(services)
    for m in monitors:
        svc = services[m["metadata"]["name"]]
        assert m["spec"]["selector"]["matchLabels"].items() <= svc["spec"]["selector"].items()
        assert m["spec"]["endpoints"] == [
            {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
        ]
        assert m["metadata"]["labels"]["release"] == "prometheus"


@pytest.mark.parametrize("flavour", VALUES_FILES)
def test_helm_lint_finds_nothing_but_the_absent_optional_subcharts(flavour: str) -> None:
    name = VALUES_FILES[flavour]
    report = helm.lint(CHART, values_of(flavour) if name else None, strict=False, namespace=RELEASE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert all(
        "missing these dependencies: nats,minio,keycloakx" in m["error"] for m in problems
    ), problems
    assert not report["errors"]


def test_values_schema_is_closed_and_every_value_is_documented() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_on_purpose = {
        "global",
        "nats",
        "minio",
        "keycloak",
    }  # Helm's globals; sub-charts' own values

    def walk(node: Doc, path: str) -> Iterator[str]:
        if node.get("type") == "object" and "properties" in node:
            if (
                path.rsplit(".", 1)[-1] not in open_on_purpose
                and node.get("additionalProperties") is not False
            ):
                yield f"{path} is not closed (additionalProperties: false)"
            for key, sub in node["properties"].items():
                if not sub.get("description"):
                    yield f"{path}.{key} has no description"
                yield from walk(sub, f"{path}.{key}")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            yield from walk(extra, f"{path}.*")
        if isinstance(node.get("items"), dict):
            yield from walk(node["items"], f"{path}[]")

    assert list(walk(schema, "values")) == []
    assert set(schema["properties"]) - {"global"} == set(
        yaml.safe_load((CHART / "values.yaml").read_text())
    )


def test_misspelt_or_unsafe_values_are_refused() -> None:
    with pytest.raises(helm.HelmValuesError, match="servics"):
        render({"servics": {"registry": {"enabled": True}}})
    with pytest.raises(helm.HelmValuesError, match="replicas"):
        render({"services": {"registry": {"enabled": True, "replicas": 0}}})
    with pytest.raises(helm.HelmValuesError, match="url"):
        render(
            {"database": {"existingSecret": "", "url": "postgresql://egsu:hunter2@db:5432/egsu"}}
        )
    # A URL without a password is fine when the database trusts the pod another way.
    docs = render({"database": {"existingSecret": "", "url": "postgresql://egsu@db:5432/egsu"}})
    registry = by_name(docs, "Deployment")[f"{RELEASE}-registry"]
    assert env_of(registry["spec"]["template"]["spec"]["containers"][0])["EGSU_DATABASE_URL"][
        "value"
    ] == ("postgresql://egsu@db:5432/egsu")


def test_optional_subcharts_are_declared_but_off_and_refused_when_absent() -> None:
    declared = yaml.safe_load((CHART / "Chart.yaml").read_text())["dependencies"]
    deps = {d.get("alias", d["name"]): d for d in declared}
    assert set(deps) == {"nats", "minio", "keycloak"}
    assert all(d["condition"] == f"{name}.enabled" for name, d in deps.items())
    assert all(
        values_of(f).get(name, {}).get("enabled", False) is False
        for f in VALUES_FILES
        for name in deps
    )
    for name in deps:
        with pytest.raises(
            helm.HelmRenderError, match=f"{name}.enabled is true.*helm dependency update"
        ):
            render({name: {"enabled": True}})


# --- what every pod must be ----------------------------------------------------------------------


@pytest.mark.parametrize("flavour", VALUES_FILES)
def test_every_container_is_probed_limited_and_locked_down(flavour: str) -> None:
    docs = rendered(flavour)
    for owner, template in pod_specs(docs):
        spec = template["spec"]
        where = f"{owner['kind']}/{owner['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), where
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), where
            assert any(
                m["mountPath"] == "/tmp"  # noqa: S108 - the pod's own emptyDir
                and m["name"] in tmp_volumes
                for m in c["volumeMounts"]
            ), where
            if owner["kind"] == "Deployment":
                assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", where
                assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", where
                assert c["startupProbe"]["httpGet"]["path"] == "/healthz", where
                assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}], (
                    where
                )


@pytest.mark.parametrize("flavour", VALUES_FILES)
def test_every_process_has_its_service_account_service_budget_and_network_policy(
    flavour: str,
) -> None:
    docs = rendered(flavour)
    deployments = by_name(docs, "Deployment")
    policies = of_kind(docs, "NetworkPolicy")
    for name, d in deployments.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["template"]["spec"]["serviceAccountName"] in by_name(
            docs, "ServiceAccount"
        )
        assert selects({"matchLabels": by_name(docs, "Service")[name]["spec"]["selector"]}, labels)
        assert selects(by_name(docs, "PodDisruptionBudget")[name]["spec"]["selector"], labels)
        governing = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        assert len(governing) == 1, f"{name}: {len(governing)} network policies"
        assert governing[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert (
            d["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["topologyKey"]
            == "kubernetes.io/hostname"
        )
    job_labels = by_name(docs, "Job")[f"{RELEASE}-migrate"]["spec"]["template"]["metadata"][
        "labels"
    ]
    assert len([p for p in policies if selects(p["spec"]["podSelector"], job_labels)]) == 1


def test_no_secret_value_is_in_any_manifest() -> None:
    realm = RealmDefinition.load()
    dev_secrets = [c.secret for c in realm.clients.values() if c.secret]
    for flavour in VALUES_FILES:
        docs = rendered(flavour)
        assert not of_kind(docs, "Secret")
        text = yaml.safe_dump([k8s(d) for d in docs], allow_unicode=True)
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "a URL with a password"
        for secret in dev_secrets:
            assert secret not in text, "a development client secret"
        exported = realm_of(docs)
        assert not any("credentials" in u for u in exported["users"]), "a user with a password"
        assert all(
            c["secret"].startswith("${EGSU_CLIENT_SECRET_")
            for c in exported["clients"]
            if "secret" in c
        )
        for _, template in pod_specs(docs):
            for c in template["spec"]["containers"]:
                for name, e in env_of(c).items():
                    if re.search(r"SECRET|PASSWORD|ACCESS_KEY|TOKEN|DATABASE_URL", name):
                        assert "valueFrom" in e, f"{flavour}: {name} has a literal value"


def test_secrets_come_from_the_named_existing_secrets() -> None:
    docs = rendered("production")
    refs: dict[str, set[tuple[str, str]]] = {}
    for _, template in pod_specs(docs):
        for c in template["spec"]["containers"]:
            for name, e in env_of(c).items():
                if "valueFrom" in e:
                    ref = e["valueFrom"]["secretKeyRef"]
                    refs.setdefault(name, set()).add((ref["name"], ref["key"]))
    assert refs["EGSU_DATABASE_URL"] == {
        ("egsu-pg-app", "uri")
    }  # CloudNativePG's application Secret
    assert refs["EGSU_NATS_PASSWORD"] == {("egsu-nats", "password")}
    assert refs["EGSU_S3_SECRET_KEY"] == {("egsu-object-store", "secretKey")}
    assert ("egsu-client-secrets", "EGSU_CLIENT_SECRET_EGSU_REGISTRY") in refs["EGSU_CLIENT_SECRET"]


# --- network policies ----------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", VALUES_FILES)
def test_only_the_gateway_and_other_services_reach_a_service(flavour: str) -> None:
    docs = rendered(flavour)
    deployments = by_name(docs, "Deployment")
    policies = by_name(docs, "NetworkPolicy")
    job = by_name(docs, "Job")[f"{RELEASE}-migrate"]["spec"]["template"]["metadata"]["labels"]
    stranger = {"app": "something-else"}
    gateway = pod_labels(deployments, "gateway")
    for name, d in deployments.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        rules = policies[name]["spec"]["ingress"]
        if labels["egsu.kz/tier"] == "gateway":
            continue
        assert all("from" in r for r in rules), f"{name} is open to anyone"
        admitted = [peer for r in rules if "http" in ports_of(r) for peer in r["from"]]
        assert any(peer_admits(p, gateway) for p in admitted), name
        assert not any(peer_admits(p, stranger) or peer_admits(p, job) for p in admitted), name
        others = [
            n
            for n, o in deployments.items()
            if o["spec"]["template"]["metadata"]["labels"]["egsu.kz/tier"] == "service"
        ]
        if labels["egsu.kz/tier"] == "service":
            # services call each other with client-credentials tokens
            for other in others:
                other_labels = deployments[other]["spec"]["template"]["metadata"]["labels"]
                assert any(peer_admits(p, other_labels) for p in admitted), (
                    f"{other} cannot call {name}"
                )
    if flavour == "production":
        ingress = policies[f"{RELEASE}-gateway"]["spec"]["ingress"]
        assert all("from" in r for r in ingress)
        assert not any(peer_admits(p, stranger) for r in ingress for p in r["from"])


def test_callers_narrow_who_may_call_a_service() -> None:
    docs = render(
        {
            "services": {
                "audit": {"enabled": True},
                "reports": {"enabled": True},
                "registry": {"enabled": True, "callers": ["reports"]},
            }
        }
    )
    deployments = by_name(docs, "Deployment")
    rules = by_name(docs, "NetworkPolicy")[f"{RELEASE}-registry"]["spec"]["ingress"]
    admitted = [peer for r in rules for peer in r["from"]]
    assert any(peer_admits(p, pod_labels(deployments, "reports")) for p in admitted)
    assert not any(peer_admits(p, pod_labels(deployments, "audit")) for p in admitted)
    with pytest.raises(helm.HelmRenderError, match='callers names "nobody"'):
        render({"services": {"registry": {"enabled": True, "callers": ["nobody"]}}})


@pytest.mark.parametrize("flavour", VALUES_FILES)
def test_only_services_reach_postgresql_nats_and_the_object_store(flavour: str) -> None:
    docs = rendered(flavour)
    with chart() as c:
        values = c.merge_values(values_of(flavour))
    policies = by_name(docs, "NetworkPolicy")
    backend_ports = {
        b: set(values["networkPolicy"]["egress"][b]["ports"])
        for b in ("database", "bus", "objectStore")
    }
    for name, d in by_name(docs, "Deployment").items():
        process = name.removeprefix(f"{RELEASE}-")
        entry = values["services"][process]
        uses = set(entry.get("uses", values["serviceDefaults"]["uses"]))
        rules = [ports_of(r) for r in policies[name]["spec"]["egress"]]
        for backend, ports in backend_ports.items():
            assert (backend in uses) == (ports in rules), f"{process} and {backend}"
        env = env_of(d["spec"]["template"]["spec"]["containers"][0])
        assert ("EGSU_DATABASE_URL" in env) == ("database" in uses)
        assert ("EGSU_S3_ENDPOINT" in env) == ("objectStore" in uses)
    gateway_uses = set(values["services"]["gateway"]["uses"])
    assert not {"database", "objectStore"} & gateway_uses  # the gateway keeps nothing
    assert "oidc" in gateway_uses  # it verifies tokens against the realm
    migrate = policies[f"{RELEASE}-migrate"]["spec"]
    assert migrate["ingress"] == []
    assert {p for r in migrate["egress"] for p in ports_of(r)} == {53, 5432}


def test_production_backend_policy_admits_only_the_database_users() -> None:
    docs = rendered("production")
    deployments = by_name(docs, "Deployment")
    policy = by_name(docs, "NetworkPolicy")[f"{RELEASE}-database"]["spec"]
    assert policy["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "egsu-pg"}}
    client_rule = next(r for r in policy["ingress"] if ports_of(r) == {5432})
    job = by_name(docs, "Job")[f"{RELEASE}-migrate"]["spec"]["template"]["metadata"]["labels"]
    assert any(peer_admits(p, job) for p in client_rule["from"])
    assert any(peer_admits(p, pod_labels(deployments, "registry")) for p in client_rule["from"])
    assert not any(
        peer_admits(p, pod_labels(deployments, "gateway"))
        for r in policy["ingress"]
        for p in r["from"]
    )
    assert not any(
        peer_admits(p, pod_labels(deployments, "web")) for r in policy["ingress"] for p in r["from"]
    )


# --- production and development ------------------------------------------------------------------


def test_production_is_highly_available() -> None:
    docs = rendered("production")
    hpas = by_name(docs, "HorizontalPodAutoscaler")
    deployments = by_name(docs, "Deployment")
    assert len(deployments) == 10  # the gateway, the console and the eight services
    for name, d in deployments.items():
        spec = d["spec"]["template"]["spec"]
        floor = hpas[name]["spec"]["minReplicas"] if name in hpas else d["spec"]["replicas"]
        assert floor >= 2, name
        assert "replicas" not in d["spec"] or name not in hpas, (
            f"{name}: the autoscaler owns the replicas"
        )
        assert spec["affinity"]["podAntiAffinity"], name
        spread = {
            c["topologyKey"]: c["whenUnsatisfiable"] for c in spec["topologySpreadConstraints"]
        }
        assert spread == {
            "kubernetes.io/hostname": "DoNotSchedule",
            "topology.kubernetes.io/zone": "ScheduleAnyway",
        }
        assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        env = env_of(spec["containers"][0])
        if "EGSU_NATS_URL" in env:
            assert env["EGSU_STREAM_REPLICAS"]["value"] == "3"
            assert len(env["EGSU_NATS_URL"]["value"].split(",")) == 3
        assert env["EGSU_OTLP_ENDPOINT"]["value"].startswith("http")
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        assert pdb["spec"]["maxUnavailable"] == 1
    assert by_name(docs, "Ingress")[RELEASE]["spec"]["tls"][0]["secretName"] == "egsu-tls"


def test_dev_runs_on_a_single_node() -> None:
    docs = rendered("dev")
    assert not of_kind(docs, "HorizontalPodAutoscaler")
    for d in of_kind(docs, "Deployment"):
        spec = d["spec"]["template"]["spec"]
        assert d["spec"]["replicas"] == 1
        assert "affinity" not in spec
        assert all(
            c["whenUnsatisfiable"] == "ScheduleAnyway" for c in spec["topologySpreadConstraints"]
        )
        env = env_of(spec["containers"][0])
        assert env["EGSU_ENVIRONMENT"]["value"] == "dev"
        if "EGSU_STREAM_REPLICAS" in env:
            assert env["EGSU_STREAM_REPLICAS"]["value"] == "1"


def test_adding_a_service_is_one_entry_in_values() -> None:
    docs = render({"services": {"tariffs": {"enabled": True}}})
    name = f"{RELEASE}-tariffs"
    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"):
        assert name in by_name(docs, kind), kind
    c = by_name(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "egsu/tariffs:0.1.0"
    assert c["args"][:2] == ["--factory", "egsu.tariffs.app:create_app"]
    env = env_of(c)
    assert env["EGSU_CLIENT_ID"]["value"] == "egsu-tariffs"
    assert (
        env["EGSU_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["key"]
        == "EGSU_CLIENT_SECRET_EGSU_TARIFFS"
    )
    gateway = by_name(docs, "Deployment")[f"{RELEASE}-gateway"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    services = json.loads(env_of(gateway)["EGSU_SERVICES"]["value"])
    assert services["tariffs"] == f"http://{name}:8000"
    assert services["registry"] == f"http://{RELEASE}-registry:8000"
    assert by_name(docs, "Service")[name]["spec"]["ports"][0]["port"] == 8000


def test_autoscaled_processes_are_stateless_and_the_console_reaches_the_gateway() -> None:
    with pytest.raises(helm.HelmRenderError, match="autoscaling needs a stateless process"):
        render(
            {
                "services": {
                    "registry": {
                        "enabled": True,
                        "stateless": False,
                        "autoscaling": {"enabled": True},
                    }
                }
            }
        )
    docs = render({"services": {"web": {"enabled": True}}})
    gateway = by_name(docs, "Deployment")[f"{RELEASE}-gateway"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    env = env_of(gateway)
    assert env["EGSU_WEB_URL"]["value"] == f"http://{RELEASE}-web:8000"
    assert "web" not in json.loads(env["EGSU_SERVICES"]["value"])  # the console is no API area


def test_every_gateway_area_and_installed_service_has_an_entry() -> None:
    with chart() as c:
        values = c.values
    installed = {ep.name for ep in entry_points(group="egsu.services")}
    assert installed <= set(values["services"]), installed - set(values["services"])
    assert set(DEFAULT_AREAS.values()) <= set(values["services"])
    for name in installed:
        assert values["services"][name]["enabled"], f"{name} exists but is not deployed by default"


# --- migrations and upgrades ---------------------------------------------------------------------


@pytest.mark.parametrize("upgrade", [False, True])
def test_migrations_run_as_a_hook_before_install_and_upgrade(upgrade: bool) -> None:
    docs = render(values_of("production"), upgrade=upgrade)
    job = by_name(docs, "Job")[f"{RELEASE}-migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    policy = by_name(docs, "NetworkPolicy")[f"{RELEASE}-migrate"]
    sa = by_name(docs, "ServiceAccount")[f"{RELEASE}-migrate"]
    for dep in (policy, sa):  # what the Job needs exists before it
        assert dep["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(dep["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
            job["metadata"]["annotations"]["helm.sh/hook-weight"]
        )
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["egsu", "migrate"]
    assert c["image"] == "egsu/migrate:0.1.0"
    assert env_of(c)["EGSU_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "egsu-pg-app",
        "key": "uri",
    }
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_image_tag_follows_the_release() -> None:
    docs = render({"image": {"repository": "registry.egsu.kz/egsu", "tag": "1.4.2"}})
    images = {c["image"] for _, t in pod_specs(docs) for c in t["spec"]["containers"]}
    with chart() as c:
        enabled = [n for n, v in c.values["services"].items() if v["enabled"]]
    assert images == {f"registry.egsu.kz/egsu/{n}:1.4.2" for n in [*enabled, "migrate"]}


# --- the realm -----------------------------------------------------------------------------------


def test_realm_file_is_exactly_what_egsu_realm_export_prints() -> None:
    export = json.dumps(keycloak_realm(RealmDefinition.load()), ensure_ascii=False, indent=2) + "\n"
    assert REALM_FILE.read_text(encoding="utf-8") == export, (
        "helm/egsu/files/realm-egsu.json is stale: run "
        "`.venv/bin/egsu realm export --no-with-clients -o helm/egsu/files/realm-egsu.json`"
    )


def realm_of(docs: tuple[Doc, ...] | list[Doc]) -> Doc:
    cm = by_name(docs, "ConfigMap")[f"{RELEASE}-realm"]
    return json.loads(cm["data"]["egsu-realm.json"])  # type: ignore[no-any-return]


def test_realm_config_map_carries_the_roles_and_the_bin_mapper_the_gateway_expects() -> None:
    realm = realm_of(rendered("default"))
    assert realm == json.loads(REALM_FILE.read_text(encoding="utf-8"))
    from egsu.auth.principal import ROLES

    assert {r["name"] for r in realm["roles"]["realm"]} == set(ROLES)
    scopes = {s["name"]: s for s in realm["clientScopes"]}
    mappers = [m for s in scopes.values() for m in s["protocolMappers"]]
    bin_mapper = next(m for m in mappers if m["config"].get("claim.name") == "bin")
    assert bin_mapper["protocolMapper"] == "oidc-usermodel-attribute-mapper"
    assert bin_mapper["config"]["user.attribute"] == "bin"
    assert bin_mapper["config"]["access.token.claim"] == "true"
    audience = next(m for m in mappers if m["protocolMapper"] == "oidc-audience-mapper")
    assert audience["config"]["included.custom.audience"] == Settings().oidc_audience
    bin_scope = next(n for n, s in scopes.items() if bin_mapper in s["protocolMappers"])
    assert bin_scope in realm["defaultDefaultClientScopes"]
    for client in realm["clients"]:
        assert bin_scope in client["defaultClientScopes"], client["clientId"]


def test_every_process_has_a_realm_client_whose_secret_the_chart_reads() -> None:
    realm = realm_of(rendered("production"))
    clients = {c["clientId"]: c for c in realm["clients"]}
    service_accounts = {u.get("serviceAccountClientId"): u for u in realm["users"]}
    for _, template in pod_specs(rendered("production")):
        for c in template["spec"]["containers"]:
            env = env_of(c)
            if "EGSU_CLIENT_ID" not in env:
                continue
            client_id = env["EGSU_CLIENT_ID"]["value"]
            assert client_id in clients, client_id
            key = env["EGSU_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["key"]
            # Keycloak fills the placeholder from the same Secret key the process reads.
            assert clients[client_id]["secret"] == secret_placeholder(client_id) == "${" + key + "}"
            assert service_accounts[client_id]["realmRoles"] == ["service"]


def test_public_origins_join_the_console_redirect_uris() -> None:
    realm = realm_of(rendered("production"))
    console = next(c for c in realm["clients"] if c["clientId"] == "egsu-console")
    assert "https://egsu.example.kz/*" in console["redirectUris"]
    assert "https://egsu.example.kz/*" in console["attributes"]["post.logout.redirect.uris"].split(
        "##"
    )
    exported = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    exported_console = next(c for c in exported["clients"] if c["clientId"] == "egsu-console")
    assert set(exported_console["redirectUris"]) < set(console["redirectUris"])
    # nothing else changes
    for c in realm["clients"]:
        c.pop("redirectUris", None)
        c["attributes"].pop("post.logout.redirect.uris", None)
    for c in exported["clients"]:
        c.pop("redirectUris", None)
        c["attributes"].pop("post.logout.redirect.uris", None)
    assert realm == exported


def test_an_enabled_subchart_becomes_the_default_backend(tmp_path: Path) -> None:
    # To this chart a downloaded sub-chart is only its presence in charts/; a bare one stands in.
    copy = tmp_path / "egsu"
    shutil.copytree(CHART, copy)
    for chart_name in ("nats", "minio"):
        (copy / "charts" / chart_name).mkdir(parents=True)
        (copy / "charts" / chart_name / "Chart.yaml").write_text(
            f"apiVersion: v2\nname: {chart_name}\nversion: 1.3.0\n"
        )
    values = {
        "nats": {"enabled": True},
        "bus": {"url": ""},
        "minio": {"enabled": True},
        "objectStore": {"endpoint": ""},
    }
    with helm.Chart.load(copy) as c:
        out = c.render(values, name=RELEASE, namespace=RELEASE)
    docs = [
        d for k, t in out.items() if not k.endswith("NOTES.txt") for d in yaml.safe_load_all(t) if d
    ]
    registry = by_name(docs, "Deployment")[f"{RELEASE}-registry"]
    env = env_of(registry["spec"]["template"]["spec"]["containers"][0])
    assert env["EGSU_NATS_URL"]["value"] == f"nats://{RELEASE}-nats:4222"
    assert env["EGSU_S3_ENDPOINT"]["value"] == f"http://{RELEASE}-minio:9000"
    egress = by_name(docs, "NetworkPolicy")[f"{RELEASE}-registry"]["spec"]["egress"]
    nats_rule = next(r for r in egress if ports_of(r) == {4222})
    assert nats_rule["to"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "nats",
                    "app.kubernetes.io/instance": RELEASE,
                }
            }
        }
    ]
    with pytest.raises(helm.HelmRenderError, match=r"bus\.url is required"):
        render({"bus": {"url": ""}})
