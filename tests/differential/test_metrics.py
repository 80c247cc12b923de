"""sys/metrics (https://developer.hashicorp.com/vault/api-docs/system/metrics):
the dev listener serves it without a token; its refusals (unknown format,
a write) compare exactly; its 200 bodies hold each server's own series, so
only their form is compared (JSON keys and types; Prometheus content type
and the seal gauge and request timer both expose). Token leases and PKI
tidy progress are compared on a pair of fresh dev servers whose usage
gauges refresh every second: the same requests move the same
`vault_expire_*` and `vault_secrets_pki_tidy_*` series on both."""
import time

import pytest
import requests

import pyharness
import vdiff


def test_metrics_refusals(pair):
    pair.call("GET", "sys/metrics", token="", query={"format": "xml"}, expect=400)
    pair.call("GET", "sys/metrics", query={"format": "xml"}, expect=400)
    pair.call("GET", "sys/metrics", token="", query={"format": "PROMETHEUS"}, expect=400)
    pair.call("POST", "sys/metrics", {}, token="", expect=405)
    pair.call("DELETE", "sys/metrics", token="", expect=405)
    pair.check()


def both(pair, query, headers=None):
    return [pair._send(srv, "GET", "sys/metrics", None, None, "", headers, query) for srv in pair.sides()]


def content_type(result):
    return next((v for k, v in result.headers.items() if k.lower() == "content-type"), "")


def test_metrics_forms(pair):
    vaultlet, reference = both(pair, None)
    assert (vaultlet.status, reference.status) == (200, 200)
    assert content_type(vaultlet) == content_type(reference) == "application/json"
    assert sorted(vaultlet.json) == sorted(reference.json)
    for key, value in reference.json.items():
        assert type(vaultlet.json[key]) is type(value), key
    for kind in ("Gauges", "Counters", "Samples"):
        for series in vaultlet.json[kind]:
            example = reference.json[kind][0] if reference.json[kind] else None
            if example:
                assert sorted(series) == sorted(example), (kind, series, example)
    for query, headers in (({"format": "prometheus"}, None),
                           (None, {"Accept": "application/openmetrics-text; version=1.0.0"})):
        vaultlet, reference = both(pair, query, headers)
        assert (vaultlet.status, reference.status) == (200, 200)
        assert content_type(vaultlet) == content_type(reference) == "text/plain; version=0.0.4; charset=utf-8"
        # (OpenBao emits vault_core_active from a periodic loop: a fresh
        # server may not show it yet.)
        for line in ("# TYPE vault_core_unsealed gauge", "# TYPE vault_core_handle_request summary"):
            for side in (vaultlet, reference):
                assert line in side.body.decode(), line
        # Timers are summaries with the same quantiles, then _sum and _count.
        for side in (vaultlet, reference):
            lines = [line.split(" ")[0] for line in side.body.decode().splitlines()
                     if line.startswith("vault_core_handle_request")]
            assert lines == ['vault_core_handle_request{quantile="0.5"}',
                             'vault_core_handle_request{quantile="0.9"}',
                             'vault_core_handle_request{quantile="0.99"}',
                             "vault_core_handle_request_sum",
                             "vault_core_handle_request_count"], lines


CONFIG = (f'listener "tcp" {{\n  address = "{pyharness.LISTEN}"\n  tls_disable = true\n}}\n'
          'storage "inmem" {}\n'
          'telemetry {\n  disable_hostname = true\n  usage_gauge_period = "1s"\n}\n')


def _start(name, binary):
    """A server from CONFIG, initialized with one key share and unsealed."""
    p = pyharness.Process(name, [binary, "server", "-config={home}/server.hcl"])
    p.write("server.hcl", CONFIG)
    try:
        p.start()
        init = requests.put(f"{p.url}/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1},
                            timeout=30).json()
        requests.put(f"{p.url}/v1/sys/unseal", json={"key": init["keys"][0]}, timeout=30)
        deadline = time.time() + 30
        while not pyharness.active(p):
            if time.time() > deadline:
                raise pyharness.HarnessError(f"{name} never became active: {p.tail()}")
            time.sleep(0.1)
    except BaseException:
        p.cleanup()
        raise
    return p, vdiff.Server(name, p.url, init["root_token"])


@pytest.fixture(scope="module")
def fresh_pair(pair_of):
    """Servers of their own (no other test's tokens expire under these
    counts; no dev-mode root token made through the token store) whose
    usage gauges refresh every second."""
    started = []
    try:
        servers = []
        for name, binary in (("metrics-vaultlet", pyharness.vaultlet_bin()),
                             ("metrics-reference", pyharness.bao_bin())):
            proc, server = _start(name, binary)
            started.append(proc)
            servers.append(server)
        yield pair_of(*servers)
    finally:
        for proc in started:
            proc.cleanup()


def exposition(pair):
    """Each side's Prometheus text, past a usage gauge period."""
    time.sleep(1.2)
    return [pair._send(srv, "GET", "sys/metrics", None, None, None, None, {"format": "prometheus"}).body.decode()
            for srv in pair.sides()]


def values(text, prefix):
    """Series starting with `prefix` (labels dropped, values summed), and
    each one's TYPE."""
    found, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE " + prefix):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif line.startswith(prefix) and 'quantile="' not in line:
            series, _, value = line.rpartition(" ")
            name = series.split("{")[0]
            found[name] = found.get(name, 0.0) + float(value)
    return found, types


