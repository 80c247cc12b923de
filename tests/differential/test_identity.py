"""Identity: entities (create, read, update, name clash, list, delete,
batch-delete), aliases (one per mount, refusals, read, list, move),
groups (nesting, inherited membership, refusals, list, delete), lookups,
merge, the entity a login makes, identity policies in the token's ACL and
lookup, disabled entities."""
import uuid

from cli import api_enable_auth, policy_write, save


def test_identity_entities_aliases_groups(pair):
    a = "up" + uuid.uuid4().hex[:8]
    n = uuid.uuid4().hex[:8]
    api_enable_auth(pair, "userpass", a)
    ra, rb = pair.call("GET", "sys/auth", expect=200)
    save(pair, "acc", ra, rb, "data", f"{a}/", "accessor")

    # Entities.
    ra, rb = pair.call("POST", "identity/entity",
                       {"name": f"alice{n}", "metadata": {"team": "a"}, "policies": "p2,p1"}, expect=200)
    save(pair, "alice", ra, rb, "data", "id")
    ra, rb = pair.call("POST", "identity/entity", {"name": f"bob{n}"}, expect=200)
    save(pair, "bob", ra, rb, "data", "id")
    pair.call("GET", f"identity/entity/name/alice{n}", expect=200)
    pair.call("GET", "identity/entity/id/<<alice>>", expect=200)
    pair.call("POST", "identity/entity", {"name": f"alice{n}", "policies": ["only"]}, expect=204)
    pair.call("POST", f"identity/entity/name/alice{n}", {"metadata": {"n": "1"}}, expect=204)
    pair.call("GET", "identity/entity/id/<<alice>>", expect=200)
    pair.call("POST", "identity/entity/id/<<bob>>", {"name": f"alice{n}"}, expect=400)
    pair.call("POST", "identity/entity/id/nonexistent", {"policies": "x"}, expect=400)
    pair.call("POST", "identity/entity", {"id": "nonexistent"}, expect=400)
    pair.call("GET", "identity/entity/id/nonexistent", expect=404)
    pair.call("GET", f"identity/entity/name/nobody{n}", expect=404)

    # Aliases.
    ra, rb = pair.call("POST", "identity/entity-alias",
                       {"name": "bob", "canonical_id": "<<alice>>", "mount_accessor": "<<acc>>",
                        "custom_metadata": {"k": "v"}}, expect=200)
    save(pair, "alias", ra, rb, "data", "id")
    pair.call("GET", "identity/entity-alias/id/<<alias>>", expect=200)
    pair.call("POST", "identity/entity-alias",
              {"name": "bob2", "canonical_id": "<<alice>>", "mount_accessor": "<<acc>>"}, expect=400)
    pair.call("POST", "identity/entity-alias", {"name": "x", "mount_accessor": "nope"}, expect=400)
    pair.call("POST", "identity/entity-alias", {"name": "x"}, expect=400)
    pair.call("POST", "identity/entity-alias", {"mount_accessor": "<<acc>>"}, expect=400)
    pair.call("POST", "identity/entity-alias",
              {"name": "x", "mount_accessor": "<<acc>>", "canonical_id": "nonexistent"}, expect=400)
    pair.call("POST", "identity/entity-alias/id/nonexistent", {"name": "x"}, expect=400)
    pair.call("GET", "identity/entity-alias/id/nonexistent", expect=404)
    pair.call("GET", "identity/entity/id/<<alice>>", expect=200)
    # Moved to bob's entity, keeping its id.
    pair.call("POST", "identity/entity-alias",
              {"name": "bob", "canonical_id": "<<bob>>", "mount_accessor": "<<acc>>"}, expect=200)
    pair.call("GET", "identity/entity/id/<<bob>>", expect=200)

    # Groups.
    ra, rb = pair.call("POST", "identity/group",
                       {"name": f"inner{n}", "policies": "gp2,gp1", "member_entity_ids": ["<<alice>>"],
                        "metadata": {"x": "y"}}, expect=200)
    save(pair, "inner", ra, rb, "data", "id")
    ra, rb = pair.call("POST", "identity/group",
                       {"name": f"outer{n}", "member_group_ids": ["<<inner>>"]}, expect=200)
    save(pair, "outer", ra, rb, "data", "id")
    pair.call("GET", f"identity/group/name/inner{n}", expect=200)
    pair.call("GET", "identity/group/id/<<outer>>", expect=200)
    pair.call("GET", "identity/entity/id/<<alice>>", expect=200)
    pair.call("POST", "identity/group", {"name": f"g{n}", "member_entity_ids": ["nonexistent"]},
              expect=(400, 500))
    pair.call("POST", "identity/group", {"name": f"g{n}", "member_group_ids": ["nonexistent"]},
              expect=(400, 500))
    pair.call("POST", "identity/group/id/<<inner>>", {"member_group_ids": ["<<outer>>"]}, expect=400)
    pair.call("POST", "identity/group", {"name": f"g{n}", "type": "bogus"}, expect=400)
    pair.call("POST", "identity/group", {"name": f"g{n}", "type": "external",
                                         "member_entity_ids": ["<<alice>>"]}, expect=400)
    pair.call("POST", f"identity/group/name/outer{n}", {"type": "external"}, expect=400)
    pair.call("POST", "identity/group/id/nonexistent", {"policies": "a"}, expect=400)
    pair.call("POST", f"identity/group/name/outer{n}", {"policies": "op"}, expect=204)
    pair.call("GET", f"identity/group/name/outer{n}", expect=200)

    # Lookups.
    pair.call("POST", "identity/lookup/entity", {"name": f"alice{n}"}, expect=200)
    pair.call("POST", "identity/lookup/entity", {"id": "<<alice>>"}, expect=200)
    pair.call("POST", "identity/lookup/entity", {"alias_id": "<<alias>>"}, expect=200)
    pair.call("POST", "identity/lookup/entity",
              {"alias_name": "bob", "alias_mount_accessor": "<<acc>>"}, expect=200)
    pair.call("POST", "identity/lookup/entity", {"name": "nobody"}, expect=204)
    pair.call("POST", "identity/lookup/entity", {}, expect=400)
    pair.call("POST", "identity/lookup/entity", {"name": "x", "id": "y"}, expect=400)
    pair.call("POST", "identity/lookup/group", {"name": f"inner{n}"}, expect=200)
    pair.call("POST", "identity/lookup/group", {"id": "nonexistent"}, expect=204)
    pair.call("POST", "identity/lookup/group", {}, expect=400)

    # Merge bob (with the alias) into alice.
    pair.call("POST", "identity/entity/merge", {"from_entity_ids": ["<<bob>>"]}, expect=400)
    pair.call("POST", "identity/entity/merge", {"to_entity_id": "<<alice>>"}, expect=400)
    pair.call("POST", "identity/entity/merge",
              {"from_entity_ids": ["nonexistent"], "to_entity_id": "<<alice>>"}, expect=400)
    pair.call("POST", "identity/entity/merge",
              {"from_entity_ids": ["<<bob>>"], "to_entity_id": "nonexistent"}, expect=400)
    pair.call("POST", "identity/entity/merge",
              {"from_entity_ids": ["<<bob>>"], "to_entity_id": "<<alice>>"}, expect=204)
    pair.call("GET", "identity/entity/id/<<bob>>", expect=404)
    pair.call("GET", "identity/entity/id/<<alice>>", expect=200)

    # A login makes an entity; its policies and its groups' join the token's.
    pair.call("POST", f"auth/{a}/users/u1", {"password": "pw", "token_policies": f"tp{n}"}, expect=204)
    policy_write(pair, f"ep{n}", f'path "cubbyhole/ep{n}" {{ capabilities = ["read"] }}')
    ra, rb = pair.call("POST", f"auth/{a}/login/u1", {"password": "pw"}, token="", expect=200)
    save(pair, "tok", ra, rb, "auth", "client_token")
    save(pair, "ent", ra, rb, "auth", "entity_id")
    pair.call("POST", "identity/lookup/entity", {"id": "<<ent>>"}, expect=200)
    pair.call("POST", "identity/entity/id/<<ent>>", {"policies": [f"ep{n}"]}, expect=204)
    pair.call("POST", "identity/group/id/<<inner>>", {"member_entity_ids": ["<<ent>>"]}, expect=204)
    pair.call("GET", "auth/token/lookup-self", token="<<tok>>", expect=200)
    pair.call("POST", f"auth/{a}/login/u1", {"password": "pw"}, token="", expect=200)
    pair.call("POST", "sys/capabilities-self", {"paths": [f"cubbyhole/ep{n}"]}, token="<<tok>>",
              expect=200)
    # Templated policy paths, filled from the entity; unresolvable ones match nothing.
    policy_write(pair, f"tp{n}", "\n".join(
        f'path "cubbyhole/{p}" {{ capabilities = ["read"] }}' for p in [
            "n/{{identity.entity.name}}", "m/{{identity.entity.metadata.team}}",
            "g/{{identity.groups.names.inner%s.id}}" % n, "x/{{identity.entity.metadata.nope}}",
            "a/{{identity.entity.aliases.<<acc>>.name}}"]))
    pair.call("POST", "identity/entity/id/<<ent>>", {"name": f"tmpl{n}", "metadata": {"team": "blue"}},
              expect=204)
    pair.call("POST", "sys/capabilities-self",
              {"paths": [f"cubbyhole/n/tmpl{n}", "cubbyhole/n/other", "cubbyhole/m/blue",
                         "cubbyhole/x/", "cubbyhole/a/u1", "cubbyhole/a/u2",
                         f"identity/entity/name/tmpl{n}"]},
              token="<<tok>>", expect=200)
    pair.call("GET", "cubbyhole/g/<<inner>>", token="<<tok>>", expect=404)
    pair.call("GET", "cubbyhole/g/other", token="<<tok>>", expect=403)
    pair.call("GET", "identity/entity/id/<<ent>>", token="<<tok>>", expect=200)
    pair.call("GET", f"identity/entity/name/tmpl{n}", token="<<tok>>", expect=200)
    pair.call("GET", "identity/entity/id/<<alice>>", token="<<tok>>", expect=403)
    pair.call("POST", "identity/entity/id/<<ent>>", {"disabled": True}, expect=204)
    pair.call("GET", "auth/token/lookup-self", token="<<tok>>", expect=403)
    pair.call("POST", f"auth/{a}/login/u1", {"password": "pw"}, token="", expect=403)

    # Deletes.
    pair.call("DELETE", f"identity/group/name/inner{n}", expect=204)
    pair.call("DELETE", f"identity/group/name/inner{n}", expect=204)
    pair.call("GET", "identity/group/id/<<outer>>", expect=200)
    pair.call("DELETE", "identity/group/id/<<outer>>", expect=204)
    pair.call("DELETE", "identity/entity-alias/id/<<alias>>", expect=204)
    pair.call("DELETE", "identity/entity-alias/id/<<alias>>", expect=204)
    pair.call("POST", "identity/entity/batch-delete", {}, expect=400)
    pair.call("POST", "identity/entity/batch-delete", {"entity_ids": ["<<ent>>", "nonexistent"]},
              expect=204)
    pair.call("DELETE", "identity/entity/id/<<alice>>", expect=204)
    pair.call("DELETE", "identity/entity/id/<<alice>>", expect=204)
    pair.call("GET", "identity/entity/id/<<alice>>", expect=404)
    pair.call("DELETE", f"sys/auth/{a}", expect=204)


