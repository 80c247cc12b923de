"""hvac's identity API against vaultlet: entities, aliases, groups,
lookups, merges, the entity a userpass login attaches to, and identity
tokens (verified with PyJWT, and trusted by a JWT auth mount)."""

import hvac
import jwt
import pytest


def test_entities_aliases_groups_and_lookups(client, unique):
    identity = client.secrets.identity
    created = identity.create_or_update_entity(name=f"e-{unique}", metadata={"team": "a"},
                                               policies=["p1"])
    entity_id = created["data"]["id"]
    read = identity.read_entity(entity_id=entity_id)["data"]
    assert read["name"] == f"e-{unique}"
    assert read["metadata"] == {"team": "a"}
    assert read["policies"] == ["p1"]
    assert identity.read_entity_by_name(name=f"e-{unique}")["data"]["id"] == entity_id
    assert entity_id in identity.list_entities()["data"]["keys"]

    client.sys.enable_auth_method("userpass", path=f"up-{unique}")
    accessor = client.sys.list_auth_methods()["data"][f"up-{unique}/"]["accessor"]
    alias = identity.create_or_update_entity_alias(name="bob", canonical_id=entity_id,
                                                   mount_accessor=accessor)
    alias_id = alias["data"]["id"]
    read = identity.read_entity_alias(alias_id=alias_id)["data"]
    assert (read["name"], read["canonical_id"], read["mount_type"]) == ("bob", entity_id, "userpass")

    group = identity.create_or_update_group(name=f"g-{unique}", member_entity_ids=[entity_id],
                                            policies=["gp"])
    group_id = group["data"]["id"]
    assert identity.read_group(group_id=group_id)["data"]["member_entity_ids"] == [entity_id]
    assert identity.read_entity(entity_id=entity_id)["data"]["direct_group_ids"] == [group_id]
    assert identity.lookup_entity(alias_name="bob", alias_mount_accessor=accessor)["data"]["id"] == entity_id
    assert identity.lookup_group(name=f"g-{unique}")["data"]["id"] == group_id

    other = identity.create_or_update_entity(name=f"o-{unique}")["data"]["id"]
    identity.merge_entities(from_entity_ids=[other], to_entity_id=entity_id)
    assert identity.read_entity(entity_id=entity_id)["data"]["merged_entity_ids"] == [other]

    identity.delete_group(group_id=group_id)
    identity.delete_entity_alias(alias_id=alias_id)
    identity.delete_entity(entity_id=entity_id)
    client.sys.disable_auth_method(f"up-{unique}")


def test_a_login_attaches_to_an_entity_with_its_policies(client, unique):
    path = f"up-{unique}"
    client.sys.enable_auth_method("userpass", path=path)
    client.auth.userpass.create_or_update_user("u1", "pw", policies=["tp"], mount_point=path)
    login = hvac.Client(url=client.url)
    auth = login.auth.userpass.login("u1", "pw", mount_point=path)["auth"]
    entity_id = auth["entity_id"]
    client.secrets.identity.update_entity(entity_id=entity_id, policies=["ep"])
    lookup = login.auth.token.lookup_self()["data"]
    assert lookup["entity_id"] == entity_id
    assert lookup["identity_policies"] == ["ep"]
    again = hvac.Client(url=client.url).auth.userpass.login("u1", "pw", mount_point=path)["auth"]
    assert again["entity_id"] == entity_id
    assert again["identity_policies"] == ["ep"]
    client.secrets.identity.delete_entity(entity_id=entity_id)
    client.sys.disable_auth_method(path)


def _user_client(client, unique, policy_paths):
    """A userpass user allowed `policy_paths` (read); its logged-in client."""
    path = f"up-{unique}"
    client.sys.enable_auth_method("userpass", path=path)
    rules = "".join(f'path "{p}" {{ capabilities = ["read"] }}\n' for p in policy_paths)
    client.sys.create_or_update_policy(name=f"oidc-{unique}", policy=rules)
    client.auth.userpass.create_or_update_user("u1", "pw", policies=[f"oidc-{unique}"],
                                               mount_point=path)
    user = hvac.Client(url=client.url)
    user.auth.userpass.login("u1", "pw", mount_point=path)
    return path, user