# Vault's expiration manager series vaultlet leaves out (see the README's
# metrics section): internal steps (revoke-common, fetch-lease-times*),
# OpenBao's job queue, the expiry queue's wait (vaultlet has no queue) and
# irrevocable leases (a token's revocation cannot fail at a backend).
NOT_EMITTED = ("vault_expire_revoke_common", "vault_expire_fetch_lease_times", "vault_expire_job_manager",
               "vault_expire_num_irrevocable_leases", "vault_expire_lease_expiration_time_in_queue")


def expire_series(text):
    found, types = values(text, "vault_expire_")
    keep = lambda name: not name.startswith(NOT_EMITTED) and name != "vault_expire_leases_by_expiration"  # noqa: E731
    counts = {k: v for k, v in found.items()
              if keep(k) and (k.endswith("_count") or k in ("vault_expire_lease_expiration", "vault_expire_num_leases"))}
    return counts, {k: v for k, v in types.items() if keep(k)}


def test_token_leases_move_the_same_expire_series(fresh_pair):
    pair = fresh_pair
    ra, rb = pair.call("POST", "auth/token/create", {"ttl": "1h", "policies": ["default"]}, expect=200)
    pair.set("kept", lambda r: r.get("auth", "client_token"), ra, rb)
    ra, rb = pair.call("POST", "auth/token/create", {"ttl": "2h", "policies": ["default"]}, expect=200)
    pair.set("gone", lambda r: r.get("auth", "client_token"), ra, rb)
    ra, rb = pair.call("POST", "auth/token/create", {"ttl": "1s", "policies": ["default"]}, expect=200)
    pair.set("short", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.call("POST", "auth/token/renew", {"token": "<<kept>>"}, expect=200)
    pair.call("POST", "auth/token/revoke", {"token": "<<gone>>"}, expect=204)
    time.sleep(2.5)
    # OpenBao revoked the short one when it expired; vaultlet when it is
    # next presented (or swept): either way one expiry.
    pair.call("GET", "auth/token/lookup-self", token="<<short>>", expect=403)
    pair.call("POST", "sys/auth/up-metrics", {"type": "userpass"}, expect=204)
    pair.call("POST", "auth/up-metrics/users/ann", {"password": "pw"}, expect=204)
    pair.call("POST", "auth/up-metrics/login/ann", {"password": "pw"}, token="", expect=200)
    pair.call("DELETE", "sys/auth/up-metrics", expect=204)
    texts = exposition(pair)
    vaultlet, reference = (expire_series(t) for t in texts)
    assert vaultlet == reference
    counts, types = vaultlet
    assert counts == {
        "vault_expire_register_auth_count": 4.0, "vault_expire_renew_token_count": 1.0,
        "vault_expire_revoke_count": 2.0, "vault_expire_revoke_by_token_count": 3.0,
        "vault_expire_revoke_prefix_count": 1.0, "vault_expire_lease_expiration": 1.0,
        "vault_expire_num_leases": 1.0}, counts
    assert types["vault_expire_lease_expiration"] == "counter"
    assert types["vault_expire_num_leases"] == "gauge"
    # The one live lease in the same hour bucket on both (OpenBao's
    # Prometheus sink also keeps a bucket a revoked lease left).
    buckets = [{line.rpartition(" ")[0].split("expiring=")[1]: float(line.rpartition(" ")[2])
                for line in t.splitlines() if line.startswith("vault_expire_leases_by_expiration{")}
               for t in texts]
    assert len(buckets[0]) == 1 and buckets[0].items() <= buckets[1].items(), buckets
    pair.check()


def test_a_tidy_run_moves_the_same_pki_tidy_series(fresh_pair):
    pair = fresh_pair
    pair.call("POST", "sys/mounts/pki-tidied", {"type": "pki"}, expect=204)
    pair.call("POST", "pki-tidied/root/generate/internal", {"common_name": "Tidied", "ttl": "24h"}, expect=200)
    pair.call("POST", "pki-tidied/roles/web", {"allow_any_name": True, "max_ttl": "1h"}, expect=200)
    for name in ("a.example", "b.example"):
        pair.call("POST", "pki-tidied/issue/web", {"common_name": name, "ttl": "1s"}, expect=200)
    ra, rb = pair.call("POST", "pki-tidied/issue/web", {"common_name": "kept.example", "ttl": "1h"}, expect=200)
    pair.set("serial", lambda r: r.get("data", "serial_number"), ra, rb)
    pair.call("POST", "pki-tidied/revoke", {"serial_number": "<<serial>>"}, expect=200)
    time.sleep(3.1)
    pair.call("POST", "pki-tidied/tidy", {"tidy_cert_store": True, "tidy_revoked_certs": True, "safety_buffer": "1s"},
              expect=202)
    pair.poll("pki-tidied/tidy-status", lambda r: r.get("data", "state") not in ("Running", "Cancelling"))
    vaultlet, reference = (values(t, "vault_secrets_pki_tidy_") for t in exposition(pair))
    skip = ("vault_secrets_pki_tidy_duration_sum",)
    assert {k: v for k, v in vaultlet[0].items() if k not in skip} == \
        {k: v for k, v in reference[0].items() if k not in skip}
    assert vaultlet[1] == reference[1]
    assert vaultlet[0]["vault_secrets_pki_tidy_cert_store_deleted_count"] == 2.0
    assert vaultlet[0]["vault_secrets_pki_tidy_revoked_cert_total_entries"] == 1.0
    assert vaultlet[0]["vault_secrets_pki_tidy_start_time_epoch"] == 0.0
    pair.check()
