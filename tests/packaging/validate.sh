#!/usr/bin/env bash
# Offline validation of the Kubernetes packaging:
#  0. parse docker/Dockerfile with BuildKit's parser (Go module proxy) and check
#     its COPY sources and stage references;
#  1. helm lint --strict the chart (docker/helm/vaultlet) with its dev, durable and HA values;
#  2. helm template it for the guide's line (--set server.dev.enabled=true),
#     ci/dev-values.yaml, ci/durable-values.yaml, ci/ha-values.yaml, the defaults
#     and a few switches;
#  3. validate every rendered manifest and every file of docker/k8s/,
#     docker/k8s/durable/ and docker/k8s/acme/ against the Kubernetes OpenAPI schemas shipped in the
#     kubernetes-validate PyPI package (strict: unknown fields are errors), for the
#     oldest Kubernetes the guide supports (1.28) and the newest bundled;
#  4. check the topology and the copies (tests/packaging/check_manifests.py).
# cert-manager's Issuer/Certificate (docker/k8s/40-cert-manager.yaml) have no schema
# here: tests/conformance/certmanager decodes them with cert-manager's own types.
#
# Needs no network beyond the package registries: helm is built from the Go
# module proxy once (cached in $(go env GOPATH)/bin), kubernetes-validate from PyPI.
# Usage: tests/packaging/validate.sh
set -euo pipefail
SELF=$(readlink -f "$0")
# Run once more through tee, to close with a count of the ok/FAIL lines.
if [ -z "${VAULTLET_PACKAGING_COUNTED:-}" ]; then
    log=$(mktemp)
    set +e
    VAULTLET_PACKAGING_COUNTED=1 "$SELF" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    echo "validate: $(grep -c '^ok ' "$log") passed, $(grep -c '^FAIL ' "$log") failed"
    rm -f "$log"
    exit "$rc"
fi
cd "$(dirname "$SELF")/../.."
start=$(date +%s)

HELM_VERSION=v3.22.0
KUBERNETES_VALIDATE_VERSION=1.37.0
K8S_VERSIONS="1.28.0 1.37.0"
CHART=docker/helm/vaultlet

# ---- tools ----
GOBIN_DIR="$(go env GOPATH)/bin"
HELM="$GOBIN_DIR/helm"
# A `go install`ed helm reports only "v3.22"; the module version is in the build info.
helm_module_version() { go version -m "$HELM" 2>/dev/null | awk '$1 == "mod" && $2 == "helm.sh/helm/v3" {print $3}'; }
if ! { [ -x "$HELM" ] && [ "$(helm_module_version)" = "$HELM_VERSION" ]; }; then
    echo "== go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (once; cached in $GOBIN_DIR)"
    t0=$(date +%s)
    nice -n 10 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    echo "   built in $(( $(date +%s) - t0 ))s"
fi
echo "== helm $(helm_module_version) ($HELM)"
if ! python3 -c "import kubernetes_validate, yaml, sys; sys.exit(kubernetes_validate.__version__ != '$KUBERNETES_VALIDATE_VERSION')" 2>/dev/null; then
    echo "== pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    python3 -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" pyyaml
fi

