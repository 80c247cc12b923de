"""Concurrency races on the durable store (the one that fsyncs: vaultlet's
redb, OpenBao's raft). Every race releases its threads together with a
barrier; counts are exact.

Classes: for use counts, ``granted=<n>`` per round: the requests that
succeeded in the concurrent wave plus those that still succeed when tried
one by one afterwards, i.e. the uses the credential really gave (OpenBao
answers some racing losers with a 500 and lets their use be taken later;
what must be exact is the total); for sys/init the
multiset of statuses and what the winner's key and token do, before and
after a restart; for unseal the progress and seal state after each wave;
for lockout the answer to the right credentials after a wave of wrong ones.
"""
import collections
import re
import time
import uuid

import pytest
import requests

from attack import Answer, errors, run_concurrently
from conftest import restart

ANSI = re.compile(r"\x1b\[[0-9;]*m")
THREADS = 16
ROUNDS = 3


def _counts(statuses) -> str:
    c = collections.Counter(s if isinstance(s, int) else type(s).__name__ for s in statuses)
    return " ".join(f"{k}x{c[k]}" for k in sorted(c, key=str))


@pytest.fixture(scope="module")
def kv2(durable):
    mount = "secret" + uuid.uuid4().hex[:6]

    def setup(s):
        s.enable_secrets(mount, "kv", options={"version": "2"})
        # kv-v2 upgrades its storage layout right after mounting
        for _ in range(100):
            if s.req("PUT", f"{mount}/data/app/db", {"data": {"password": "p"}}).status_code == 200:
                break
            time.sleep(0.1)
        s.ok("GET", f"{mount}/data/app/db")
        s.policy(f"reader-{mount}", f'path "{mount}/data/app/db" {{ capabilities = ["read"] }}')
    durable.each(setup)
    return mount


def granted_per_round(make_use, uses) -> Answer:
    """ROUNDS times: a fresh credential from make_use() (a function sending
    one use and returning its status) is used by THREADS racing threads,
    then uses+1 more times one by one; counts the 200s of both."""
    rounds, details = [], []
    for _ in range(ROUNDS):
        use = make_use()
        wave = run_concurrently(THREADS, lambda i: use())
        later = [use() for _ in range(uses + 1)]
        rounds.append(str(wave.count(200) + later.count(200)))
        details.append(f"wave {_counts(wave)} then {_counts(later)}")
    return Answer("granted=" + ",".join(rounds), "; ".join(details))


@pytest.mark.parametrize("uses", [1, 3])
def test_token_num_uses_under_concurrency(durable, kv2, uses):
    def make_use(srv):
        token = srv.child_token([f"reader-{kv2}"], num_uses=uses)
        return lambda: srv.req("GET", f"{kv2}/data/app/db", token=token, session=_session()).status_code
    durable.probe(f"races/token-num-uses-{uses}", lambda srv: granted_per_round(lambda: make_use(srv), uses),
                  expect="granted=" + ",".join([str(uses)] * ROUNDS))


def _session():
    """One connection per racing thread (a shared Session is not thread-safe)."""
    return requests.Session()


@pytest.fixture(scope="module")
def approle(durable):
    path = "ar" + uuid.uuid4().hex[:6]
    durable.each(lambda s: s.enable_auth(path, "approle"))
    return path


@pytest.mark.parametrize("uses", [1, 3])
def test_secret_id_num_uses_under_concurrency(durable, approle, uses):
    def make_use(srv):
        role = "r" + uuid.uuid4().hex[:6]
        srv.ok("POST", f"auth/{approle}/role/{role}", {"secret_id_num_uses": uses, "token_ttl": "10m"})
        role_id = srv.ok("GET", f"auth/{approle}/role/{role}/role-id").json()["data"]["role_id"]
        secret_id = srv.ok("POST", f"auth/{approle}/role/{role}/secret-id", {}).json()["data"]["secret_id"]
        return lambda: srv.req("POST", f"auth/{approle}/login", {"role_id": role_id, "secret_id": secret_id},
                               token=None, session=_session()).status_code
    durable.probe(f"races/secret-id-num-uses-{uses}", lambda srv: granted_per_round(lambda: make_use(srv), uses),
                  expect="granted=" + ",".join([str(uses)] * ROUNDS))


def test_lockout_counter_under_concurrency(durable):
    """16 wrong secret IDs at once against a threshold of 3: the role ID is
    locked afterwards, so the right secret ID is refused too."""
    def probe(srv):
        path = "lo" + uuid.uuid4().hex[:6]
        srv.enable_auth(path, "approle")
        srv.ok("POST", f"sys/auth/{path}/tune",
               {"user_lockout_config": {"lockout_threshold": "3", "lockout_duration": "10m"}})
        srv.ok("POST", f"auth/{path}/role/app", {"token_ttl": "10m"})
        role_id = srv.ok("GET", f"auth/{path}/role/app/role-id").json()["data"]["role_id"]
        secret_id = srv.ok("POST", f"auth/{path}/role/app/secret-id", {}).json()["data"]["secret_id"]
        statuses = run_concurrently(THREADS, lambda i: srv.req(
            "POST", f"auth/{path}/login", {"role_id": role_id, "secret_id": f"wrong-{i}"}, token=None,
            session=_session()).status_code)
        good = srv.req("POST", f"auth/{path}/login", {"role_id": role_id, "secret_id": secret_id}, token=None)
        return Answer(f"right_secret_after={good.status_code}", f"wrong wave: {_counts(statuses)}; {errors(good)}")
    durable.probe("races/lockout-counter", probe, expect="right_secret_after=403")


