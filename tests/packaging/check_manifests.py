#!/usr/bin/env python3
"""Checks what a schema cannot: that the shipped manifests and the rendered
chart describe the guide's topology, and that the copies of the bootstrap file,
the server config and the preset credentials agree.

Usage: check_manifests.py RENDER_DIR
  RENDER_DIR holds the chart renderings made by validate.sh:
  guide.yaml (--set server.dev.enabled=true), dev.yaml (ci/dev-values.yaml),
  durable.yaml (ci/durable-values.yaml), default.yaml, disabled.yaml,
  existing-secret.yaml, emptydir.yaml, ha.yaml (ci/ha-values.yaml).
"""

import filecmp
import os
import re
import sys

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(REPO, "docker", "k8s")
CHART = os.path.join(REPO, "docker", "helm", "vaultlet")

failures = []


passed = []


def check(ok, what):
    # One line per failure; the passes are counted (VERBOSE=1 lists them).
    if not ok or os.environ.get("VERBOSE"):
        print(("ok    " if ok else "FAIL  ") + what)
    (passed if ok else failures).append(what)


def docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def find(objs, kind, name=None):
    hits = [o for o in objs if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]
    return hits[0] if len(hits) == 1 else None


def container(sts):
    return sts["spec"]["template"]["spec"]["containers"][0]


def env_of(c):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


BOOTSTRAP = read(os.path.join(REPO, "config", "istio-demo.vault"))
DURABLE_HCL = read(os.path.join(REPO, "config", "durable.hcl"))
ROLE_ID = re.search(r"role-id role_id=(\S+)", BOOTSTRAP).group(1)
SECRET_ID = re.search(r"custom-secret-id secret_id=(\S+)", BOOTSTRAP).group(1)


def topology(objs, label, durable):
    """The guide's Step 1 topology: pod vault-0, service vault:8200 in vault-demo."""
    sts = find(objs, "StatefulSet", "vault")
    check(sts is not None, f"{label}: one StatefulSet named vault (pod vault-0)")
    if sts is None:
        return None
    check(sts["metadata"].get("namespace") == "vault-demo", f"{label}: StatefulSet in vault-demo")
    check(sts["spec"].get("replicas") == 1, f"{label}: one replica")
    svc = find(objs, "Service", "vault")
    check(svc is not None and svc["metadata"].get("namespace") == "vault-demo"
          and any(p["port"] == 8200 for p in svc["spec"]["ports"]),
          f"{label}: Service vault on 8200 in vault-demo")
    if svc:
        sel = svc["spec"]["selector"]
        pod_labels = sts["spec"]["template"]["metadata"]["labels"]
        check(all(pod_labels.get(k) == v for k, v in sel.items()),
              f"{label}: Service vault selects the StatefulSet's pods")
    check(find(objs, "Service", sts["spec"]["serviceName"]) is not None,
          f"{label}: governing Service {sts['spec']['serviceName']} exists")
    c = container(sts)
    args = c.get("args", [])
    env = env_of(c)
    check(c.get("command") == ["/bin/vaultlet"], f"{label}: runs /bin/vaultlet")
    check(env.get("VAULT_ADDR") == "http://127.0.0.1:8200", f"{label}: VAULT_ADDR for kubectl exec")
    check(any(p.get("containerPort") == 8200 for p in c.get("ports", [])), f"{label}: containerPort 8200")
    ro = c.get("securityContext", {}).get("readOnlyRootFilesystem")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    if ro:
        check(env.get("HOME") in mounts, f"{label}: HOME is writable ({env.get('HOME')}) under a read-only root")
    pod_sc = sts["spec"]["template"]["spec"].get("securityContext", {})
    check(pod_sc.get("runAsNonRoot") is True and pod_sc.get("runAsUser") == 1000,
          f"{label}: runs as non-root uid 1000")
    for probe in ("readinessProbe", "livenessProbe"):
        p = c.get(probe)
        if p:
            check(p["httpGet"]["path"].startswith("/v1/sys/health"), f"{label}: {probe} on /v1/sys/health")
    vols = {v["name"]: v for v in sts["spec"]["template"]["spec"].get("volumes", [])}
    for m in c.get("volumeMounts", []):
        check(m["name"] in vols or any(t["metadata"]["name"] == m["name"]
                                        for t in sts["spec"].get("volumeClaimTemplates", [])),
              f"{label}: volume {m['name']} is defined")
    if durable:
        cfg = [a for a in args if a.startswith("-config=")]
        check("-dev" not in args and len(cfg) == 1, f"{label}: durable, -config (not -dev)")
        check(any(t["metadata"]["name"] == "data" for t in sts["spec"].get("volumeClaimTemplates", [])),
              f"{label}: a data PVC (volumeClaimTemplates)")
        check(mounts.get("/vault/data") == "data", f"{label}: data mounted at /vault/data")
        key = env.get("VAULT_STATIC_SEAL_KEY")
        check(isinstance(key, dict) and "secretKeyRef" in key, f"{label}: seal key from a Secret")
        if isinstance(key, dict):
            ref = key["secretKeyRef"]
            sec = find(objs, "Secret", ref["name"])
            check(sec is not None and ref["key"] in {**sec.get("data", {}), **sec.get("stringData", {})},
                  f"{label}: Secret {ref['name']} has key {ref['key']}")
    else:
        check("-dev" in args and "-dev-listen-address=0.0.0.0:8200" in args,
              f"{label}: dev mode listening on 0.0.0.0:8200")
        check("volumeClaimTemplates" not in sts["spec"], f"{label}: dev mode has no PVC")
    return sts