def test_identity_tokens_verify_with_pyjwt_and_introspect(client, unique):
    identity = client.secrets.identity
    key, role = f"k-{unique}", f"r-{unique}"
    identity.create_named_key(name=key, algorithm="RS256", allowed_client_ids=["*"],
                              verification_ttl="2h", rotation_period="1h")
    assert identity.read_named_key(name=key)["data"] == {
        "algorithm": "RS256", "allowed_client_ids": ["*"],
        "rotation_period": 3600, "verification_ttl": 7200}
    assert key in identity.list_named_keys()["data"]["keys"]
    identity.create_or_update_role(
        name=role, key=key, ttl="30m",
        template='{"username": {{identity.entity.name}}, "md": {{identity.entity.metadata}}}')
    read = identity.read_role(name=role)["data"]
    client_id = read["client_id"]
    assert (read["key"], read["ttl"]) == (key, 1800)
    assert role in identity.list_roles()["data"]["keys"]

    path, user = _user_client(client, unique, [f"identity/oidc/token/{role}"])
    entity_id = user.auth.token.lookup_self()["data"]["entity_id"]
    token = user.secrets.identity.generate_signed_id_token(name=role)["data"]
    assert (token["client_id"], token["ttl"]) == (client_id, 1800)

    discovery = identity.read_well_known_configurations()
    issuer = discovery["issuer"]
    assert issuer == f"{client.url}/v1/identity/oidc"
    assert discovery["jwks_uri"] == f"{issuer}/.well-known/keys"
    jwks = identity.read_active_public_keys()
    signing = jwt.PyJWKSet.from_dict(jwks)
    kid = jwt.get_unverified_header(token["token"])["kid"]
    claims = jwt.decode(token["token"], signing[kid].key, algorithms=["RS256"],
                        audience=client_id, issuer=issuer)
    assert claims["sub"] == entity_id
    assert claims["namespace"] == "root"
    assert claims["username"].startswith("entity_")
    assert claims["exp"] - claims["iat"] == 1800

    assert identity.introspect_signed_id_token(token=token["token"], client_id=client_id) == \
        {"active": True}
    bad = identity.introspect_signed_id_token(token=token["token"], client_id="other")
    assert bad["active"] is False and "invalid audience claim (aud)" in bad["error"]

    identity.rotate_named_key(name=key, verification_ttl="1h")
    after = {k["kid"] for k in identity.read_active_public_keys()["keys"]}
    assert kid in after, "the retired key verifies until its verification TTL passes"
    assert identity.introspect_signed_id_token(token=token["token"])["active"] is True

    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        identity.delete_named_key(name=key)
    assert f"currently referenced by these roles: {role}" in str(refused.value)
    identity.delete_role(name=role)
    identity.delete_named_key(name=key)
    client.sys.disable_auth_method(path)


def test_a_jwt_mount_trusts_the_servers_own_identity_tokens(client, unique):
    """As hvac's own JWT integration tests set it up: the JWT mount's OIDC
    discovery URL is the server's identity token issuer."""
    identity = client.secrets.identity
    key, role, jwt_path = f"k-{unique}", f"r-{unique}", f"jwt-{unique}"
    identity.create_named_key(name=key, algorithm="ES256", allowed_client_ids=["*"])
    identity.create_or_update_role(name=role, key=key)
    client_id = identity.read_role(name=role)["data"]["client_id"]
    path, user = _user_client(client, unique, [f"identity/oidc/token/{role}"])
    id_token = user.secrets.identity.generate_signed_id_token(name=role)["data"]["token"]

    issuer = identity.read_well_known_configurations()["issuer"]
    client.sys.enable_auth_method("jwt", path=jwt_path)
    client.auth.jwt.configure(oidc_discovery_url=issuer, bound_issuer=issuer, path=jwt_path)
    client.auth.jwt.create_role(name="workload", role_type="jwt", user_claim="sub",
                                bound_audiences=[client_id], allowed_redirect_uris=[],
                                token_policies=["default"], path=jwt_path)
    login = hvac.Client(url=client.url).auth.jwt.jwt_login(role="workload", jwt=id_token,
                                                           path=jwt_path)
    assert login["auth"]["metadata"] == {"role": "workload"}
    assert login["auth"]["policies"] == ["default"]

    client.sys.disable_auth_method(jwt_path)
    identity.delete_role(name=role)
    identity.delete_named_key(name=key)
    client.sys.disable_auth_method(path)


def test_group_aliases_make_jwt_logins_members_of_external_groups(client, unique):
    identity = client.secrets.identity
    key, role, jwt_path = f"k-{unique}", f"r-{unique}", f"jwt-{unique}"
    client.sys.enable_auth_method("jwt", path=jwt_path)
    accessor = client.sys.list_auth_methods()["data"][f"{jwt_path}/"]["accessor"]
    group_id = identity.create_or_update_group(name=f"ext-{unique}", group_type="external",
                                               policies=[f"devpol-{unique}"])["data"]["id"]
    alias = identity.create_or_update_group_alias(name="devs", mount_accessor=accessor,
                                                  canonical_id=group_id)["data"]
    assert alias["canonical_id"] == group_id
    read = identity.read_group_alias(alias_id=alias["id"])["data"]
    assert (read["name"], read["mount_type"]) == ("devs", "jwt")
    assert alias["id"] in identity.list_group_aliases()["data"]["keys"]
    assert identity.read_group(group_id=group_id)["data"]["alias"]["id"] == alias["id"]

    identity.create_named_key(name=key, allowed_client_ids=["*"])
    identity.create_or_update_role(name=role, key=key, client_id="vaultlet",
                                   template='{"groups": ["devs"]}')
    path, user = _user_client(client, unique, [f"identity/oidc/token/{role}"])
    id_token = user.secrets.identity.generate_signed_id_token(name=role)["data"]["token"]
    issuer = identity.read_well_known_configurations()["issuer"]
    client.auth.jwt.configure(oidc_discovery_url=issuer, bound_issuer=issuer, path=jwt_path)
    client.auth.jwt.create_role(name="w", role_type="jwt", user_claim="sub", groups_claim="groups",
                                bound_audiences=["vaultlet"], allowed_redirect_uris=[],
                                path=jwt_path)
    login = hvac.Client(url=client.url).auth.jwt.jwt_login(role="w", jwt=id_token, path=jwt_path)
    assert login["auth"]["identity_policies"] == [f"devpol-{unique}"]
    members = identity.read_group(group_id=group_id)["data"]["member_entity_ids"]
    assert members == [login["auth"]["entity_id"]]

    identity.delete_group_alias(entity_id=alias["id"])
    assert identity.read_group(group_id=group_id)["data"]["alias"] == {}
    identity.delete_group(group_id=group_id)
    identity.delete_role(name=role)
    identity.delete_named_key(name=key)
    client.sys.disable_auth_method(jwt_path)
    client.sys.disable_auth_method(path)
