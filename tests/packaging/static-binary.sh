#!/usr/bin/env bash
# Proves the container image's binary without a container engine:
#  1. builds the static vaultlet exactly as docker/Dockerfile's build stage does
#     (the `cargo build …` command is read from the Dockerfile, so the two cannot
#     drift), with the same toolchain pieces (musl-tools, the musl target);
#  2. checks it is static: `ldd` says "not a dynamic executable", no ELF interpreter;
#     and small: under 15,000,000 bytes;
#  3. runs it in an empty root (chroot into a directory holding nothing but the
#     binary: no libc, no /etc, /dev or /proc) and gets 200 from /v1/sys/health;
#  4. carries out the Dockerfile's runtime stage on a busybox root
#     (tests/packaging/emulate_image.py): non-root user, `vault` link, ENV,
#     ENTRYPOINT/CMD, HEALTHCHECK, `vault` commands in the "pod", durable mode
#     with the static seal across a restart; then runs the pods of
#     docker/k8s/ and docker/k8s/durable/ (and of the Helm chart's guide, dev and
#     durable renderings when helm is installed) in that root as Kubernetes would
#     (command, args, env, Secret refs, ConfigMap mounts, runAsUser), checks their
#     probes, runs the bootstrap file and does what cert-manager does with the
#     shipped Issuer and Secret: AppRole login, sign the istio-ca CSR;
#  5. starts each config/*.hcl (ha-postgres.hcl up to where it waits for its database).
# Steps 3-4 run in a private network namespace, so the image's 0.0.0.0:8200
# neither collides with nor is reachable from anything else on the machine.
#
# Usage: tests/packaging/static-binary.sh     (as root; installs what it needs)
#        tests/packaging/static-binary.sh --build-only   (steps 1-2 only; prints the binary's path
#                                                        last: tests/e2e/run builds the image from it)
# Env:   VAULTLET_STATIC_TARGET_DIR  cargo target dir (default /tmp/vaultlet-static-target)
#        VAULTLET_SKIP_BUILD=1       reuse the binary already built there
set -euo pipefail
SELF=$(readlink -f "$0")
# Run once more through tee, to close with a count of the ok/FAIL lines.
if [ -z "${VAULTLET_PACKAGING_COUNTED:-}" ] && [ "${1:-}" != "--build-only" ]; then
    log=$(mktemp)
    set +e
    VAULTLET_PACKAGING_COUNTED=1 "$SELF" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    echo "static-binary: $(grep -c '^ok ' "$log") passed, $(grep -c '^FAIL ' "$log") failed"
    rm -f "$log"
    exit "$rc"
fi
cd "$(dirname "$SELF")/../.."
REPO=$PWD
TARGET=x86_64-unknown-linux-musl
export CARGO_TARGET_DIR="${VAULTLET_STATIC_TARGET_DIR:-/tmp/vaultlet-static-target}"
BIN="$CARGO_TARGET_DIR/$TARGET/release/vaultlet"