# ---------------------------------------------------------------------------
# sys/init and sys/unseal on a fresh store


def _init_race(srv, body):
    replies = run_concurrently(8, lambda i: srv.req("PUT", "sys/init", body, token=None, session=_session()))
    statuses = [r.status_code if hasattr(r, "status_code") else r for r in replies]
    winners = [r for r in replies if hasattr(r, "status_code") and r.status_code == 200]
    losers = sorted({errors(r) for r in replies if hasattr(r, "status_code") and r.status_code != 200})
    return statuses, winners, losers


def _unseal_with(srv, keys) -> str:
    r = None
    for k in keys:
        r = srv.req("PUT", "sys/unseal", {"key": k}, token=None)
        if r.status_code != 200:
            return f"unseal={r.status_code}"
    return "unsealed" if r is not None and not r.json().get("sealed") else "still-sealed"


def _root_works(srv, token) -> str:
    for _ in range(100):  # OpenBao's raft needs a moment to become active
        if srv.req("GET", "sys/seal-status", token=None).json().get("sealed"):
            return "no(sealed)"
        r = srv.req("GET", "sys/mounts", token=token)
        if r.status_code not in (429, 500, 503):
            break
        time.sleep(0.2)
    return "yes" if r.status_code == 200 else f"no({r.status_code})"


@pytest.mark.parametrize("seal", ["shamir", "static"])
def test_concurrent_init(fresh_durable, seal):
    """8 unauthenticated sys/init at once on a new store: one wins, its key
    unseals (Shamir) and its root token works, also after a restart."""
    pair = fresh_durable(f"init-race-{seal}", static_seal=seal == "static")
    body = {"secret_shares": 1, "secret_threshold": 1} if seal == "shamir" else {}

    def probe(srv):
        statuses, winners, losers = _init_race(srv, body)
        if len(winners) != 1:
            return Answer(f"init={_counts(statuses)}", "; ".join(losers))
        won = winners[0].json()
        first = _unseal_with(srv, won["keys"]) if seal == "shamir" else "auto"
        root = _root_works(srv, won["root_token"])
        try:
            restart(srv)
        except RuntimeError as e:
            log_tail = ANSI.sub("", str(e))[-200:]
            return Answer(f"init={_counts(statuses)} key={first} root={root} after_restart: no-server",
                          f"{'; '.join(losers)}; restart: {log_tail}")
        again = _unseal_with(srv, won["keys"]) if seal == "shamir" else "auto"
        root_again = _root_works(srv, won["root_token"])
        return Answer(f"init={_counts(statuses)} key={first} root={root} after_restart: key={again} root={root_again}",
                      "; ".join(losers))
    key = "unsealed" if seal == "shamir" else "auto"
    pair.probe(f"races/init-{seal}", probe,
               expect=f"init=200x1 400x7 key={key} root=yes after_restart: key={key} root=yes")


def test_unseal_progress_race(fresh_durable):
    """Threshold 2 of 3: a wave of the same first key moves progress to 1
    once; a wave of the second key then unseals."""
    pair = fresh_durable("unseal-race")

    def probe(srv):
        r = srv.req("PUT", "sys/init", {"secret_shares": 3, "secret_threshold": 2}, token=None)
        assert r.status_code == 200, r.text
        keys = r.json()["keys"]
        wave1 = run_concurrently(THREADS, lambda i: srv.req("PUT", "sys/unseal", {"key": keys[0]}, token=None,
                                                            session=_session()).status_code)
        status = srv.req("GET", "sys/seal-status", token=None).json()
        after1 = f"progress={status['progress']} sealed={status['sealed']}"
        wave2 = run_concurrently(THREADS, lambda i: srv.req("PUT", "sys/unseal", {"key": keys[1]}, token=None,
                                                            session=_session()).status_code)
        status = srv.req("GET", "sys/seal-status", token=None).json()
        after2 = f"progress={status['progress']} sealed={status['sealed']}"
        root = _root_works(srv, r.json()["root_token"])
        return Answer(f"wave1: {after1}; wave2: {after2} root={root}",
                      f"wave1 {_counts(wave1)}; wave2 {_counts(wave2)}")
    pair.probe("races/unseal-progress", probe,
               expect="wave1: progress=1 sealed=True; wave2: progress=0 sealed=False root=yes")
