"""Kubernetes manifests: every overlay renders, passes ``kubernetes-validate --strict`` and our
hardening policy (probes, limits, non-root, read-only root, dropped capabilities, /tmp, preStop,
PDB and NetworkPolicy per Deployment, no secret values)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from carbon_common.events.topics import Topics
from carbon_common.settings import KafkaSettings
from tests.deploy.rendering import (
    APP_UID,
    HPA_SERVICES,
    HTTP_FACING,
    K8S_VERSIONS,
    OVERLAYS,
    POD_GRACE_SECONDS,
    REPO,
    SERVICES,
    Doc,
    by_kind,
    env_prefix,
    iter_repo_yaml,
    load_settings,
    parse_dockerfile,
    render,
    schema_errors,
    selector_matches,
    settings_env_names,
)

PARTITIONS = KafkaSettings().topic_partitions
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|POSTGRES__URL|PRIVATE", re.IGNORECASE)


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    containers = pod["containers"]
    assert len(containers) == 1, "one container per pod"
    return dict(containers[0])


def _configmap_env(docs: list[Doc], container: dict[str, Any]) -> dict[str, str]:
    maps = by_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source["configMapRef"]["name"]
        assert ref in maps, f"envFrom references missing ConfigMap {ref}"
        env.update(maps[ref]["data"])
    return env


def _hardening_problems(pod: dict[str, Any], *, long_running: bool) -> list[str]:
    problems: list[str] = []
    psc = pod.get("securityContext", {})
    c = _container(pod)
    csc = c.get("securityContext", {})

    def need(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    need(pod.get("automountServiceAccountToken") is False, "automountServiceAccountToken: false")
    need(bool(pod.get("serviceAccountName")), "serviceAccountName")
    need(
        psc.get("runAsNonRoot") is True and csc.get("runAsNonRoot") is True,
        "runAsNonRoot (pod and container)",
    )
    need(psc.get("runAsUser") == APP_UID and csc.get("runAsUser", APP_UID) == APP_UID, f"runAsUser {APP_UID}")
    need(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod seccompProfile RuntimeDefault")
    need(csc.get("seccompProfile", {}).get("type", "RuntimeDefault") == "RuntimeDefault", "container seccomp")
    need(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
    need(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem: true")
    need(not csc.get("privileged"), "not privileged")
    need(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities.drop [ALL]")
    need(not csc.get("capabilities", {}).get("add"), "no added capabilities")
    need(
        not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), "no host namespaces"
    )

    resources = c.get("resources", {})
    for kind in ("requests", "limits"):
        for res in ("cpu", "memory"):
            need(res in resources.get(kind, {}), f"resources.{kind}.{res}")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    need(len(tmp) == 1 and "emptyDir" in volumes.get(tmp[0]["name"], {}), "/tmp mounted from an emptyDir")
    if tmp and "emptyDir" in volumes.get(tmp[0]["name"], {}):
        need("sizeLimit" in volumes[tmp[0]["name"]]["emptyDir"], "/tmp emptyDir sizeLimit")
    for m in c.get("volumeMounts", []):
        if m["mountPath"] != "/tmp":
            need(m.get("readOnly") is True, f"volumeMount {m['mountPath']} readOnly")
    need(not any("hostPath" in v for v in volumes.values()), "no hostPath volumes")

    if long_running:
        port_names = {p["name"] for p in c.get("ports", [])}
        for probe, path in (
            ("livenessProbe", "/livez"),
            ("readinessProbe", "/readyz"),
            ("startupProbe", "/livez"),
        ):
            http = c.get(probe, {}).get("httpGet", {})
            need(http.get("path") == path, f"{probe} GET {path}")
            need(http.get("port") in port_names, f"{probe} on a declared container port")
        pre_stop = c.get("lifecycle", {}).get("preStop", {})
        need(_pre_stop_seconds(pre_stop) > 0, "preStop sleep")
        need(
            pod.get("terminationGracePeriodSeconds") == POD_GRACE_SECONDS,
            f"terminationGracePeriodSeconds {POD_GRACE_SECONDS}",
        )
    return problems


def _pre_stop_seconds(pre_stop: dict[str, Any]) -> int:
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"]["seconds"])
    command = pre_stop.get("exec", {}).get("command", [])
    if len(command) == 2 and command[0] == "sleep":
        return int(command[1])
    return 0


def _dockerfile_graceful_timeout(svc: str) -> int:
    _, stages = parse_dockerfile(REPO / "services" / svc / "Dockerfile")
    argv = stages[-1].of("CMD")[-1].exec_form() or []
    return int(argv[argv.index("--timeout-graceful-shutdown") + 1])


# --------------------------------------------------------------------------------- rendering


def test_overlays_exist() -> None:
    for name in OVERLAYS:
        assert (REPO / "deploy/k8s/overlays" / name / "kustomization.yaml").is_file()


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("target", [*OVERLAYS, "topics"])
def test_rendered_manifests_pass_kubernetes_validate_strict(
    rendered: dict[str, list[Doc]], target: str, version: str
) -> None:
    docs = rendered[target]
    assert docs, f"{target} rendered nothing"
    errors, skipped = schema_errors(docs, version)
    assert not errors, "\n".join(errors)
    # Only the Strimzi CRs are exempt, and only in the topics kustomization.
    assert not skipped or target == "topics", skipped
    assert len(skipped) == (len(docs) if target == "topics" else 0)


def test_every_service_has_its_objects(docs: list[Doc]) -> None:
    for svc in SERVICES:
        for kind, name in [
            ("Deployment", svc),
            ("Service", svc),
            ("ServiceAccount", svc),
            ("PodDisruptionBudget", svc),
            ("NetworkPolicy", svc),
            ("Job", f"{svc}-migrate"),
        ]:
            assert name in by_kind(docs, kind), f"{kind}/{name} missing"
        assert any(n.startswith(f"{svc}-config-") for n in by_kind(docs, "ConfigMap")), f"{svc}-config"


def test_namespace_enforces_restricted_pod_security(docs: list[Doc], overlay: str) -> None:
    namespaces = by_kind(docs, "Namespace")
    assert len(namespaces) == 1
    ((name, ns),) = namespaces.items()
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for d in docs:
        if d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") == name, f"{d['kind']}/{d['metadata']['name']}"


# ----------------------------------------------------------------------------------- policy


def test_deployments_are_hardened(docs: list[Doc]) -> None:
    problems = {
        name: p
        for name, d in by_kind(docs, "Deployment").items()
        if (p := _hardening_problems(d["spec"]["template"]["spec"], long_running=True))
    }
    assert not problems, problems


def test_migration_jobs_are_hardened_and_run_before_rollout(docs: list[Doc]) -> None:
    deployments = by_kind(docs, "Deployment")
    for svc in SERVICES:
        job = by_kind(docs, "Job")[f"{svc}-migrate"]
        pod = job["spec"]["template"]["spec"]
        assert not _hardening_problems(pod, long_running=False), (
            svc,
            _hardening_problems(pod, long_running=False),
        )
        c = _container(pod)
        assert c["command"] == ["python", "-m", f"carbon_{svc}.entrypoints.migrate"]
        assert c["image"] == _container(deployments[svc]["spec"]["template"]["spec"])["image"]
        assert pod["restartPolicy"] == "Never"
        assert job["spec"]["backoffLimit"] <= 3 and job["spec"]["activeDeadlineSeconds"] > 0
        notes = job["metadata"]["annotations"]
        assert notes["argocd.argoproj.io/hook"] in {"PreSync", "Sync"}
        assert int(notes["argocd.argoproj.io/sync-wave"]) < 0, (
            "the Job must run before the Deployment (wave 0)"
        )
        # The Job reads the same config; the config must exist in an earlier wave than the Job.
        for source in c["envFrom"]:
            cm = by_kind(docs, "ConfigMap")[source["configMapRef"]["name"]]
            assert int(cm["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) < int(
                notes["argocd.argoproj.io/sync-wave"]
            )


def test_graceful_shutdown_fits_in_the_grace_period(docs: list[Doc]) -> None:
    for svc, d in by_kind(docs, "Deployment").items():
        pod = d["spec"]["template"]["spec"]
        pre_stop = _pre_stop_seconds(_container(pod)["lifecycle"]["preStop"])
        total = pre_stop + _dockerfile_graceful_timeout(svc)
        assert total < pod["terminationGracePeriodSeconds"], (svc, total)


def test_every_deployment_has_a_pdb(docs: list[Doc]) -> None:
    pdbs = list(by_kind(docs, "PodDisruptionBudget").values())
    for name, d in by_kind(docs, "Deployment").items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs if selector_matches(p["spec"]["selector"], labels)]
        assert len(covering) == 1, f"Deployment/{name}: {len(covering)} PDBs"
        spec = covering[0]["spec"]
        # maxUnavailable keeps single-replica overlays drainable.
        assert spec.get("maxUnavailable") == 1 and "minAvailable" not in spec


def test_network_policies_deny_by_default_and_cover_every_pod(docs: list[Doc]) -> None:
    policies = by_kind(docs, "NetworkPolicy")
    deny = policies["default-deny-all"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny.get("ingress") and not deny.get("egress")
    dns = policies["allow-dns"]["spec"]
    assert dns["podSelector"] == {} and {p["port"] for r in dns["egress"] for p in r["ports"]} == {53}

    specific = [p["spec"] for p in policies.values() if p["spec"]["podSelector"]]
    workloads = [(d["kind"], n, d) for kind in ("Deployment", "Job") for n, d in by_kind(docs, kind).items()]
    for kind, name, d in workloads:
        labels = d["spec"]["template"]["metadata"]["labels"]
        covering = [s for s in specific if selector_matches(s["podSelector"], labels)]
        assert covering, f"{kind}/{name} has no NetworkPolicy of its own"
        assert all(set(s["policyTypes"]) == {"Ingress", "Egress"} for s in covering)
        egress_ports = {
            p.get("port") for s in covering for r in s.get("egress", []) for p in r.get("ports", [])
        }
        assert 5432 in egress_ports, f"{kind}/{name}: PostgreSQL egress"
        for s in covering:
            for rule in s.get("ingress", []) + s.get("egress", []):
                assert rule.get("ports"), f"{kind}/{name}: a rule without ports opens everything"
        if kind == "Deployment":
            assert {9092, 4318} <= egress_ports, f"{name}: Kafka and OTLP egress"
            sources = [
                peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                for s in covering
                for r in s.get("ingress", [])
                for peer in r.get("from", [])
            ]
            assert None not in sources, f"{name}: ingress from an unnamed source"
            assert ("ingress-nginx" in sources) == (name in HTTP_FACING), f"{name}: ingress controller access"
            assert "monitoring" in sources, f"{name}: Prometheus scrape"
        else:
            assert not any(s.get("ingress") for s in covering), f"{name}: migrations accept no traffic"


def test_services_route_to_their_pods(docs: list[Doc]) -> None:
    deployments = by_kind(docs, "Deployment")
    for svc, port in SERVICES.items():
        service = by_kind(docs, "Service")[svc]["spec"]
        pods = [
            n
            for n, d in deployments.items()
            if selector_matches(
                {"matchLabels": service["selector"]}, d["spec"]["template"]["metadata"]["labels"]
            )
        ]
        assert pods == [svc]
        c = _container(deployments[svc]["spec"]["template"]["spec"])
        assert [p["containerPort"] for p in c["ports"]] == [port]
        assert [p["targetPort"] for p in service["ports"]] == [c["ports"][0]["name"]]
        jobs = [
            n
            for n, d in by_kind(docs, "Job").items()
            if selector_matches(
                {"matchLabels": service["selector"]}, d["spec"]["template"]["metadata"]["labels"]
            )
        ]
        assert not jobs, f"Service/{svc} would route to migration pods {jobs}"


def test_scaling_stays_within_partitions(docs: list[Doc], overlay: str) -> None:
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    deployments = by_kind(docs, "Deployment")
    if overlay == "prod":
        assert set(hpas) == HPA_SERVICES
    if overlay == "dev":
        assert not hpas
        assert all(d["spec"].get("replicas", 1) == 1 for d in deployments.values())
    for name, hpa in hpas.items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"] <= PARTITIONS
        assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
        assert "replicas" not in deployments[name]["spec"], f"{name}: replicas would fight the HPA"
    for name, d in deployments.items():
        assert d["spec"].get("replicas", 1) <= PARTITIONS, name


def test_pod_env_matches_the_settings_scheme(docs: list[Doc], overlay: str) -> None:
    for kind, suffix in (("Deployment", ""), ("Job", "-migrate")):
        for svc in SERVICES:
            pod = by_kind(docs, kind)[svc + suffix]["spec"]["template"]["spec"]
            c = _container(pod)
            prefix = env_prefix(svc)
            config = _configmap_env(docs, c)
            names = list(config)
            defined = set(config)
            for var in c.get("env", []):
                for ref in re.findall(r"\$\((\w+)\)", var.get("value", "")):
                    assert ref in defined, f"{svc}: {var['name']} uses $({ref}) before it is defined"
                defined.add(var["name"])
                names.append(var["name"])
                if SECRETISH.search(var["name"]):
                    assert "secretKeyRef" in var.get("valueFrom", {}), (
                        f"{svc}: {var['name']} must come from a Secret"
                    )
            for name in names:
                if name.startswith(("OTEL_", "K8S_")):
                    continue
                assert name in settings_env_names(svc), f"{kind}/{svc}: {name} is not a {prefix}* setting"
            assert not any(SECRETISH.search(k) for k in config), f"{svc}: secret-like key in a ConfigMap"
            assert config[f"{prefix}ENVIRONMENT"] == {"dev": "development", "prod": "production"}[overlay]
            if kind == "Deployment":
                assert config["OTEL_SERVICE_NAME"] == f"carbon-{svc}"
                assert config["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http")


def _pod_env(docs: list[Doc], container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet would build it; Secrets become stand-ins."""
    env = _configmap_env(docs, container)
    for var in container.get("env", []):
        source = var.get("valueFrom", {})
        if "secretKeyRef" in source:
            env[var["name"]] = {
                "url": "postgresql+asyncpg://svc:from-a-secret@db.internal:5432/carbon",
                "username": "carbon-user",
                "password": "from-a-secret",
            }[source["secretKeyRef"]["key"]]
        elif "fieldRef" in source:
            env[var["name"]] = "pod"
        else:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], var["value"])
    return env


