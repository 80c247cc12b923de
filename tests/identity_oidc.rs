//! Identity tokens through the real server: named keys and roles with
//! Vault's defaults, checks and error texts; tokens signed for the
//! caller's entity and verified here with aws-lc-rs against the published
//! JWKS; rotation with verification TTLs (by hand and by the periodic
//! tick); introspection; and a JWT auth mount of the same server that
//! logs in with the tokens, through the issuer's discovery document.

mod common;

use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{Reply, Server, ROOT};
use serde_json::{json, Value};

fn ok(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{:?}", r.json);
}

fn error(r: &Reply) -> String {
    r.errors().first().cloned().unwrap_or_default()
}

/// Enables userpass with a user whose policy may ask for identity tokens;
/// returns the user's client token (its entity is made at login).
fn user_token(s: &Server) -> String {
    ok(
        &s.write("sys/auth/userpass", json!({"type": "userpass"})),
        204,
    );
    ok(
        &s.write(
            "sys/policies/acl/oidc",
            json!({"policy": "path \"identity/oidc/token/*\" { capabilities = [\"read\"] }"}),
        ),
        204,
    );
    ok(
        &s.write(
            "auth/userpass/users/alice",
            json!({"password": "pw", "token_policies": "oidc"}),
        ),
        204,
    );
    let r = s.send(
        "PUT",
        "auth/userpass/login/alice",
        None,
        Some(br#"{"password":"pw"}"#.to_vec()),
    );
    ok(&r, 200);
    r.client_token()
}

fn b64(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(part).expect("base64url")
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&b64(part)).expect("json")
}

fn jwks(s: &Server) -> Vec<Value> {
    let r = s.send("GET", "identity/oidc/.well-known/keys", None, None);
    ok(&r, 200);
    r.json["keys"].as_array().cloned().unwrap_or_default()
}

fn kids(keys: &[Value]) -> Vec<String> {
    keys.iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_string))
        .collect()
}

/// Checks an ES256 token's signature with the JWK its `kid` names.
fn verify_es256(token: &str, keys: &[Value]) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    let header = decode(parts[0]);
    assert_eq!(header["alg"], "ES256");
    let Some(jwk) = keys.iter().find(|k| k["kid"] == header["kid"]) else {
        return false;
    };
    let point = [
        vec![4u8],
        b64(jwk["x"].as_str().expect("x")),
        b64(jwk["y"].as_str().expect("y")),
    ]
    .concat();
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &b64(parts[2]),
        )
        .is_ok()
}

fn issue(s: &Server, token: &str, role: &str) -> Reply {
    s.call("GET", &format!("identity/oidc/token/{role}"), token, None)
}

fn introspect(s: &Server, body: Value) -> Value {
    let r = s.write("identity/oidc/introspect", body);
    ok(&r, 200);
    r.json
}