def configmap_file(objs, sts, path_arg):
    """The file an argument like -bootstrap=/vault/x/f points at, from its ConfigMap."""
    c = container(sts)
    arg = [a for a in c.get("args", []) if a.startswith(path_arg + "=")]
    if len(arg) != 1:
        return None
    path = arg[0].split("=", 1)[1]
    dirname, fname = os.path.split(path)
    vols = {v["name"]: v for v in sts["spec"]["template"]["spec"].get("volumes", [])}
    for m in c.get("volumeMounts", []):
        if m["mountPath"] == dirname and "configMap" in vols.get(m["name"], {}):
            cm = find(objs, "ConfigMap", vols[m["name"]]["configMap"]["name"])
            return cm and cm.get("data", {}).get(fname)
    return None


def cert_manager(objs, label):
    """The guide's Step 3/4 objects, wired to the preset credentials."""
    secret = find(objs, "Secret", "cert-manager-vault-approle")
    issuer = find(objs, "Issuer", "vault-issuer")
    cert = find(objs, "Certificate", "istio-ca")
    check(secret is not None and secret["metadata"]["namespace"] == "istio-system",
          f"{label}: Secret cert-manager-vault-approle in istio-system")
    check(secret is not None and secret.get("stringData", {}).get("secretId") == SECRET_ID,
          f"{label}: the Secret holds the bootstrap file's secret_id")
    check(issuer is not None and issuer["metadata"]["namespace"] == "istio-system",
          f"{label}: Issuer vault-issuer in istio-system")
    if issuer:
        v = issuer["spec"]["vault"]
        check(v["server"] == "http://vault.vault-demo:8200" and v["path"] == "pki/root/sign-intermediate",
              f"{label}: Issuer server/path as the guide")
        ar = v["auth"]["appRole"]
        check(ar["path"] == "approle" and ar["roleId"] == ROLE_ID, f"{label}: Issuer roleId = bootstrap role_id")
        check(ar["secretRef"] == {"name": "cert-manager-vault-approle", "key": "secretId"},
              f"{label}: Issuer secretRef -> the Secret's secretId")
    if cert:
        s = cert["spec"]
        check(s["secretName"] == "cacerts" and s["isCA"] is True and s["commonName"] == "istiod-ca"
              and s["issuerRef"] == {"name": "vault-issuer", "kind": "Issuer"}
              and s["duration"] == "720h" and s["renewBefore"] == "360h",
              f"{label}: Certificate istio-ca -> cacerts as the guide")
    else:
        check(False, f"{label}: Certificate istio-ca")
    check(find(objs, "Namespace", "istio-system") is not None and find(objs, "Namespace", "vault-demo") is not None,
          f"{label}: both namespaces created (no manual kubectl create ns)")