def test_identity_tokens(pair):
    """Identity tokens: named keys and roles (defaults, refusals), tokens
    for an entity, introspection, rotation, the issuer's configuration,
    discovery document and JWKS."""
    a = "up" + uuid.uuid4().hex[:8]
    n = uuid.uuid4().hex[:8]
    key, role = f"k{n}", f"r{n}"
    pair.call("GET", "identity/oidc/config", expect=200)
    pair.call("LIST", "identity/oidc/key", expect=200)
    pair.call("GET", "identity/oidc/key/default", expect=200)
    pair.call("GET", f"identity/oidc/key/{key}", expect=404)
    pair.call("POST", f"identity/oidc/key/{key}", {"algorithm": "HS256"}, expect=400)
    pair.call("POST", f"identity/oidc/key/{key}", {"rotation_period": "30s"}, expect=400)
    pair.call("POST", f"identity/oidc/key/{key}", {"rotation_period": "1h"}, expect=400)
    pair.call("POST", f"identity/oidc/key/{key}", {"rotation_period": "bad"}, expect=400)
    pair.call("POST", f"identity/oidc/key/{key}", {"algorithm": "ES256"}, expect=204)
    pair.call("GET", f"identity/oidc/key/{key}", expect=200)
    pair.call("POST", f"identity/oidc/key/{key}",
              {"allowed_client_ids": "a,b", "verification_ttl": "2h"}, expect=204)
    pair.call("GET", f"identity/oidc/key/{key}", expect=200)

    pair.call("POST", f"identity/oidc/role/{role}", {}, expect=400)
    pair.call("POST", f"identity/oidc/role/{role}", {"key": "none"}, expect=400)
    pair.call("POST", f"identity/oidc/role/{role}", {"key": key, "ttl": "3h"}, expect=400)
    pair.call("POST", f"identity/oidc/role/{role}", {"key": key, "template": '{"sub": "x"}'},
              expect=400)
    pair.call("POST", f"identity/oidc/role/{role}",
              {"key": key, "template": '{"a": {{identity.entity.bogus}}}'}, expect=400)
    pair.call("POST", f"identity/oidc/role/{role}",
              {"key": key, "template": '{"a": {{identity.groups.names.x.id}}}'}, expect=400)
    pair.call("POST", f"identity/oidc/role/{role}", {"key": key, "template": "not json"},
              expect=400)
    pair.call("POST", f"identity/oidc/role/{role}",
              {"key": key, "ttl": "1h",
               "template": '{"n": {{identity.entity.name}}, "g": {{identity.entity.groups.names}}}'},
              expect=204)
    pair.call("GET", f"identity/oidc/role/{role}", expect=200)
    pair.call("GET", "identity/oidc/role/none", expect=404)
    pair.call("LIST", "identity/oidc/role", expect=200)
    pair.call("POST", f"identity/oidc/key/{key}", {"verification_ttl": "30m"}, expect=400)
    pair.call("DELETE", f"identity/oidc/key/{key}", expect=400)
    pair.call("DELETE", "identity/oidc/key/default", expect=400)
    pair.call("POST", "identity/oidc/key/none/rotate", {}, expect=400)

    # Tokens: only for a token with an entity, and a client ID the key allows.
    api_enable_auth(pair, "userpass", a)
    policy_write(pair, f"oidc{n}", f'path "identity/oidc/token/{role}" {{ capabilities = ["read"] }}')
    pair.call("POST", f"auth/{a}/users/u1", {"password": "pw", "token_policies": f"oidc{n}"},
              expect=204)
    ra, rb = pair.call("POST", f"auth/{a}/login/u1", {"password": "pw"}, token="", expect=200)
    save(pair, "tok", ra, rb, "auth", "client_token")
    pair.call("GET", f"identity/oidc/token/{role}", expect=400)
    pair.call("GET", "identity/oidc/token/none", token="<<tok>>", expect=(400, 403))
    pair.call("GET", f"identity/oidc/token/{role}", token="<<tok>>", expect=400)
    pair.call("POST", f"identity/oidc/key/{key}", {"allowed_client_ids": "*"}, expect=204)
    ra, rb = pair.call("GET", f"identity/oidc/token/{role}", token="<<tok>>", expect=200)
    save(pair, "jwt", ra, rb, "data", "token")

    pair.call("POST", "identity/oidc/introspect", {"token": "<<jwt>>"}, expect=200)
    pair.call("POST", "identity/oidc/introspect", {"token": "<<jwt>>", "client_id": "other"},
              expect=200)
    pair.call("POST", "identity/oidc/introspect", {"token": "abc"}, expect=200)
    pair.call("POST", "identity/oidc/introspect", {"token": "<<jwt>>xx"}, expect=200)
    pair.call("GET", "identity/oidc/.well-known/keys", token="", expect=200)
    pair.call("POST", f"identity/oidc/key/{key}/rotate", {"verification_ttl": "1h"}, expect=204)
    pair.call("GET", "identity/oidc/.well-known/keys", token="", expect=200)
    pair.call("POST", "identity/oidc/introspect", {"token": "<<jwt>>"}, expect=200)

    # The issuer: scheme, host and port only; the discovery document follows it.
    pair.call("POST", "identity/oidc/config", {"issuer": "https://example.com/path"}, expect=400)
    pair.call("POST", "identity/oidc/config", {"issuer": "https://example.com:8200"}, expect=200)
    pair.call("GET", "identity/oidc/config", expect=200)
    pair.call("GET", "identity/oidc/.well-known/openid-configuration", token="", expect=200)
    pair.call("POST", "identity/oidc/config", {"issuer": ""}, expect=204)

    pair.call("DELETE", f"identity/oidc/role/{role}", expect=204)
    pair.call("DELETE", f"identity/oidc/key/{key}", expect=204)
    pair.call("GET", f"identity/oidc/key/{key}", expect=404)
    pair.call("DELETE", f"sys/auth/{a}", expect=204)
    pair.check()