#[test]
fn keys_and_roles_take_vaults_defaults_and_refuse_what_vault_refuses() {
    let s = Server::dev();
    ok(&s.list("identity/oidc/key"), 200);
    assert_eq!(
        s.list("identity/oidc/key").data("keys"),
        &json!(["default"])
    );
    let r = s.read("identity/oidc/key/default");
    assert_eq!(
        r.json["data"],
        json!({"algorithm": "RS256", "allowed_client_ids": ["*"],
               "rotation_period": 86400, "verification_ttl": 86400})
    );
    for (body, want) in [
        (
            json!({"algorithm": "HS256"}),
            "unknown signing algorithm \"HS256\"",
        ),
        (
            json!({"rotation_period": "30s"}),
            "rotation_period must be at least one minute",
        ),
        (
            json!({"rotation_period": "1h", "verification_ttl": "11h"}),
            "verification_ttl cannot be longer than 10x rotation_period",
        ),
    ] {
        let r = s.write("identity/oidc/key/k", body);
        assert_eq!((r.status, error(&r)), (400, want.to_string()));
    }
    ok(
        &s.write(
            "identity/oidc/key/k",
            json!({"algorithm": "EdDSA", "rotation_period": "2h", "verification_ttl": "2h"}),
        ),
        204,
    );
    assert_eq!(
        s.read("identity/oidc/key/k").json["data"],
        json!({"algorithm": "EdDSA", "allowed_client_ids": [],
               "rotation_period": 7200, "verification_ttl": 7200})
    );
    assert_eq!(s.read("identity/oidc/key/none").status, 404);

    for (body, want) in [
        (json!({}), "the key parameter is required"),
        (json!({"key": "none"}), "cannot find key \"none\""),
        (
            json!({"key": "k", "ttl": "3h"}),
            "a role's token ttl cannot be longer than the verification_ttl of the key it references",
        ),
        (
            json!({"key": "k", "template": "{\"sub\": \"x\"}"}),
            "top level key \"sub\" not allowed. Restricted keys: iat, aud, exp, iss, sub, \
             namespace, nonce, auth_time, at_hash, c_hash",
        ),
        (
            json!({"key": "k", "template": "{\"a\": {{identity.entity.bogus}}}"}),
            "error parsing template: no value could be found for one of the template directives",
        ),
    ] {
        let r = s.write("identity/oidc/role/r", body.clone());
        assert_eq!((r.status, error(&r)), (400, want.to_string()), "{body}");
    }
    // A template may come base64-encoded; it reads back decoded.
    ok(
        &s.write(
            "identity/oidc/role/r",
            json!({"key": "k", "ttl": "1h", "template": "eyJhIjogMX0="}),
        ),
        204,
    );
    let role = s.read("identity/oidc/role/r");
    assert_eq!(role.data("template"), "{\"a\": 1}");
    assert_eq!(role.data("ttl"), 3600);
    assert_eq!(role.data("key"), "k");
    let client_id = role.data("client_id").as_str().expect("client_id");
    assert_eq!(client_id.len(), 26);
    assert!(client_id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(s.list("identity/oidc/role").data("keys"), &json!(["r"]));

    let r = s.write("identity/oidc/key/k", json!({"verification_ttl": "30m"}));
    assert_eq!(
        error(&r),
        "unable to update key \"k\" because it is currently referenced by one or more roles \
         with a token ttl greater than 1800 seconds"
    );
    let r = s.delete("identity/oidc/key/k");
    assert_eq!(
        (r.status, error(&r)),
        (
            400,
            "unable to delete key \"k\" because it is currently referenced by these roles: r"
                .to_string()
        )
    );
    let r = s.delete("identity/oidc/key/default");
    assert_eq!(error(&r), "deletion of key \"default\" not allowed");
    let r = s.write("identity/oidc/key/none/rotate", json!({}));
    assert_eq!(error(&r), "no named key found at \"none\"");
    ok(&s.delete("identity/oidc/role/r"), 204);
    ok(&s.delete("identity/oidc/key/k"), 204);
    assert_eq!(s.read("identity/oidc/key/k").status, 404);

    let r = s.write(
        "identity/oidc/config",
        json!({"issuer": "https://example.com/path"}),
    );
    assert_eq!(r.status, 400);
    let r = s.write(
        "identity/oidc/config",
        json!({"issuer": "https://example.com:8200"}),
    );
    ok(&r, 200);
    assert!(r.warnings()[0].starts_with("If \"issuer\" is set explicitly"));
    assert_eq!(
        s.read("identity/oidc/config").data("issuer"),
        "https://example.com:8200"
    );
    let doc = s.send(
        "GET",
        "identity/oidc/.well-known/openid-configuration",
        None,
        None,
    );
    assert_eq!(
        doc.json,
        json!({"issuer": "https://example.com:8200/v1/identity/oidc",
               "jwks_uri": "https://example.com:8200/v1/identity/oidc/.well-known/keys",
               "response_types_supported": ["id_token"],
               "subject_types_supported": ["public"],
               "id_token_signing_alg_values_supported":
                   ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"]})
    );
    // Relying parties may cache the discovery document for an hour, as
    // Vault lets them; other answers are not cached.
    assert_eq!(doc.header("cache-control"), Some("max-age=3600"));
    let keys = s.send("GET", "identity/oidc/.well-known/keys", None, None);
    assert_eq!(keys.header("cache-control"), Some("no-store"));
}

#[test]
fn tokens_carry_the_entity_verify_against_the_jwks_and_introspect() {
    let s = Server::dev();
    let user = user_token(&s);
    let entity_id = s
        .call("GET", "auth/token/lookup-self", &user, None)
        .data("entity_id")
        .as_str()
        .expect("entity")
        .to_string();
    ok(
        &s.write(
            &format!("identity/entity/id/{entity_id}"),
            json!({"metadata": {"team": "blue"}}),
        ),
        204,
    );
    ok(
        &s.write(
            "identity/group",
            json!({"name": "ops", "member_entity_ids": [entity_id]}),
        ),
        200,
    );
    ok(
        &s.write("identity/oidc/key/k", json!({"algorithm": "ES256"})),
        204,
    );
    ok(
        &s.write(
            "identity/oidc/role/r",
            json!({"key": "k", "ttl": "10m", "template":
                "{\"team\": {{identity.entity.metadata.team}}, \"groups\": {{identity.entity.groups.names}}, \"name\": {{identity.entity.name}}}"}),
        ),
        204,
    );
    let client_id = s
        .read("identity/oidc/role/r")
        .data("client_id")
        .as_str()
        .expect("id")
        .to_string();

    let r = issue(&s, &user, "none");
    assert_eq!(error(&r), "role \"none\" not found");
    let r = issue(&s, &user, "r");
    assert_eq!(
        error(&r),
        format!(
            "the key \"k\" does not list the client ID of the role \"r\" as an allowed client ID"
        )
    );
    ok(
        &s.write(
            "identity/oidc/key/k",
            json!({"allowed_client_ids": client_id}),
        ),
        204,
    );
    let r = issue(&s, ROOT, "r");
    assert_eq!(
        (r.status, error(&r)),
        (
            400,
            "no entity associated with the request's token".to_string()
        )
    );
    let r = issue(&s, &user, "r");
    ok(&r, 200);
    assert_eq!(r.data("client_id"), client_id.as_str());
    assert_eq!(r.data("ttl"), 600);
    let token = r.data("token").as_str().expect("token").to_string();

    let claims = decode(token.split('.').nth(1).expect("claims"));
    let issuer = format!("http://{}/v1/identity/oidc", s.addr);
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["sub"], entity_id.as_str());
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["namespace"], "root");
    assert_eq!(claims["team"], "blue");
    assert_eq!(claims["groups"], json!(["ops"]));
    assert!(claims["name"]
        .as_str()
        .expect("name")
        .starts_with("entity_"));
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["exp"].as_i64().expect("exp") - iat, 600);

    // Only keys a role uses are published; this one's current and next.
    let published = jwks(&s);
    assert_eq!(published.len(), 2, "{published:?}");
    assert!(verify_es256(&token, &published));
    let parts: Vec<&str> = token.split('.').collect();
    let mut sig = b64(parts[2]);
    sig[5] ^= 1;
    let tampered = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(!verify_es256(&tampered, &published));

    assert_eq!(
        introspect(&s, json!({"token": token})),
        json!({"active": true})
    );
    assert_eq!(
        introspect(&s, json!({"token": token, "client_id": client_id})),
        json!({"active": true})
    );
    assert_eq!(
        introspect(&s, json!({"token": token, "client_id": "other"})),
        json!({"active": false, "error":
            "error validating claims: go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)"})
    );
    assert_eq!(
        introspect(&s, json!({"token": "abc"})),
        json!({"active": false, "error":
            "error parsing token: go-jose/go-jose: compact JWS format must have three parts"})
    );
    assert_eq!(
        introspect(&s, json!({"token": tampered})),
        json!({"active": false, "error": "unable to validate the token signature"})
    );
    let r = s.send(
        "POST",
        "identity/oidc/introspect",
        None,
        Some(json!({"token": token}).to_string().into_bytes()),
    );
    assert_eq!(r.status, 403, "introspection needs a token");

    ok(
        &s.write(
            &format!("identity/entity/id/{entity_id}"),
            json!({"disabled": true}),
        ),
        204,
    );
    assert_eq!(
        introspect(&s, json!({"token": token})),
        json!({"active": false, "error": "entity is disabled"})
    );
    ok(
        &s.write(
            &format!("identity/entity/id/{entity_id}"),
            json!({"disabled": false}),
        ),
        204,
    );

    // Rotation: the old key verifies until its verification TTL passes.
    let before = kids(&jwks(&s));
    ok(
        &s.write(
            "identity/oidc/key/k/rotate",
            json!({"verification_ttl": "2s"}),
        ),
        204,
    );
    let after = kids(&jwks(&s));
    assert_eq!(after.len(), 3);
    assert!(before.iter().all(|k| after.contains(k)));
    let rotated = issue(&s, &user, "r")
        .data("token")
        .as_str()
        .expect("token")
        .to_string();
    let rotated_kid = decode(rotated.split('.').next().expect("header"))["kid"].clone();
    assert_eq!(
        rotated_kid,
        json!(before[1]),
        "the next key signs after a rotation"
    );
    assert_eq!(
        introspect(&s, json!({"token": token})),
        json!({"active": true})
    );
    std::thread::sleep(Duration::from_secs(3));
    let expired = kids(&jwks(&s));
    assert_eq!(expired.len(), 2);
    assert!(!expired.contains(&before[0]));
    assert_eq!(
        introspect(&s, json!({"token": token})),
        json!({"active": false, "error": "unable to validate the token signature"})
    );
    assert!(verify_es256(&rotated, &jwks(&s)));

    ok(&s.delete(&format!("identity/entity/id/{entity_id}")), 204);
    assert_eq!(
        introspect(&s, json!({"token": rotated})),
        json!({"active": false, "error": "entity was not found"})
    );
}