def plain_manifests():
    for label, d, durable in (("docker/k8s", K8S, False), ("docker/k8s/durable", os.path.join(K8S, "durable"), True)):
        objs = []
        for f in sorted(os.listdir(d)):
            if f.endswith((".yaml", ".yml")):
                objs += docs(os.path.join(d, f))
        sts = topology(objs, label, durable)
        cert_manager(objs, label)
        if sts:
            check(configmap_file(objs, sts, "-bootstrap") == BOOTSTRAP,
                  f"{label}: bootstrap ConfigMap = config/istio-demo.vault")
            if durable:
                check(configmap_file(objs, sts, "-config") == DURABLE_HCL,
                      f"{label}: server config ConfigMap = config/durable.hcl")
        kinds = [o["kind"] for o in objs]
        check(kinds.index("Namespace") < min(i for i, k in enumerate(kinds) if k != "Namespace"),
              f"{label}: namespaces come first in apply order")
    # durable/ is self-contained; its shared files are byte copies.
    for f in sorted(os.listdir(K8S)):
        if f.endswith(".yaml") and f != "20-vault.yaml":
            check(filecmp.cmp(os.path.join(K8S, f), os.path.join(K8S, "durable", f), shallow=False),
                  f"docker/k8s/durable/{f} is a copy of docker/k8s/{f}")
    check(filecmp.cmp(os.path.join(REPO, "config", "istio-demo.vault"),
                      os.path.join(CHART, "files", "istio-demo.vault"), shallow=False),
          "chart files/istio-demo.vault is a copy of config/istio-demo.vault")
    # The file the conformance module decodes with cert-manager's types.
    cm = docs(os.path.join(K8S, "40-cert-manager.yaml"))
    check([o["kind"] for o in cm] == ["Issuer", "Certificate"],
          "docker/k8s/40-cert-manager.yaml holds exactly the Issuer and the Certificate")
    # The ACME example: the guide's PKI mount's ACME directory, and a
    # Certificate that uses the ClusterIssuer.
    acme = docs(os.path.join(K8S, "acme", "clusterissuer.yaml"))
    check([o["kind"] for o in acme] == ["ClusterIssuer", "Certificate"],
          "docker/k8s/acme/clusterissuer.yaml holds the ClusterIssuer and a Certificate")
    issuer, cert = acme[0], acme[1]
    check(issuer["spec"]["acme"]["server"] == "http://vault.vault-demo:8200/v1/pki/acme/directory",
          "ACME ClusterIssuer: the guide's server's pki/acme/directory")
    check(cert["spec"]["issuerRef"] == {"name": issuer["metadata"]["name"], "kind": "ClusterIssuer"},
          "ACME Certificate -> the ClusterIssuer")


def chart(render):
    def objs(name):
        return docs(os.path.join(render, name))

    guide = objs("guide.yaml")
    sts = topology(guide, "helm --set server.dev.enabled=true", durable=False)
    check(not any(a.startswith("-bootstrap") for a in container(sts)["args"]) if sts else False,
          "helm guide line: no bootstrap by default (the guide's manual Step 2 works as printed)")
    check(find(guide, "Secret") is None, "helm guide line: no unseal Secret in dev mode")

    dev = objs("dev.yaml")
    sts = topology(dev, "helm ci/dev-values.yaml", durable=False)
    if sts:
        check(configmap_file(dev, sts, "-bootstrap") == BOOTSTRAP, "helm dev: bootstrap file = config/istio-demo.vault")
        check(env_of(container(sts)).get("VAULT_DEV_ROOT_TOKEN_ID") == "root", "helm dev: devRootToken -> root")

    durable = objs("durable.yaml")
    sts = topology(durable, "helm ci/durable-values.yaml", durable=True)
    if sts:
        hcl = configmap_file(durable, sts, "-config") or ""
        check('seal "static"' in hcl and "env://VAULT_STATIC_SEAL_KEY" in hcl and 'storage "raft"' in hcl,
              "helm durable: server.hcl has the raft storage and the static seal")
        pvc = sts["spec"]["volumeClaimTemplates"][0]["spec"]
        check(pvc["resources"]["requests"]["storage"] == "1Gi" and pvc.get("storageClassName") == "standard",
              "helm durable: dataStorage.size/storageClass honoured")
        sec = find(durable, "Secret")
        check(sec is not None and sec["metadata"]["annotations"].get("helm.sh/resource-policy") == "keep",
              "helm durable: generated unseal key Secret is kept on uninstall")
        if sec:
            import base64
            raw = base64.b64decode(list(sec["data"].values())[0])
            check(len(raw) == 32, "helm durable: generated key is 32 bytes")
        env = env_of(container(sts))
        check(env.get("VAULT_LOG_LEVEL") == "debug" and env.get("TZ") == "UTC",
              "helm durable: logLevel and extraEnvironmentVars")

    default = objs("default.yaml")
    topology(default, "helm defaults (durable, as the Vault chart)", durable=True)

    check(objs("disabled.yaml") == [], "helm global.enabled=false renders nothing")

    ex = objs("existing-secret.yaml")
    sts = find(ex, "StatefulSet", "vault")
    check(find(ex, "Secret") is None and sts is not None
          and env_of(container(sts))["VAULT_STATIC_SEAL_KEY"]["secretKeyRef"] == {"name": "my-key", "key": "k"},
          "helm autoUnseal.existingSecret: uses it, renders no Secret")

    ed = objs("emptydir.yaml")
    sts = find(ed, "StatefulSet", "vault")
    check(sts is not None and "volumeClaimTemplates" not in sts["spec"]
          and any(v["name"] == "data" and "emptyDir" in v for v in sts["spec"]["template"]["spec"]["volumes"]),
          "helm dataStorage.enabled=false: data on an emptyDir, no PVC")


