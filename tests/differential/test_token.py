"""Token store (https://developer.hashicorp.com/vault/api-docs/auth/token)."""
import uuid


def test_token_lifecycle(pair):
    n = "tp" + uuid.uuid4().hex[:6]
    pair.call("PUT", f"sys/policies/acl/{n}", {"policy": 'path "sys/mounts" { capabilities = ["read"] }'}, expect=204)
    pair.call("GET", "auth/token/lookup-self", expect=200)
    # The CLI's `vault token create -policy=p` body.
    ra, rb = pair.call("POST", "auth/token/create", {
        "policies": [n], "ttl": "0s", "explicit_max_ttl": "0s", "period": "0s", "display_name": "", "num_uses": 0,
        "renewable": True, "type": "service", "entity_alias": ""}, expect=200)
    pair.set("t1", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.set("a1", lambda r: r.get("auth", "accessor"), ra, rb)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n, "nosuchpolicy"], "ttl": "1h", "meta": {"k": "v"},
                                                     "display_name": "Web Server", "num_uses": 3, "explicit_max_ttl": "2h"},
                       expect=200)
    pair.set("t2", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.set("a2", lambda r: r.get("auth", "accessor"), ra, rb)
    pair.call("GET", "auth/token/lookup-self", token="<<t2>>", expect=200)
    pair.call("POST", "auth/token/lookup", {"token": "<<t2>>"}, expect=200)
    pair.call("POST", "auth/token/lookup-accessor", {"accessor": "<<a2>>"}, expect=200)
    pair.call("GET", "sys/mounts", token="<<t2>>", expect=200)
    pair.call("GET", "sys/mounts", token="<<t2>>", expect=200)         # third and last use
    pair.call("GET", "sys/mounts", token="<<t2>>", expect=403)         # num_uses=3 exhausted
    pair.call("POST", "auth/token/lookup-accessor", {"accessor": "<<a2>>"}, expect=400)   # gone
    pair.call("POST", "auth/token/renew-self", {"increment": "1h"}, token="<<t1>>", expect=200)
    pair.call("POST", "auth/token/renew", {"token": "<<t1>>", "increment": 3600}, expect=200)
    ra, rb = pair.call("POST", "auth/token/create-orphan", {"policies": [n], "ttl": "30m", "period": "1h"}, expect=200)
    pair.set("t3", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.call("POST", "auth/token/lookup", {"token": "<<t3>>"}, expect=200)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n], "no_default_policy": True, "renewable": False,
                                                     "ttl": 600}, expect=200)
    pair.set("t4", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.call("POST", "auth/token/renew-self", {}, token="<<t4>>", expect=(400, 403))
    pair.call("GET", "auth/token/lookup-self", token="<<t4>>", expect=403)
    # Children die with their parent.
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n], "ttl": "1h"}, token="<<t1>>", expect=(200, 403))
    pair.call("GET", "auth/token/accessors", query={"list": "true"}, expect=200)
    pair.call("POST", "auth/token/revoke-accessor", {"accessor": "<<a1>>"}, expect=204)
    pair.call("GET", "auth/token/lookup-self", token="<<t1>>", expect=403)
    pair.call("POST", "auth/token/revoke", {"token": "<<t3>>"}, expect=204)
    pair.call("POST", "auth/token/lookup", {"token": "<<t3>>"}, expect=(400, 403))
    pair.call("POST", "auth/token/revoke-self", token="<<t4>>", expect=403)
    pair.call("POST", "auth/token/lookup", {"token": "nosuchtoken"}, expect=(400, 403))
    pair.call("POST", "auth/token/lookup-accessor", {"accessor": "nosuchaccessor"}, expect=400)
    pair.call("POST", "auth/token/create", {"policies": ["root"]}, token="<<t2>>", expect=403)
    pair.call("DELETE", f"sys/policies/acl/{n}", expect=204)
    pair.check()