#[test]
fn a_jwt_mount_of_the_same_server_logs_in_with_identity_tokens() {
    let s = Server::dev();
    let user = user_token(&s);
    ok(
        &s.write(
            "identity/oidc/key/k",
            json!({"algorithm": "ES256", "allowed_client_ids": "*"}),
        ),
        204,
    );
    ok(&s.write("identity/oidc/role/r", json!({"key": "k"})), 204);
    let client_id = s
        .read("identity/oidc/role/r")
        .data("client_id")
        .as_str()
        .expect("id")
        .to_string();
    let token = issue(&s, &user, "r")
        .data("token")
        .as_str()
        .expect("token")
        .to_string();
    let entity_id = decode(token.split('.').nth(1).expect("claims"))["sub"].clone();

    let issuer = format!("http://{}/v1/identity/oidc", s.addr);
    for (mount, config) in [
        (
            "jwt",
            json!({"oidc_discovery_url": issuer, "bound_issuer": issuer}),
        ),
        (
            "jwks",
            json!({"jwks_url": format!("{issuer}/.well-known/keys"), "bound_issuer": issuer}),
        ),
    ] {
        ok(
            &s.write(&format!("sys/auth/{mount}"), json!({"type": "jwt"})),
            204,
        );
        ok(&s.write(&format!("auth/{mount}/config"), config), 204);
        ok(
            &s.write(
                &format!("auth/{mount}/role/workload"),
                json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": client_id,
                       "token_policies": "default"}),
            ),
            204,
        );
        let r = s.send(
            "PUT",
            &format!("auth/{mount}/login"),
            None,
            Some(
                json!({"role": "workload", "jwt": token})
                    .to_string()
                    .into_bytes(),
            ),
        );
        ok(&r, 200);
        assert_eq!(r.json["auth"]["metadata"], json!({"role": "workload"}));
        assert_ne!(
            r.json["auth"]["entity_id"], entity_id,
            "a new alias on a new mount"
        );
        let mut bad = token.clone();
        bad.truncate(bad.len() - 4);
        let r = s.send(
            "PUT",
            &format!("auth/{mount}/login"),
            None,
            Some(
                json!({"role": "workload", "jwt": format!("{bad}AAAA")})
                    .to_string()
                    .into_bytes(),
            ),
        );
        assert_eq!(r.status, 400, "{:?}", r.json);
    }
}