def ha(objs, label):
    """Several replicas on PostgreSQL: each pod advertises its own addresses,
    the cluster port is reachable through the headless Service, the
    connection URL comes from the Secret, no PVC."""
    sts = find(objs, "StatefulSet", "vault")
    check(sts is not None, f"{label}: one StatefulSet named vault")
    if sts is None:
        return
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    check(spec["replicas"] == 3, f"{label}: server.ha.replicas -> 3 replicas")
    check("volumeClaimTemplates" not in spec, f"{label}: no PVC (the data is in PostgreSQL)")
    c = container(sts)
    env = c.get("env", [])
    names = [e["name"] for e in env]
    values = env_of(c)
    check(values.get("VAULT_PG_CONNECTION_URL") == {"secretKeyRef": {"name": "vault-postgresql", "key": "connection_url"}},
          f"{label}: VAULT_PG_CONNECTION_URL from Secret vault-postgresql")
    # Kubernetes expands $(VAR) only from variables defined earlier in the list.
    check(values.get("POD_IP") == {"fieldRef": {"fieldPath": "status.podIP"}}
          and values.get("VAULT_API_ADDR") == "http://$(POD_IP):8200"
          and names.index("POD_IP") < names.index("VAULT_API_ADDR"),
          f"{label}: VAULT_API_ADDR = http://$(POD_IP):8200, POD_IP defined first")
    check(values.get("HOSTNAME") == {"fieldRef": {"fieldPath": "metadata.name"}}
          and values.get("VAULT_CLUSTER_ADDR") == "https://$(HOSTNAME).vault-internal:8201"
          and names.index("HOSTNAME") < names.index("VAULT_CLUSTER_ADDR"),
          f"{label}: VAULT_CLUSTER_ADDR = https://$(HOSTNAME).vault-internal:8201, HOSTNAME defined first")
    check(any(p.get("containerPort") == 8201 and p.get("name") == "https-internal" for p in c.get("ports", [])),
          f"{label}: containerPort 8201 (https-internal)")
    check("standbyok=true" in c["readinessProbe"]["httpGet"]["path"],
          f"{label}: readiness = unsealed, standbys ready (standbyok=true)")
    internal = find(objs, "Service", spec["serviceName"])
    check(internal is not None and spec["serviceName"] == "vault-internal"
          and internal["spec"].get("clusterIP") == "None"
          and internal["spec"].get("publishNotReadyAddresses") is True
          and any(p["port"] == 8201 and p["targetPort"] == 8201 for p in internal["spec"]["ports"]),
          f"{label}: headless vault-internal publishes every pod's 8201, ready or not")
    hcl = configmap_file(objs, sts, "-config") or ""
    check('storage "postgresql"' in hcl and 'ha_enabled = "true"' in hcl
          and 'cluster_address = "0.0.0.0:8201"' in hcl and 'seal "static"' in hcl
          and "connection_url" not in hcl,
          f"{label}: server.hcl: postgresql with ha_enabled, cluster port 8201, static seal, no URL in the file")
    anti = pod.get("affinity", {}).get("podAntiAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution", [])
    check(len(anti) == 1 and anti[0]["topologyKey"] == "kubernetes.io/hostname"
          and anti[0]["labelSelector"]["matchLabels"] == {k: pod_labels[k] for k in anti[0]["labelSelector"]["matchLabels"]}
          and anti[0]["labelSelector"]["matchLabels"],
          f"{label}: pod anti-affinity: one replica per node")
    pdb = find(objs, "PodDisruptionBudget", "vault")
    check(pdb is not None and pdb["apiVersion"] == "policy/v1" and pdb["spec"].get("maxUnavailable") == 1
          and all(pod_labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items()),
          f"{label}: PodDisruptionBudget maxUnavailable 1 over the replicas")


def main():
    plain_manifests()
    chart(sys.argv[1])
    ha(docs(os.path.join(sys.argv[1], "ha.yaml")), "helm ci/ha-values.yaml")
    print(("ok    " if not failures else "FAIL  ") + f"manifest checks: {len(passed)} topology/consistency checks passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