if [ "${1:-}" != "--inner" ]; then
    WORK="$(mktemp -d /tmp/vaultlet-static.XXXXXX)"
    start=$(date +%s)
    # ---- toolchain, as the Dockerfile's build stage installs it ----
    need_apt=()
    command -v musl-gcc >/dev/null || need_apt+=(musl-tools)
    command -v busybox >/dev/null || [ -x /bin/busybox ] || need_apt+=(busybox-static)
    command -v unshare >/dev/null || need_apt+=(util-linux)
    command -v ip >/dev/null || need_apt+=(iproute2)
    command -v curl >/dev/null || need_apt+=(curl)
    command -v readelf >/dev/null || need_apt+=(binutils)
    command -v openssl >/dev/null || need_apt+=(openssl)
    if [ ${#need_apt[@]} -gt 0 ]; then
        echo "== apt-get install ${need_apt[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    fi
    python3 -c "import yaml" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check pyyaml
    if ! rustup target list --installed | grep -qx "$TARGET"; then
        echo "== rustup target add $TARGET"
        rustup target add "$TARGET"
    fi

    # ---- the Dockerfile's own build command ----
    BUILD_CMD=$(python3 - <<'EOF'
import re
text = open("docker/Dockerfile").read().replace("\\\n", " ")
m = re.search(r"cargo build [^&\n]*", text)
print(" ".join(m.group(0).split()))
EOF
)
    case "$BUILD_CMD" in
        "cargo build --release --locked --target $TARGET") ;;
        *) echo "FAIL  unexpected build command in docker/Dockerfile: $BUILD_CMD"; exit 1 ;;
    esac
    if [ "${VAULTLET_SKIP_BUILD:-}" = 1 ] && [ -x "$BIN" ]; then
        echo "== reusing $BIN"
    else
        echo "== $BUILD_CMD   (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
        b0=$(date +%s)
        # shellcheck disable=SC2086 # the command is split into words on purpose
        nice -n 10 $BUILD_CMD
        echo "   build took $(( $(date +%s) - b0 ))s"
    fi

    # ---- static? ----
    fail=0
    ldd_out=$(ldd "$BIN" 2>&1 || true)
    if echo "$ldd_out" | grep -Eq "not a dynamic executable|statically linked"; then
        echo "ok    ldd: $(echo "$ldd_out" | head -1 | sed 's/^[[:space:]]*//')"
    else
        echo "FAIL  ldd lists shared libraries:"; echo "$ldd_out"; fail=1
    fi
    if readelf -l "$BIN" | grep -q "Requesting program interpreter"; then
        echo "FAIL  the binary has an ELF interpreter"; fail=1
    else
        echo "ok    no ELF interpreter (PT_INTERP)"
    fi
    if readelf -d "$BIN" 2>/dev/null | grep -q NEEDED; then
        echo "FAIL  the binary has DT_NEEDED entries"; fail=1
    fi
    # The shipped binary stays under 15 MB (decimal: 15,000,000 bytes), web UI included.
    size=$(stat -c %s "$BIN")
    max_size=15000000
    if [ "$size" -lt "$max_size" ]; then
        echo "ok    size: $size bytes (< $max_size), $(file -b "$BIN" 2>/dev/null | cut -d, -f1-2 || true)"
    else
        echo "FAIL  size: $size bytes, the limit is $max_size"; fail=1
    fi

    if [ "${1:-}" = "--build-only" ]; then
        rm -rf "$WORK"
        [ $fail -eq 0 ] || exit 1
        echo "$BIN"
        exit 0
    fi

    # ---- run the rest in a private network namespace ----
    echo "== runtime checks in a private network namespace"
    set +e
    if unshare --net --fork -- true 2>/dev/null; then
        unshare --net --fork -- "$SELF" --inner "$BIN" "$WORK"
    else
        echo "      (no network namespace here: using the host's loopback; port 8200 must be free)"
        VAULTLET_NO_NETNS=1 "$SELF" --inner "$BIN" "$WORK"
    fi
    rc=$?
    set -e
    [ $rc -eq 0 ] || fail=1
    rm -rf "$WORK"
    echo "== static-binary.sh: $([ $fail -eq 0 ] && echo PASS || echo FAIL) in $(( $(date +%s) - start ))s"
    exit $fail
fi

# ---------------- inside the network namespace ----------------
BIN=$2
WORK=$3
[ -n "${VAULTLET_NO_NETNS:-}" ] || ip link set lo up
CHROOT=$(command -v chroot)
fail=0
ok() { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fail=1; }

# 3. An empty root: the binary and nothing else.
EMPTY="$WORK/empty-root"
mkdir -p "$EMPTY"
cp "$BIN" "$EMPTY/vaultlet"
ln -s vaultlet "$EMPTY/vault"
listing=$(cd "$EMPTY" && ls -A | tr '\n' ' ')
ok "empty root holds only: $listing"
t0=$(date +%s%N)
env -i "$CHROOT" "$EMPTY" /vaultlet server -dev -dev-root-token-id=root \
    -dev-listen-address=127.0.0.1:8200 -dev-no-store-token >"$WORK/empty-root.log" 2>&1 &