#[test]
fn the_periodic_tick_rotates_keys_when_their_period_ends() {
    let s = Server::dev_with_env(&[("VAULTLET_PERIODIC_INTERVAL", "1s")]);
    ok(
        &s.write(
            "identity/oidc/key/k",
            json!({"algorithm": "ES256", "rotation_period": "1m", "verification_ttl": "5m"}),
        ),
        204,
    );
    ok(
        &s.write("identity/oidc/role/r", json!({"key": "k", "ttl": "5m"})),
        204,
    );
    let first = kids(&jwks(&s));
    assert_eq!(first.len(), 2);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let now = kids(&jwks(&s));
        if now.len() == 3 {
            assert!(first.iter().all(|k| now.contains(k)), "{first:?} {now:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no rotation within 90s: {now:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn concurrent_first_uses_and_rotations_lose_nothing() {
    let s = Server::dev();
    // Many first reads of the lazily made `default` key make one key.
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| ok(&s.read("identity/oidc/key/default"), 200));
        }
    });
    ok(
        &s.write("identity/oidc/role/d", json!({"key": "default"})),
        204,
    );
    assert_eq!(jwks(&s).len(), 2, "one default key: current and next");
    // Concurrent rotations each retire one key; none is lost.
    ok(
        &s.write("identity/oidc/key/k", json!({"algorithm": "EdDSA"})),
        204,
    );
    ok(&s.write("identity/oidc/role/r", json!({"key": "k"})), 204);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| ok(&s.write("identity/oidc/key/k/rotate", json!({})), 204));
        }
    });
    let published = kids(&jwks(&s));
    let unique: std::collections::BTreeSet<&String> = published.iter().collect();
    assert_eq!(published.len(), 2 + 2 + 8, "{published:?}");
    assert_eq!(unique.len(), published.len());
}