def test_token_revoke_self_and_root_lookup(pair):
    ra, rb = pair.call("POST", "auth/token/create", {"ttl": "1h"}, expect=200)
    pair.set("t", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.call("POST", "auth/token/revoke-self", token="<<t>>", expect=204)
    pair.call("GET", "auth/token/lookup-self", token="<<t>>", expect=403)
    pair.call("POST", "auth/token/create", {"id": "custom-id-xyz", "ttl": "1h"}, expect=200)
    pair.call("POST", "auth/token/lookup", {"token": "custom-id-xyz"}, expect=200)
    pair.call("POST", "auth/token/create", {"id": "custom-id-xyz", "ttl": "1h"}, expect=400)
    pair.check()


def test_token_revoke_orphan(pair):
    n = "to" + uuid.uuid4().hex[:6]
    pair.call("PUT", f"sys/policies/acl/{n}", {"policy": 'path "auth/token/create" { capabilities = ["update"] }\n'
                                                         'path "auth/token/revoke-orphan" { capabilities = ["update"] }'},
              expect=204)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n]}, expect=200)
    pair.set("parent", lambda r: r.get("auth", "client_token"), ra, rb)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n]}, token="<<parent>>", expect=200)
    pair.set("child", lambda r: r.get("auth", "client_token"), ra, rb)
    ra, rb = pair.call("POST", "auth/token/create", {"policies": [n]}, token="<<child>>", expect=200)
    pair.set("grandchild", lambda r: r.get("auth", "client_token"), ra, rb)
    pair.call("POST", "auth/token/revoke-orphan", {}, expect=400)
    pair.call("POST", "auth/token/revoke-orphan", {"token": "nosuchtoken"}, expect=400)
    # Sudo is checked by the handler: 400, not 403.
    pair.call("POST", "auth/token/revoke-orphan", {"token": "<<child>>"}, token="<<parent>>", expect=400)
    pair.call("POST", "auth/token/revoke-orphan", {}, token="<<parent>>", expect=400)
    pair.call("POST", "auth/token/revoke-orphan", {"token": "<<parent>>"}, expect=204)
    pair.call("GET", "auth/token/lookup-self", token="<<parent>>", expect=403)
    pair.call("GET", "auth/token/lookup-self", token="<<child>>", expect=200)       # an orphan now
    pair.call("GET", "auth/token/lookup-self", token="<<grandchild>>", expect=200)  # still the child's
    pair.call("POST", "auth/token/revoke", {"token": "<<child>>"}, expect=204)
    pair.call("GET", "auth/token/lookup-self", token="<<grandchild>>", expect=403)
    pair.call("GET", "auth/token/revoke-orphan", expect=405)
    pair.call("DELETE", f"sys/policies/acl/{n}", expect=204)
    pair.check()


def _time_forms(data):
    """How a token lookup writes its times: Unix seconds as integers, the
    lease's times in RFC 3339 with the fraction of a second Go keeps."""
    import datetime
    import re
    forms = {}
    for k in ("issue_time", "expire_time", "last_renewal"):
        v = data.get(k)
        forms[k] = None if v is None else bool(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z$", v))
    for k in ("creation_time", "last_renewal_time"):
        forms[k] = type(data.get(k)).__name__
    issued = datetime.datetime.fromisoformat(data["issue_time"][:19] + "+00:00")
    forms["issue_time is creation_time"] = int(issued.timestamp()) == data["creation_time"]
    return forms


def test_token_times_have_vaults_precision(pair):
    ra, rb = pair.call("POST", "auth/token/create", {"ttl": "1h"}, expect=200)
    pair.set("t", lambda r: r.get("auth", "client_token"), ra, rb)
    ra, rb = pair.call("POST", "auth/token/lookup", {"token": "<<t>>"}, expect=200)
    assert _time_forms(ra.json["data"]) == _time_forms(rb.json["data"])
    pair.call("POST", "auth/token/renew", {"token": "<<t>>"}, expect=200)
    ra, rb = pair.call("POST", "auth/token/lookup", {"token": "<<t>>"}, expect=200)
    forms = _time_forms(ra.json["data"])
    assert forms == _time_forms(rb.json["data"])
    assert forms["issue_time"] and forms["expire_time"] and forms["last_renewal"], forms
    ra, rb = pair.call("GET", "auth/token/lookup-self", expect=200)
    assert _time_forms(ra.json["data"]) == _time_forms(rb.json["data"])
    pair.check()
