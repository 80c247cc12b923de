"""Audit integrity under concurrency: two file audit devices write to the
same file while several clients send requests at once. Every line must be
one JSON record, and each device must have logged every response.

vaultlet enables the devices through sys/audit; OpenBao only accepts file
audit devices from its configuration file (API creation is refused since
2.3.2), so it gets the same two devices there.

Class: ``bad_lines=<n> responses=<logged>/<expected>``.
"""
import json
import os
import uuid

import requests

from attack import Answer, run_concurrently

WRITERS = 6
REQUESTS_EACH = 400
BAO_AUDIT = """
audit "file" "one" {
  options { file_path = "{home}/shared-audit.log" }
}
audit "file" "two" {
  options { file_path = "{home}/shared-audit.log" }
}
"""


def test_two_devices_one_file_concurrent_writers(fresh_dev):
    pair = fresh_dev("audit", bao_config=BAO_AUDIT)
    mount = "kvaud" + uuid.uuid4().hex[:6]

    def setup(s):
        log = os.path.join(s.home, "shared-audit.log")
        if s.name.startswith("vaultlet"):
            for dev in ("one", "two"):
                s.ok("PUT", f"sys/audit/{dev}", {"type": "file", "options": {"file_path": log}})
        s.enable_secrets(mount, "kv")
    pair.each(setup)

    def probe(srv):
        value = "x" * 2048  # long records make torn writes likelier

        def writer(i):
            sess = requests.Session()
            return [srv.req("PUT", f"{mount}/w{i}/k{j}", {"v": value}, session=sess).status_code
                    for j in range(REQUESTS_EACH)]
        results = run_concurrently(WRITERS, writer)
        sent = sum(1 for r in results if isinstance(r, list) for s in r if s == 204)
        bad, responses = 0, 0
        with open(os.path.join(srv.home, "shared-audit.log"), "rb") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    assert isinstance(rec, dict)
                except (ValueError, AssertionError):
                    bad += 1
                    continue
                if rec.get("type") == "response" and rec.get("request", {}).get("path", "").startswith(mount + "/"):
                    responses += 1
        return Answer(f"bad_lines={bad} responses={responses}/{2 * WRITERS * REQUESTS_EACH}",
                      f"{sent} writes answered 204")
    pair.probe("audit/two-devices-one-file", probe,
               expect=f"bad_lines=0 responses={2 * WRITERS * REQUESTS_EACH}/{2 * WRITERS * REQUESTS_EACH}")