#[test]
fn external_groups_follow_the_groups_claim_of_jwt_logins() {
    let s = Server::dev();
    let user = user_token(&s);
    ok(
        &s.write("identity/oidc/key/k", json!({"allowed_client_ids": "*"})),
        204,
    );
    for (role, groups) in [("devs", r#"["devs", "x"]"#), ("none", "[]")] {
        let template = format!(r#"{{"groups": {groups}}}"#);
        ok(
            &s.write(
                &format!("identity/oidc/role/{role}"),
                json!({"key": "k", "client_id": "vaultlet", "template": template}),
            ),
            204,
        );
    }
    ok(
        &s.write(
            "sys/policies/acl/oidc",
            json!({"policy": "path \"identity/oidc/token/*\" { capabilities = [\"read\"] }"}),
        ),
        204,
    );
    let issuer = format!("http://{}/v1/identity/oidc", s.addr);
    ok(&s.write("sys/auth/jwt", json!({"type": "jwt"})), 204);
    ok(
        &s.write(
            "auth/jwt/config",
            json!({"oidc_discovery_url": issuer, "bound_issuer": issuer}),
        ),
        204,
    );
    ok(
        &s.write(
            "auth/jwt/role/w",
            json!({"role_type": "jwt", "user_claim": "sub", "groups_claim": "groups",
                   "bound_audiences": "vaultlet"}),
        ),
        204,
    );
    let accessor = s.read("sys/auth").json["jwt/"]["accessor"]
        .as_str()
        .expect("acc")
        .to_string();
    let internal = s.write("identity/group", json!({"name": "internal"}));
    let internal = internal.data("id").as_str().expect("id").to_string();
    let external = s.write(
        "identity/group",
        json!({"name": "ext", "type": "external", "policies": "devpol"}),
    );
    let external = external.data("id").as_str().expect("id").to_string();

    for (body, want) in [
        (json!({}), "missing alias name"),
        (json!({"name": "devs"}), "missing mount_accessor"),
        (
            json!({"name": "devs", "mount_accessor": "nope"}),
            "invalid mount accessor \"nope\"",
        ),
        (
            json!({"name": "devs", "mount_accessor": accessor, "canonical_id": internal}),
            "alias can't be set on an internal group",
        ),
        (
            json!({"name": "devs", "mount_accessor": accessor, "canonical_id": "nope"}),
            "invalid group ID given in 'canonical_id'",
        ),
        (
            json!({"name": "devs", "mount_accessor": accessor, "id": "nope"}),
            "invalid group alias ID",
        ),
    ] {
        let r = s.write("identity/group-alias", body.clone());
        assert_eq!((r.status, error(&r)), (400, want.to_string()), "{body}");
    }
    let r = s.write(
        "identity/group-alias",
        json!({"name": "devs", "mount_accessor": accessor, "canonical_id": external}),
    );
    ok(&r, 200);
    assert_eq!(r.data("canonical_id"), external.as_str());
    let alias_id = r.data("id").as_str().expect("id").to_string();
    let r = s.write(
        "identity/group-alias",
        json!({"name": "devs", "mount_accessor": accessor}),
    );
    assert_eq!(
        error(&r),
        "combination of mount and group alias name is already in use"
    );
    let read = s.read(&format!("identity/group-alias/id/{alias_id}"));
    assert_eq!(read.data("name"), "devs");
    assert_eq!(read.data("mount_path"), "auth/jwt/");
    assert_eq!(read.data("mount_type"), "jwt");
    let group = s.read(&format!("identity/group/id/{external}"));
    assert_eq!(group.data("alias")["id"], alias_id.as_str());
    let listed = s.list("identity/group-alias/id");
    assert_eq!(listed.data("keys"), &json!([alias_id]));
    assert_eq!(
        listed.data("key_info")[&alias_id]["canonical_id"],
        external.as_str()
    );

    let login = |role: &str| {
        let token = issue(&s, &user, role);
        ok(&token, 200);
        let r = s.send(
            "PUT",
            "auth/jwt/login",
            None,
            Some(
                json!({"role": "w", "jwt": token.data("token")})
                    .to_string()
                    .into_bytes(),
            ),
        );
        ok(&r, 200);
        r
    };
    let r = login("devs");
    let entity = r.json["auth"]["entity_id"]
        .as_str()
        .expect("entity")
        .to_string();
    assert_eq!(r.json["auth"]["identity_policies"], json!(["devpol"]));
    let members = s.read(&format!("identity/group/id/{external}"));
    assert_eq!(members.data("member_entity_ids"), &json!([entity]));
    let r = login("none");
    assert_eq!(r.json["auth"]["entity_id"], entity.as_str());
    assert!(
        r.json["auth"]["identity_policies"].is_null(),
        "{:?}",
        r.json["auth"]
    );
    let members = s.read(&format!("identity/group/id/{external}"));
    assert_eq!(members.data("member_entity_ids"), &Value::Null);

    ok(
        &s.delete(&format!("identity/group-alias/id/{alias_id}")),
        204,
    );
    assert_eq!(
        s.read(&format!("identity/group-alias/id/{alias_id}"))
            .status,
        404
    );
    assert_eq!(
        s.read(&format!("identity/group/id/{external}"))
            .data("alias"),
        &json!({})
    );
    // Without a canonical ID, the alias gets a new external group.
    let r = s.write(
        "identity/group-alias",
        json!({"name": "devs", "mount_accessor": accessor}),
    );
    ok(&r, 200);
    let made = s.read(&format!(
        "identity/group/id/{}",
        r.data("canonical_id").as_str().expect("id")
    ));
    assert_eq!(made.data("type"), "external");
    assert!(made
        .data("name")
        .as_str()
        .expect("name")
        .starts_with("group_"));
}

#[test]
fn a_jwks_with_keys_may_be_cached_until_the_next_rotation() {
    let s = Server::dev();
    ok(
        &s.write(
            "identity/oidc/key/k",
            json!({"rotation_period": "1h", "verification_ttl": "2h"}),
        ),
        204,
    );
    let r = s.send("GET", "identity/oidc/.well-known/keys", None, None);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    ok(
        &s.write("identity/oidc/role/r", json!({"key": "k", "ttl": "1h"})),
        204,
    );
    let r = s.send("GET", "identity/oidc/.well-known/keys", None, None);
    ok(&r, 200);
    let age: i64 = r
        .header("cache-control")
        .and_then(|v| v.strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .expect("max-age");
    assert!((3500..=3600).contains(&age), "{age}");
}
