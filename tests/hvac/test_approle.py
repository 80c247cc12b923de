"""hvac's AppRole API (client.auth.approle) end to end: role, role-id,
secret-id (generated and custom), lookups, login with auth.approle.login, and
what the login token can do."""
import pytest
from hvac import Client, exceptions


@pytest.fixture
def approle(client, unique):
    mount = f"approle-{unique}"
    client.sys.enable_auth_method("approle", path=mount)
    yield mount
    client.sys.disable_auth_method(mount)


def test_role_role_id_secret_id_login(server, client, approle, unique):
    url, _ = server
    pol = f"pol-{unique}"
    client.sys.create_or_update_acl_policy(pol, 'path "sys/mounts" {\n  capabilities = ["read"]\n}\n')
    a = client.auth.approle
    a.create_or_update_approle("web", token_policies=[pol], token_ttl="1h", token_max_ttl="2h",
                               secret_id_ttl="10m", secret_id_num_uses=3, mount_point=approle)
    role = a.read_role("web", mount_point=approle)["data"]
    assert role["token_policies"] == [pol]
    assert role["token_ttl"] == 3600 and role["token_max_ttl"] == 7200
    assert role["secret_id_ttl"] == 600 and role["secret_id_num_uses"] == 3
    assert role["bind_secret_id"] is True
    assert a.list_roles(mount_point=approle)["data"]["keys"] == ["web"]

    role_id = a.read_role_id("web", mount_point=approle)["data"]["role_id"]
    gen = a.generate_secret_id("web", metadata={"team": "a"}, mount_point=approle)["data"]
    assert gen["secret_id_ttl"] == 600 and gen["secret_id_num_uses"] == 3
    look = a.read_secret_id("web", gen["secret_id"], mount_point=approle)["data"]
    assert look["metadata"] == {"team": "a"} and look["secret_id_accessor"] == gen["secret_id_accessor"]
    assert gen["secret_id_accessor"] in a.list_secret_id_accessors("web", mount_point=approle)["data"]["keys"]
    assert a.read_secret_id_accessor("web", gen["secret_id_accessor"], mount_point=approle)["data"]["secret_id_num_uses"] == 3

    # auth.approle.login with a fresh client: the client takes the token.
    c = Client(url=url)
    resp = c.auth.approle.login(role_id, gen["secret_id"], mount_point=approle)
    auth = resp["auth"]
    assert c.token == auth["client_token"] and c.is_authenticated()
    assert auth["policies"] == sorted([pol, "default"]) and auth["token_policies"] == sorted([pol, "default"])
    assert auth["metadata"] == {"role_name": "web", "team": "a"}
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True
    assert "sys/" in c.sys.list_mounted_secrets_engines()["data"]
    with pytest.raises(exceptions.Forbidden):
        c.sys.list_auth_methods()
    self_ = c.lookup_token()["data"]
    assert self_["path"] == f"auth/{approle}/login" and self_["meta"]["role_name"] == "web"
    # num_uses: 3 → 2 left after one login.
    assert a.read_secret_id("web", gen["secret_id"], mount_point=approle)["data"]["secret_id_num_uses"] == 2

    # A custom secret-id and a custom role-id.
    a.update_role_id("web", f"custom-{unique}", mount_point=approle)
    assert a.read_role_id("web", mount_point=approle)["data"]["role_id"] == f"custom-{unique}"
    a.create_custom_secret_id("web", f"secret-{unique}", mount_point=approle)
    c2 = Client(url=url)
    c2.auth.approle.login(f"custom-{unique}", f"secret-{unique}", mount_point=approle)
    assert c2.is_authenticated()

    # Wrong credentials are 400s.
    with pytest.raises(exceptions.InvalidRequest):
        Client(url=url).auth.approle.login(f"custom-{unique}", "wrong", mount_point=approle)
    with pytest.raises(exceptions.InvalidRequest):
        Client(url=url).auth.approle.login(role_id, gen["secret_id"], mount_point=approle)  # old role id

    # Destroy by secret-id and by accessor: login fails afterwards.
    a.destroy_secret_id("web", gen["secret_id"], mount_point=approle)
    with pytest.raises(exceptions.InvalidRequest):
        Client(url=url).auth.approle.login(f"custom-{unique}", gen["secret_id"], mount_point=approle)
    acc = a.generate_secret_id("web", mount_point=approle)["data"]
    a.destroy_secret_id_accessor("web", acc["secret_id_accessor"], mount_point=approle)
    with pytest.raises(exceptions.InvalidRequest):
        Client(url=url).auth.approle.login(f"custom-{unique}", acc["secret_id"], mount_point=approle)

    a.delete_role("web", mount_point=approle)
    with pytest.raises(exceptions.InvalidPath):
        a.read_role("web", mount_point=approle)
    client.sys.delete_acl_policy(pol)


def test_login_without_secret_and_use_token_false(server, client, approle):
    url, _ = server
    a = client.auth.approle
    a.create_or_update_approle("nosecret", bind_secret_id=False, secret_id_bound_cidrs=["127.0.0.0/8"],
                               token_policies=["default"], mount_point=approle)
    role_id = a.read_role_id("nosecret", mount_point=approle)["data"]["role_id"]
    c = Client(url=url)
    resp = c.auth.approle.login(role_id, use_token=False, mount_point=approle)
    assert resp["auth"]["client_token"] and c.token != resp["auth"]["client_token"]   # not adopted
    with pytest.raises(exceptions.InvalidRequest):
        a.create_or_update_approle("bad", bind_secret_id=False, mount_point=approle)   # no constraint at all
