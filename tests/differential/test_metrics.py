"""sys/metrics (https://developer.hashicorp.com/vault/api-docs/system/metrics):
the dev listener serves it without a token; its refusals (unknown format,
a write) compare exactly; its 200 bodies hold each server's own series, so
only their form is compared (JSON keys and types; Prometheus content type
and the seal gauge and request timer both expose)."""


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
