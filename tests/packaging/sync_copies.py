#!/usr/bin/env python3
"""Rewrites the copies that tests/packaging/validate.sh checks, from their sources:
config/istio-demo.vault -> docker/k8s/10-vault-bootstrap.yaml (ConfigMap),
docker/helm/vaultlet/files/istio-demo.vault; docker/observability/alerts.yaml ->
docker/helm/vaultlet/files/alerts.yaml; config/durable.hcl -> the vault-config
ConfigMap in docker/k8s/durable/20-vault.yaml; docker/k8s/{00,10,30,40}-*.yaml ->
docker/k8s/durable/. Run it after editing a source, then run validate.sh.
"""
import os
import re
import shutil

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(REPO, "docker", "k8s")


def block(text, indent="    "):
    return "".join(indent + line if line.strip() else "\n" for line in text.splitlines(True))


def replace_block(path, key, text):
    """Replaces the literal block `  key: |` (indented 4) with text."""
    src = open(path).read()
    pat = re.compile(r"(^  %s: \|\n)((?:    .*\n|\n)*)" % re.escape(key), re.M)
    new, n = pat.subn(lambda m: m.group(1) + block(text), src, count=1)
    assert n == 1, f"{path}: no block {key}"
    # A block scalar's trailing blank lines belong to the next document separator.
    if new != src:
        open(path, "w").write(new)
        print("updated", os.path.relpath(path, REPO))


boot = open(os.path.join(REPO, "config", "istio-demo.vault")).read()
hcl = open(os.path.join(REPO, "config", "durable.hcl")).read()
replace_block(os.path.join(K8S, "10-vault-bootstrap.yaml"), "istio-demo.vault", boot)
replace_block(os.path.join(K8S, "durable", "20-vault.yaml"), "durable.hcl", hcl)
shutil.copyfile(os.path.join(REPO, "config", "istio-demo.vault"),
                os.path.join(REPO, "docker", "helm", "vaultlet", "files", "istio-demo.vault"))
shutil.copyfile(os.path.join(REPO, "docker", "observability", "alerts.yaml"),
                os.path.join(REPO, "docker", "helm", "vaultlet", "files", "alerts.yaml"))
for f in sorted(os.listdir(K8S)):
    if f.endswith(".yaml") and f != "20-vault.yaml":
        shutil.copyfile(os.path.join(K8S, f), os.path.join(K8S, "durable", f))
print("copies in sync")
