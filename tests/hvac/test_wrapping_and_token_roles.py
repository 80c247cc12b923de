"""hvac against response wrapping and token roles: the trusted-orchestrator
flow (a wrapped AppRole secret ID, unwrapped by the workload, which logs in
with it), wrapped token creation, sys.wrap/unwrap, and token roles through
client.auth.token."""
import pytest
from hvac import Client, exceptions


@pytest.fixture
def approle(client, unique):
    mount = f"approle-{unique}"
    client.sys.enable_auth_method("approle", path=mount)
    yield mount
    client.sys.disable_auth_method(mount)


def test_wrapped_secret_id_is_unwrapped_once_and_logs_in(server, client, approle):
    url, _ = server
    a = client.auth.approle
    a.create_or_update_approle("web", token_policies=["default"], mount_point=approle)
    role_id = a.read_role_id("web", mount_point=approle)["data"]["role_id"]
    wrapped = a.generate_secret_id("web", mount_point=approle, wrap_ttl="60s")
    info = wrapped["wrap_info"]
    assert wrapped["data"] is None and info["ttl"] == 60
    assert info["creation_path"] == f"auth/{approle}/role/web/secret-id"

    # The workload holds only the wrapping token.
    workload = Client(url=url, token=info["token"])
    secret = workload.sys.unwrap()["data"]
    assert secret["secret_id_accessor"] == info["wrapped_accessor"]
    with pytest.raises(exceptions.InvalidRequest):
        Client(url=url, token=info["token"]).sys.unwrap()
    login = Client(url=url).auth.approle.login(role_id, secret["secret_id"], mount_point=approle)
    assert login["auth"]["policies"] == ["default"]


def test_wrapped_token_creation_and_sys_wrap(server, client):
    url, _ = server
    wrapped = client.auth.token.create(policies=["default"], ttl="1h", wrap_ttl="2m")
    info = wrapped["wrap_info"]
    assert info["ttl"] == 120 and info["creation_path"] == "auth/token/create"
    unwrapped = client.sys.unwrap(token=info["token"])
    assert unwrapped["auth"]["accessor"] == info["wrapped_accessor"]
    assert Client(url=url, token=unwrapped["auth"]["client_token"]).is_authenticated()

    token = client.sys.wrap(payload={"k": "v"}, ttl="5m")["wrap_info"]["token"]
    assert client.sys.unwrap(token=token)["data"] == {"k": "v"}


def test_token_roles(server, client, unique):
    url, _ = server
    t = client.auth.token
    name = f"role-{unique}"
    t.create_or_update_role(name, allowed_policies=["app"], orphan=True, renewable=False, path_suffix="rev1",
                            token_period="30m")
    role = t.read_role(name)["data"]
    assert role["allowed_policies"] == ["app"] and role["orphan"] is True
    assert role["token_period"] == 1800 and role["path_suffix"] == "rev1"
    assert name in t.list_roles()["data"]["keys"]

    made = t.create(role_name=name)["auth"]
    assert made["policies"] == ["app", "default"] and made["orphan"] is True
    assert made["renewable"] is False and made["lease_duration"] == 1800
    looked = t.lookup(made["client_token"])["data"]
    assert looked["path"] == f"auth/token/create/{name}/rev1" and looked["role"] == name
    with pytest.raises(exceptions.InvalidRequest):
        t.create(role_name=name, policies=["other"])
    with pytest.raises(exceptions.InvalidRequest):
        t.create(role_name=f"{name}-missing")
    t.delete_role(name)
    with pytest.raises(exceptions.InvalidPath):
        t.read_role(name)