def test_group_aliases_and_jwt_group_membership(pair):
    """External groups and their aliases (refusals, read, list, update,
    delete, a new group for an alias without one), and a JWT login whose
    groups claim (in an identity token of the same server) makes its
    entity a member."""
    a, j = "up" + uuid.uuid4().hex[:8], "jwt" + uuid.uuid4().hex[:8]
    n = uuid.uuid4().hex[:8]
    api_enable_auth(pair, "jwt", j)
    ra, rb = pair.call("GET", "sys/auth", expect=200)
    save(pair, "jacc", ra, rb, "data", f"{j}/", "accessor")
    ra, rb = pair.call("POST", "identity/group", {"name": f"int{n}"}, expect=200)
    save(pair, "int", ra, rb, "data", "id")
    ra, rb = pair.call("POST", "identity/group",
                       {"name": f"ext{n}", "type": "external", "policies": f"devpol{n}"}, expect=200)
    save(pair, "ext", ra, rb, "data", "id")

    pair.call("POST", "identity/group-alias", {}, expect=400)
    pair.call("POST", "identity/group-alias", {"name": "devs"}, expect=400)
    pair.call("POST", "identity/group-alias", {"name": "devs", "mount_accessor": "nope"}, expect=400)
    pair.call("POST", "identity/group-alias",
              {"name": "devs", "mount_accessor": "<<jacc>>", "canonical_id": "<<int>>"}, expect=400)
    pair.call("POST", "identity/group-alias",
              {"name": "devs", "mount_accessor": "<<jacc>>", "canonical_id": "nope"}, expect=400)
    pair.call("POST", "identity/group-alias",
              {"name": "devs", "mount_accessor": "<<jacc>>", "id": "nope"}, expect=400)
    ra, rb = pair.call("POST", "identity/group-alias",
                       {"name": "devs", "mount_accessor": "<<jacc>>", "canonical_id": "<<ext>>"},
                       expect=200)
    save(pair, "alias", ra, rb, "data", "id")
    pair.call("POST", "identity/group-alias", {"name": "devs", "mount_accessor": "<<jacc>>"},
              expect=400)
    pair.call("GET", "identity/group-alias/id/<<alias>>", expect=200)
    pair.call("GET", "identity/group/id/<<ext>>", expect=200)
    pair.call("POST", "identity/group-alias/id/<<alias>>", {"name": "devs2"}, expect=400)
    pair.call("POST", "identity/group-alias/id/<<alias>>",
              {"name": "devs2", "mount_accessor": "<<jacc>>"}, expect=200)
    pair.call("GET", "identity/group-alias/id/<<alias>>", expect=200)
    pair.call("POST", "identity/group-alias/id/<<alias>>",
              {"name": "devs", "mount_accessor": "<<jacc>>"}, expect=200)
    pair.call("POST", "identity/group-alias/id/nope", {"name": "x", "mount_accessor": "<<jacc>>"},
              expect=400)
    pair.call("GET", "identity/group-alias/id/nope", expect=404)
    pair.call("GET", "identity/group/id/<<ext>>", expect=200)

    # A JWT login with the groups claim joins the external group.
    api_enable_auth(pair, "userpass", a)
    policy_write(pair, f"oidc{n}", 'path "identity/oidc/token/*" { capabilities = ["read"] }')
    pair.call("POST", f"auth/{a}/users/u1", {"password": "pw", "token_policies": f"oidc{n}"},
              expect=204)
    ra, rb = pair.call("POST", f"auth/{a}/login/u1", {"password": "pw"}, token="", expect=200)
    save(pair, "tok", ra, rb, "auth", "client_token")
    pair.call("POST", f"identity/oidc/key/k{n}", {"allowed_client_ids": "*"}, expect=204)
    pair.call("POST", f"identity/oidc/role/r{n}",
              {"key": f"k{n}", "client_id": "vaultlet",
               "template": '{"groups": ["devs", "x"], "team": "blue"}'},
              expect=204)
    # Each server's own address as its issuer (the reference's dev listener
    # advertises port 0).
    pair.setv("base", pair.a.addr, pair.b.addr)
    pair.setv("iss", f"{pair.a.addr}/v1/identity/oidc", f"{pair.b.addr}/v1/identity/oidc")
    pair.call("POST", "identity/oidc/config", {"issuer": "<<base>>"}, expect=200)
    ra, rb = pair.call("GET", f"identity/oidc/token/r{n}", token="<<tok>>", expect=200)
    save(pair, "jwt", ra, rb, "data", "token")
    pair.call("POST", f"auth/{j}/config", {"oidc_discovery_url": "<<iss>>", "bound_issuer": "<<iss>>"},
              expect=204)
    pair.call("POST", f"auth/{j}/role/w",
              {"role_type": "jwt", "user_claim": "sub", "groups_claim": "groups",
               "bound_audiences": "vaultlet", "claim_mappings": {"team": "squad"},
               "token_policies": f"meta{n}"}, expect=204)
    # The claim mappings are the alias's metadata, which policy templates read.
    policy_write(pair, f"meta{n}",
                 'path "cubbyhole/m/{{identity.entity.aliases.<<jacc>>.metadata.squad}}" '
                 '{ capabilities = ["read"] }')
    ra, rb = pair.call("POST", f"auth/{j}/login", {"role": "w", "jwt": "<<jwt>>"}, token="",
                       expect=200)
    save(pair, "jtok", ra, rb, "auth", "client_token")
    save(pair, "jent", ra, rb, "auth", "entity_id")
    pair.call("POST", "sys/capabilities-self", {"paths": ["cubbyhole/m/blue", "cubbyhole/m/red"]},
              token="<<jtok>>", expect=200)
    pair.call("GET", "identity/group/id/<<ext>>", expect=200)
    # Groups are looked up by their alias's name and mount, or its id.
    pair.call("POST", "identity/lookup/group",
              {"alias_name": "devs", "alias_mount_accessor": "<<jacc>>"}, expect=200)
    pair.call("POST", "identity/lookup/group", {"alias_id": "<<alias>>"}, expect=200)
    pair.call("POST", "identity/lookup/group", {"alias_id": "nope"}, expect=204)
    pair.call("POST", "identity/lookup/group",
              {"alias_name": "nope", "alias_mount_accessor": "<<jacc>>"}, expect=204)
    pair.call("POST", "identity/lookup/group", {"alias_name": "devs"}, expect=400)
    pair.call("POST", "identity/lookup/entity", {"alias_mount_accessor": "<<jacc>>"}, expect=400)
    pair.call("POST", "identity/lookup/group",
              {"alias_id": "<<alias>>", "alias_name": "devs"}, expect=400)

    pair.call("LIST", "identity/group-alias/id", expect=200)
    pair.call("DELETE", "identity/group-alias/id/<<alias>>", expect=204)
    pair.call("DELETE", "identity/group-alias/id/<<alias>>", expect=204)
    pair.call("GET", "identity/group-alias/id/<<alias>>", expect=404)
    pair.call("GET", "identity/group/id/<<ext>>", expect=200)
    ra, rb = pair.call("POST", "identity/group-alias", {"name": "new", "mount_accessor": "<<jacc>>"},
                       expect=200)
    save(pair, "made", ra, rb, "data", "canonical_id")
    pair.call("GET", "identity/group/id/<<made>>", expect=200)

    pair.call("DELETE", "identity/group/id/<<made>>", expect=204)
    pair.call("DELETE", "identity/group/id/<<ext>>", expect=204)
    pair.call("DELETE", "identity/group/id/<<int>>", expect=204)
    pair.call("DELETE", f"identity/oidc/role/r{n}", expect=204)
    pair.call("DELETE", f"identity/oidc/key/k{n}", expect=204)
    pair.call("DELETE", f"sys/policies/acl/meta{n}", expect=204)
    pair.call("POST", "identity/oidc/config", {"issuer": ""}, expect=204)
    pair.call("DELETE", f"sys/auth/{j}", expect=204)
    pair.call("DELETE", f"sys/auth/{a}", expect=204)
    pair.check()


def test_aliases_outlive_their_auth_mount(pair):
    """Disabling an auth method revokes its tokens but keeps its entities'
    aliases (OpenBao, like Vault, does not delete them)."""
    a = "up" + uuid.uuid4().hex[:8]
    api_enable_auth(pair, "userpass", a)
    ra, rb = pair.call("GET", "sys/auth", expect=200)
    save(pair, "acc", ra, rb, "data", f"{a}/", "accessor")
    pair.call("POST", f"auth/{a}/users/u1", {"password": "pw"}, expect=204)
    ra, rb = pair.call("POST", f"auth/{a}/login/u1", {"password": "pw"}, token="", expect=200)
    save(pair, "ent", ra, rb, "auth", "entity_id")
    pair.call("POST", "identity/entity/id/<<ent>>", {"name": f"keep{a}"}, expect=204)
    pair.call("DELETE", f"sys/auth/{a}", expect=204)
    pair.call("POST", "identity/lookup/entity",
              {"alias_name": "u1", "alias_mount_accessor": "<<acc>>"}, expect=200)
    pair.call("DELETE", "identity/entity/id/<<ent>>", expect=204)
    pair.check()