# Helm keeps its cache/config under $HOME; keep them out of the way.
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME
OUT=$(mktemp -d /tmp/vaultlet-validate.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
HELM_CACHE_HOME=$OUT/helm/cache HELM_CONFIG_HOME=$OUT/helm/config HELM_DATA_HOME=$OUT/helm/data

fail=0

# ---- 0. the Dockerfile, through BuildKit's own parser (tests/packaging/dockerfile-check) ----
if (cd tests/packaging/dockerfile-check && nice -n 10 go build -o "$OUT/dockerfile-check" .) \
        && "$OUT/dockerfile-check" docker/Dockerfile >"$OUT/dockerfile.log" 2>&1; then
    echo "ok    docker/Dockerfile: BuildKit parse, flags, lint rules, COPY sources ($(grep -c '^ok' "$OUT/dockerfile.log") checks)"
else
    echo "FAIL  docker/Dockerfile:"; grep -v '^ok' "$OUT/dockerfile.log" 2>/dev/null || true; fail=1
fi

# ---- 1. lint ----
for values in "" ci/dev-values.yaml ci/durable-values.yaml ci/ha-values.yaml; do
    if "$HELM" lint --strict "$CHART" ${values:+-f "$CHART/$values"} >"$OUT/lint.log" 2>&1; then
        echo "ok    helm lint --strict ${values:-(defaults)}"
    else
        echo "FAIL  helm lint --strict ${values:-(defaults)}"; cat "$OUT/lint.log"; fail=1
    fi
done

# ---- 2. render ----
render() { # name, helm template args…
    local name=$1; shift
    if "$HELM" template vault "$CHART" --namespace vault-demo --kube-version 1.28.0 "$@" >"$OUT/render/$name.yaml" 2>"$OUT/render/$name.err"; then
        echo "ok    helm template $name ($(grep -c '^kind:' "$OUT/render/$name.yaml" || true) objects)"
    else
        echo "FAIL  helm template $name"; cat "$OUT/render/$name.err"; fail=1
    fi
}
mkdir -p "$OUT/render"
# The guide's install line, with only the chart name changed.
render guide --set server.dev.enabled=true
render dev -f "$CHART/ci/dev-values.yaml"
render durable -f "$CHART/ci/durable-values.yaml"
render default
render disabled --set global.enabled=false
render existing-secret --set server.autoUnseal.existingSecret=my-key --set server.autoUnseal.secretKey=k
render emptydir --set server.dataStorage.enabled=false --set server.bootstrap.enabled=true \
    --set server.autoUnseal.key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
render ha -f "$CHART/ci/ha-values.yaml"
render ha-inline-url --set server.ha.enabled=true --set server.ha.replicas=2 \
    --set server.ha.disruptionBudget.maxUnavailable=2 --set global.tlsDisable=false \
    --set-string 'server.ha.config=listener "tcp" { address = "0.0.0.0:8200" }
storage "postgresql" { connection_url = "postgres://u@db/vault" ha_enabled = "true" }' \
    --set 'server.affinity=nodeAffinity: {}'
# HA without a database, or in dev mode, fails with an explanation.
refused() { # what, expected message, helm template args…
    local what=$1 want=$2; shift 2
    if "$HELM" template vault "$CHART" "$@" >/dev/null 2>"$OUT/refused.err" \
            || ! grep -q "$want" "$OUT/refused.err"; then
        echo "FAIL  $what must fail with an explanation"; cat "$OUT/refused.err"; fail=1
    else
        echo "ok    $what fails with an explanation"
    fi
}
refused "--set server.ha.enabled=true (no PostgreSQL URL)" "needs the PostgreSQL connection URL" \
    --set server.ha.enabled=true
refused "HA in dev mode" "dev mode keeps its data in memory" \
    -f "$CHART/ci/ha-values.yaml" --set server.dev.enabled=true

# Prometheus Operator objects: rendered on request, with the shipped alert
# rules (a copy of docker/observability/alerts.yaml) or the user's. They have
# no Kubernetes schema here; promtool checks the rules they carry.
mkdir -p "$OUT/monitoring"
if "$HELM" template vault "$CHART" --namespace vault-demo \
        --set serverTelemetry.serviceMonitor.enabled=true --set serverTelemetry.prometheusRules.enabled=true \
        >"$OUT/monitoring/all.yaml" 2>"$OUT/monitoring/err" \
        && python3 - "$OUT/monitoring" <<'PY'
import sys, yaml
out = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{out}/all.yaml")) if d]
kinds = {d["kind"]: d for d in docs}
monitor = kinds["ServiceMonitor"]["spec"]
assert monitor["endpoints"][0]["path"] == "/v1/sys/metrics", monitor
assert monitor["endpoints"][0]["params"] == {"format": ["prometheus"]}, monitor
internal = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "vault-internal"][0]
labels = internal["metadata"]["labels"]
assert all(labels.get(k) == v for k, v in monitor["selector"]["matchLabels"].items()), (labels, monitor)
yaml.safe_dump({"groups": kinds["PrometheusRule"]["spec"]["groups"]}, open(f"{out}/rules.yaml", "w"))
shipped = yaml.safe_load(open("docker/observability/alerts.yaml"))
assert kinds["PrometheusRule"]["spec"]["groups"] == shipped["groups"]
PY
then
    echo "ok    helm template serverTelemetry (ServiceMonitor selects the headless Service; PrometheusRule = docker/observability/alerts.yaml)"
else
    echo "FAIL  helm template serverTelemetry"; cat "$OUT/monitoring/err"; fail=1
fi
if ! cmp -s docker/observability/alerts.yaml "$CHART/files/alerts.yaml"; then
    echo "FAIL  $CHART/files/alerts.yaml is not a copy of docker/observability/alerts.yaml (tests/packaging/sync_copies.py)"; fail=1
fi
if command -v promtool >/dev/null; then
    if promtool check rules "$OUT/monitoring/rules.yaml" >"$OUT/monitoring/promtool" 2>&1; then
        echo "ok    promtool check rules on the rendered PrometheusRule"
    else
        echo "FAIL  promtool check rules on the rendered PrometheusRule"; cat "$OUT/monitoring/promtool"; fail=1
    fi
fi

# ---- 3. schemas ----
# The validator must not be vacuous: a manifest with an unknown field and one
# with a wrongly typed field must fail.
cat >"$OUT/bad-field.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  ports: [{port: 8200}]
  notAField: true
EOF
cat >"$OUT/bad-type.yaml" <<'EOF'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: bad}
spec:
  serviceName: x
  replicas: "one"
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: i}]}
EOF
for bad in bad-field bad-type; do
    if kubernetes-validate --strict --quiet -k 1.37.0 "$OUT/$bad.yaml" >/dev/null 2>&1; then
        echo "FAIL  the schema validator accepts $bad.yaml"; fail=1
    else
        echo "ok    the schema validator rejects $bad.yaml"
    fi
done

files=("$OUT"/render/*.yaml docker/k8s/*.yaml docker/k8s/durable/*.yaml docker/k8s/acme/*.yaml)
# helm renders test hooks too; empty renderings (global.enabled=false) are skipped.
nonempty=()
for f in "${files[@]}"; do grep -q '^kind:' "$f" && nonempty+=("$f"); done
for v in $K8S_VERSIONS; do
    log="$OUT/schema-$v.log"
    if kubernetes-validate --strict -k "$v" "${nonempty[@]}" >"$log" 2>&1; then
        passed=$(grep -c ' passed for resource ' "$log" || true)
        echo "ok    $passed objects valid against the Kubernetes $v schemas (strict)"
    else
        echo "FAIL  Kubernetes $v schema validation:"; grep -v ' passed for resource ' "$log"; fail=1
    fi
    # Only cert-manager kinds may lack a schema.
    if grep "Couldn't find schema" "$log" | grep -v "api version cert-manager.io/v1" ; then
        echo "FAIL  objects above have no schema"; fail=1
    fi
done
echo "      (cert-manager.io/v1 Issuer/ClusterIssuer/Certificate: decoded by tests/conformance/certmanager)"

# ---- 4. topology and copies ----
python3 tests/packaging/check_manifests.py "$OUT/render" || fail=1

echo "== validate.sh: $([ $fail -eq 0 ] && echo PASS || echo FAIL) in $(( $(date +%s) - start ))s"
exit $fail