def test_services_accept_the_rendered_config(docs: list[Doc], overlay: str) -> None:
    """Each service's own fail-fast Settings validation passes on what the overlay injects."""
    for kind, suffix in (("Deployment", ""), ("Job", "-migrate")):
        for svc in SERVICES:
            c = _container(by_kind(docs, kind)[svc + suffix]["spec"]["template"]["spec"])
            settings: Any = load_settings(svc, _pod_env(docs, c))
            assert settings.environment.value == {"dev": "development", "prod": "production"}[overlay]
            assert settings.kafka.enabled


def test_base_alone_fails_closed(kustomize: Path) -> None:
    """Deploying base/ directly must not start a service with development defaults."""
    docs = render(kustomize, REPO / "deploy/k8s/base")
    c = _container(by_kind(docs, "Deployment")["ingest"]["spec"]["template"]["spec"])
    with pytest.raises(ValueError, match="refusing to start"):
        load_settings("ingest", _pod_env(docs, c))


def test_prod_enables_auth_and_kafka_sasl_ssl(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["prod"]
    for svc in SERVICES:
        pod = by_kind(docs, "Deployment")[svc]["spec"]["template"]["spec"]
        c = _container(pod)
        p = env_prefix(svc)
        config = _configmap_env(docs, c)
        assert config[f"{p}AUTH__ENABLED"] == "true" and config[f"{p}AUTH__DEV_KEY"] == "false"
        assert config[f"{p}KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
        assert config[f"{p}KAFKA__SASL_MECHANISM"].startswith("SCRAM-SHA-")
        secret_env = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in c["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert {f"{p}KAFKA__SASL_USERNAME", f"{p}KAFKA__SASL_PASSWORD", f"{p}POSTGRES__URL"} <= set(
            secret_env
        )
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in c["volumeMounts"]}
        for key in (f"{p}AUTH__PUBLIC_KEY_FILE", f"{p}KAFKA__SSL_CAFILE"):
            path = Path(config[key])
            source = mounts.get(str(path.parent))
            assert source and "secret" in source, f"{svc}: {key}={path} is not on a Secret volume"
            assert path.name in {i["path"] for i in source["secret"]["items"]}


def test_images_are_pinned(docs: list[Doc], overlay: str) -> None:
    for kind in ("Deployment", "Job"):
        for d in by_kind(docs, kind).values():
            image = _container(d["spec"]["template"]["spec"])["image"]
            name, _, tag = image.rpartition(":")
            assert name and tag and "/" not in tag, f"{image}: no tag"
            if overlay == "prod":
                assert tag not in {"latest", "dev"}, image
                assert not name.startswith("carbon-bureau/"), f"{image}: set the registry"


def test_no_secret_values_anywhere(rendered: dict[str, list[Doc]]) -> None:
    for target, docs in rendered.items():
        assert not by_kind(docs, "Secret"), f"{target} renders a Secret"
    offenders = []
    for path in iter_repo_yaml():
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue
        offenders += [
            f"{path.relative_to(REPO)}: Secret/{d.get('metadata', {}).get('name')}"
            for d in docs
            if d.get("kind") == "Secret" and (d.get("data") or d.get("stringData"))
        ]
    generators = [
        str(p.relative_to(REPO))
        for p in (REPO / "deploy" / "k8s").rglob("kustomization.yaml")
        if "secretGenerator" in (yaml.safe_load(p.read_text()) or {})
    ]
    assert not offenders and not generators, offenders + generators


# ------------------------------------------------------------------------------------ topics


def test_strimzi_topics_match_the_contracts(rendered: dict[str, list[Doc]]) -> None:
    topics = by_kind(rendered["topics"], "KafkaTopic")
    assert {t["spec"]["topicName"] for t in topics.values()} == set(Topics.all_with_dlq())
    for name, t in topics.items():
        spec = t["spec"]
        assert t["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert t["metadata"]["labels"]["strimzi.io/cluster"]
        assert spec["partitions"] == PARTITIONS, name
        assert spec["replicas"] >= 3 and spec["config"]["min.insync.replicas"] == spec["replicas"] - 1, name
        compact = spec["config"].get("cleanup.policy") == "compact"
        assert compact == (name == Topics.ENTERPRISES), f"{name}: compaction"
        if not compact:
            assert isinstance(spec["config"]["retention.ms"], int), name


def test_component_is_optional(rendered: dict[str, list[Doc]]) -> None:
    for name in OVERLAYS:
        assert not by_kind(rendered[name], "KafkaTopic"), f"{name} should not pull in the Strimzi topics"
    component = yaml.safe_load((REPO / "deploy/k8s/components/strimzi-topics/kustomization.yaml").read_text())
    assert component["kind"] == "Component"
