"""Resource exhaustion by clients without a token: JSON bodies that are
cheap to send and dear to parse, and connections that hold a slot without
sending a request.

Body probes run on a fresh pair each, so the peak resident memory (VmHWM in
/proc/<pid>/status) before the request is the server's idle baseline.
Class: ``<status> peak_rss_bounded=<yes|no> alive=<yes|no>``, where bounded
means the peak grew by less than the shape's limit for one request of at most
16 MiB (OpenBao's growth is shown on failure for scale).

Connection probes: a listener limited to a few connections (vaultlet's
``max_connections``; OpenBao has no such limit and is given the same load),
held by idle sockets; class ``health=<status>|no-answer`` for a new client's
``sys/health`` within ANSWER_WITHIN seconds.
"""
import json
import socket
import time

import pytest
import requests

from attack import Answer, errors

MIB = 1024 * 1024
# Shapes that expand when parsed (millions of small values) must stay well
# under 128 MiB. One long string cannot expand, but a garbage-collected server
# holds several copies of it for a moment (read buffers that double, the
# decoded string): OpenBao 2.7.2 peaked 131 MiB above idle on 16 MiB once,
# depending on when its collector runs.
BODY_RSS_LIMIT = 128 * MIB
LONG_STRING_RSS_LIMIT = 192 * MIB


def _strings(n):
    return b'{"a":[' + b",".join([b'"a"'] * n) + b"]}"


def _keys(n):
    return b"{" + b",".join(b'"k%d":1' % i for i in range(n)) + b"}"


def _nested(depth):
    return b'{"a":' + b"[" * depth + b"]" * depth + b"}"


BODIES = {
    "four-million-strings": lambda: _strings(4_000_000),      # 16 MB
    "half-million-keys": lambda: _keys(500_000),               # 6.9 MB
    "deep-nesting": lambda: _nested(100_000),                  # 200 KB
    "one-long-string": lambda: b'{"a":"' + b"a" * (16 * MIB) + b'"}',
}


@pytest.mark.parametrize("shape", list(BODIES))
def test_unauthenticated_json_body(fresh_dev, shape):
    pair = fresh_dev(f"body-{shape}")
    body = BODIES[shape]()
    assert len(body) <= 17 * MIB

    def probe(srv):
        before = srv.memory_kib("VmHWM")
        try:
            r = srv.req("PUT", "kv1/x", token=None, data=body, timeout=60)
            status, err = r.status_code, errors(r)
        except requests.RequestException as e:
            status, err = "no-answer", str(e)[:200]
        time.sleep(0.5)
        grown = (srv.memory_kib("VmHWM") - before) * 1024
        alive = "yes" if srv.alive() and srv.req("GET", "sys/health", token=None, timeout=10).status_code == 200 \
            else "no"
        limit = LONG_STRING_RSS_LIMIT if shape == "one-long-string" else BODY_RSS_LIMIT
        bounded = "yes" if grown < limit else "no"
        return Answer(f"{status} peak_rss_bounded={bounded} alive={alive}",
                      f"{err}; peak RSS grew {grown / MIB:.0f} MiB for a {len(body) / MIB:.1f} MiB body")
    pair.probe(f"exhaustion/body/{shape}", probe, expect=r"4\d\d peak_rss_bounded=yes alive=yes")


def test_token_create_with_huge_policy_and_metadata_lists(dev):
    """Even an authorised caller cannot make the server store a token with
    200,000 policies and 50,000 metadata entries."""
    body = {"policies": [f"p{i}" for i in range(200_000)], "meta": {f"k{i}": "v" for i in range(50_000)}}
    data = json.dumps(body).encode()

    def probe(srv):
        r = srv.req("POST", "auth/token/create", data=data, timeout=60)
        return Answer(f"create={r.status_code}", f"{errors(r)[:160]}; response {len(r.content)} bytes")
    dev.probe("exhaustion/token-create/huge-lists", probe, expect="create=400")


# ---------------------------------------------------------------------------

SLOTS = 16          # vaultlet's max_connections for these probes
HOLDERS = 48        # idle connections opened before the new client comes
ANSWER_WITHIN = 10  # seconds


def _hold(srv, n, send_request):
    host, port = srv.url.split("//")[1].split(":")
    socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(n)]
    if send_request:
        for s in socks:
            s.sendall(f"GET /v1/sys/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        time.sleep(1)
        for s in socks:  # take what was answered; each connection then stays open, idle
            s.settimeout(0.05)
            try:
                s.recv(65536)
            except OSError:
                pass
    return socks


@pytest.mark.parametrize("mode", ["silent", "one-keep-alive-request"])
def test_idle_connections_do_not_starve_new_clients(fresh_durable, mode):
    pair = fresh_durable(f"slots-{mode}", listener_extra=f"  max_connections = {SLOTS}\n")

    def probe(srv):
        socks = _hold(srv, HOLDERS, mode != "silent")
        try:
            r = requests.get(f"{srv.url}/v1/sys/health", timeout=ANSWER_WITHIN)
            return Answer(f"health={r.status_code}", f"{HOLDERS} idle connections held")
        except requests.RequestException as e:
            return Answer("health=no-answer", f"{HOLDERS} idle connections held: {type(e).__name__}")
        finally:
            for s in socks:
                s.close()
    pair.probe(f"exhaustion/slots/{mode}", probe, expect="health=501")