pid=$!
code=000
for _ in $(seq 1 150); do
    code=$(curl --noproxy '*' -s -o "$WORK/health.json" -w '%{http_code}' http://127.0.0.1:8200/v1/sys/health || true)
    [ "$code" = 200 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
if [ "$code" = 200 ]; then
    ok "served /v1/sys/health from the empty root: 200 in $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(cat "$WORK/health.json")"
    grep -q '"sealed":false' "$WORK/health.json" || bad "health body does not say unsealed"
else
    bad "no 200 from /v1/sys/health in the empty root (got $code); server log:"
    cat "$WORK/empty-root.log"
fi
# The CLI side of the same binary, also from the empty root (no CA bundle, no /etc).
if out=$(env -i VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root "$CHROOT" "$EMPTY" /vault status 2>&1); then
    ok "\`vault status\` from the empty root"
else
    bad "\`vault status\` from the empty root failed: $out"
fi
kill -TERM $pid 2>/dev/null || true
wait $pid 2>/dev/null || true

# The example configs in config/ start as documented (data/TLS paths moved to $WORK).
CFG="$WORK/configs"; mkdir -p "$CFG/tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CFG/tls/ca.key" -out "$CFG/tls/ca.crt" \
    -subj /CN=vaultlet-test-ca -days 1 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$CFG/tls/tls.key" -out "$CFG/tls/tls.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' >"$CFG/tls/ext"
openssl x509 -req -in "$CFG/tls/tls.csr" -CA "$CFG/tls/ca.crt" -CAkey "$CFG/tls/ca.key" -CAcreateserial \
    -out "$CFG/tls/tls.crt" -days 1 -extfile "$CFG/tls/ext" 2>/dev/null
# config/ha-postgres.hcl needs a database: it is started against a closed
# loopback port and must wait for it (retrying, warning, not listening) until
# SIGTERM, as it does while a real database starts.
for path in config/*.hcl; do
    name=$(basename "$path" .hcl)
    if [ "$name" = ha-postgres ]; then
        VAULT_STATIC_SEAL_KEY=$(head -c 32 /dev/urandom | base64) \
            VAULT_PG_CONNECTION_URL="postgres://vault@127.0.0.1:1/vault?sslmode=disable" \
            VAULT_API_ADDR=http://127.0.0.1:8200 VAULT_CLUSTER_ADDR=https://127.0.0.1:8201 \
            "$BIN" server -config "$path" >"$CFG/$name.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 50); do
            grep -q "storage not reachable yet" "$CFG/$name.log" && break
            kill -0 $pid 2>/dev/null || break
            sleep 0.1
        done
        sleep 1
        code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8200/v1/sys/health || true)
        if kill -0 $pid 2>/dev/null && grep -q "storage not reachable yet" "$CFG/$name.log" && [ "$code" = 000 ]; then
            ok "config/$name.hcl parses and waits for its database (retrying, not listening yet)"
        else
            bad "config/$name.hcl: want a server waiting for the database, got health $code"; cat "$CFG/$name.log"
        fi
        if grep -i "warn" "$CFG/$name.log" | grep -qv "storage not reachable yet"; then
            bad "config/$name.hcl warns: $(grep -i warn "$CFG/$name.log" | grep -v "storage not reachable yet" | head -3)"
        fi
        kill -TERM $pid 2>/dev/null || true
        wait $pid 2>/dev/null || true
        continue
    fi
    sed -e "s#/vault/data#$CFG/$name-data#; s#/vault/tls#$CFG/tls#; s#127.0.0.1:8200#0.0.0.0:8200#" \
        "$path" >"$CFG/$name.hcl"
    scheme=http; [ $name = tls ] && scheme=https
    VAULT_STATIC_SEAL_KEY=$(head -c 32 /dev/urandom | base64) \
        "$BIN" server -config "$CFG/$name.hcl" >"$CFG/$name.log" 2>&1 &
    pid=$!
    code=000
    for _ in $(seq 1 100); do
        code=$(curl --noproxy '*' -s --cacert "$CFG/tls/ca.crt" -o /dev/null -w '%{http_code}' \
            "$scheme://127.0.0.1:8200/v1/sys/health" || true)
        [ "$code" != 000 ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    # A new store is uninitialized: 501, as Vault.
    if [ "$code" = 501 ]; then ok "config/$name.hcl starts ($scheme, health 501 until init)"
    else bad "config/$name.hcl: health $code"; cat "$CFG/$name.log"; fi
    if grep -qi "warn" "$CFG/$name.log"; then bad "config/$name.hcl warns: $(grep -i warn "$CFG/$name.log" | head -3)"; fi
    kill -TERM $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
done

# 4. The image's runtime stage, then the pods of the shipped manifests in it
#    (and of the Helm chart's guide/dev/durable renderings when helm is there:
#    tests/packaging/validate.sh builds it).
pods=(--pod "k8s-dev=docker/k8s/10-vault-bootstrap.yaml,docker/k8s/20-vault.yaml"
      --pod "k8s-durable=docker/k8s/durable/10-vault-bootstrap.yaml,docker/k8s/durable/20-vault.yaml")
HELM="$(go env GOPATH 2>/dev/null)/bin/helm"
if [ -x "$HELM" ]; then
    for r in "guide:--set server.dev.enabled=true" \
             "dev:-f docker/helm/vaultlet/ci/dev-values.yaml" \
             "durable:-f docker/helm/vaultlet/ci/durable-values.yaml"; do
        # shellcheck disable=SC2086 # the flags are split into words on purpose
        HELM_CACHE_HOME=$WORK/helm HELM_CONFIG_HOME=$WORK/helm HELM_DATA_HOME=$WORK/helm \
            "$HELM" template vault docker/helm/vaultlet --namespace vault-demo --skip-tests ${r#*:} \
            >"$WORK/chart-${r%%:*}.yaml"
        pods+=(--pod "helm-${r%%:*}=$WORK/chart-${r%%:*}.yaml")
    done
else
    echo "      (no helm in $HELM: the chart's pods are not run; tests/packaging/validate.sh builds it)"
fi
BUSYBOX=$(command -v busybox || echo /bin/busybox)
python3 "$REPO/tests/packaging/emulate_image.py" --binary "$BIN" --busybox "$BUSYBOX" \
    --root "$WORK/image-root" "${pods[@]}" || fail=1
exit $fail
