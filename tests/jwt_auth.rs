//! JWT auth against the running binary: static keys, a JWKS endpoint and an
//! OIDC discovery document served by a stub server inside the test, and
//! every kind of bad token refused with the plugin's message.

mod auth_support;
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_support::{alg_none, dead_url, now, Signer, StubServer};
use common::Server;
use serde_json::{json, Value};

fn enable(server: &Server, path: &str, kind: &str) {
    let r = server.write(&format!("sys/auth/{path}"), json!({"type": kind}));
    assert_eq!(r.status, 204, "{:?}", r.json);
}

fn login(server: &Server, mount: &str, role: &str, jwt: &str) -> common::Reply {
    server.send(
        "PUT",
        &format!("auth/{mount}/login"),
        None,
        Some(serde_json::to_vec(&json!({"role": role, "jwt": jwt})).expect("json")),
    )
}

fn claims(sub: &str, aud: &str) -> Value {
    json!({"iss": "https://issuer.example", "sub": sub, "aud": aud,
           "iat": now(), "exp": now() + 300, "email": format!("{sub}@example.com"),
           "groups": ["dev", "ops"], "nested": {"team": "pki"}})
}

fn error(reply: &common::Reply) -> String {
    reply.errors().join("; ")
}

#[test]
fn static_keys_roles_and_login() {
    let server = Server::dev();
    enable(&server, "jwt", "jwt");
    let rsa = Signer::rsa();
    let ec = Signer::ec();
    let ed = Signer::ed();
    let other = Signer::rsa();

    // Exactly one key source.
    let r = server.write("auth/jwt/config", json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(
        error(&r),
        "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs' or 'oidc_discovery_url' must be set"
    );
    let r = server.write(
        "auth/jwt/config",
        json!({"jwt_validation_pubkeys": [rsa.public_pem()], "jwks_url": "http://x"}),
    );
    assert_eq!(r.status, 400);
    let r = server.write(
        "auth/jwt/config",
        json!({"jwt_validation_pubkeys": ["junk"]}),
    );
    assert_eq!(r.status, 400);
    assert!(
        error(&r).starts_with("error parsing public key"),
        "{}",
        error(&r)
    );
    let r = server.write(
        "auth/jwt/config",
        json!({"jwt_validation_pubkeys": [rsa.public_pem()], "jwt_supported_algs": "HS256"}),
    );
    assert_eq!(
        error(&r),
        "invalid jwt_supported_algs: unsupported signing algorithm \"HS256\""
    );

    // Not configured yet.
    let r = login(&server, "jwt", "dev", "x.y.z");
    assert_eq!(
        (r.status, error(&r)),
        (400, "could not load configuration".to_string())
    );

    let r = server.write(
        "auth/jwt/config",
        json!({"jwt_validation_pubkeys": [rsa.public_pem(), ec.public_pem(), ed.public_pem()],
               "bound_issuer": "https://issuer.example"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.read("auth/jwt/config");
    assert_eq!(r.data("bound_issuer"), "https://issuer.example");
    assert_eq!(
        r.data("jwt_validation_pubkeys").as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(r.data("jwks_url"), "");
    assert_eq!(r.data("jwt_supported_algs"), &json!([]));

    // Roles: role_type defaults to oidc, which needs redirect URIs.
    let r = server.write("auth/jwt/role/dev", json!({"user_claim": "sub"}));
    assert_eq!(
        error(&r),
        "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified."
    );
    let r = server.write("auth/jwt/role/dev", json!({"role_type": "jwt"}));
    assert_eq!(error(&r), "a user claim must be defined on the role");
    let r = server.write(
        "auth/jwt/role/dev",
        json!({"role_type": "jwt", "user_claim": "sub"}),
    );
    assert_eq!(
        error(&r),
        "must have at least one bound constraint when creating/updating a role"
    );
    let r = server.write(
        "auth/jwt/role/dev",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vaultlet,other",
               "claim_mappings": {"email": "email", "/nested/team": "team"},
               "bound_claims": {"groups": "ops"},
               "token_policies": "dev-policy", "token_ttl": "1h", "policies": "ignored"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.write(
        "auth/jwt/role/web",
        json!({"role_type": "oidc", "user_claim": "sub", "allowed_redirect_uris": "http://localhost/cb"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.write(
        "auth/jwt/role/globbed",
        json!({"role_type": "jwt", "user_claim": "email", "bound_audiences": ["vaultlet"],
               "bound_claims_type": "glob", "bound_claims": {"email": "*@example.com"},
               "bound_subject": "alice", "clock_skew_leeway": -1}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.read("auth/jwt/role/dev");
    assert_eq!(r.data("role_type"), "jwt");
    assert_eq!(r.data("bound_audiences"), &json!(["vaultlet", "other"]));
    assert_eq!(r.data("bound_claims_type"), "string");
    assert_eq!(r.data("token_policies"), &json!(["dev-policy"]));
    assert_eq!(r.data("token_ttl"), 3600);
    assert_eq!(r.data("expiration_leeway"), 0);
    assert_eq!(r.data("callback_mode"), "client");
    assert_eq!(
        server
            .read("auth/jwt/role/globbed")
            .data("clock_skew_leeway"),
        -1
    );
    // Leeways stay within a Go duration: one of 2^63 seconds would make
    // every token valid.
    for leeway in [json!(i64::MAX), json!("9223372037")] {
        let r = server.write(
            "auth/jwt/role/lax",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vaultlet"],
                   "expiration_leeway": leeway}),
        );
        assert_eq!(r.status, 400, "{leeway}: {:?}", r.json);
    }
    let r = server.list("auth/jwt/role");
    assert_eq!(r.data("keys"), &json!(["dev", "globbed", "web"]));

    // A good login with each algorithm.
    for (signer, alg) in [
        (&rsa, "RS256"),
        (&rsa, "PS256"),
        (&ec, "ES256"),
        (&ed, "EdDSA"),
    ] {
        let jwt = signer.sign_as(alg, &claims("alice", "vaultlet"), None);
        let r = login(&server, "jwt", "dev", &jwt);
        assert_eq!(r.status, 200, "{alg}: {:?}", r.json);
        let auth = &r.json["auth"];
        assert_eq!(auth["policies"], json!(["default", "dev-policy"]));
        assert_eq!(auth["lease_duration"], 3600);
        assert_eq!(
            auth["metadata"],
            json!({"role": "dev", "email": "alice@example.com", "team": "pki"})
        );
        let token = auth["client_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let me = server.call("GET", "auth/token/lookup-self", &token, None);
        assert_eq!(me.data("display_name"), "jwt-alice");
    }
    let r = login(
        &server,
        "jwt",
        "globbed",
        &rsa.sign(&claims("alice", "vaultlet"), None),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);

    // Bad input, each with the plugin's message.
    let cases: Vec<(String, &str, &str)> = vec![
        ("not-a-jwt".into(), "dev",
         "error validating token: error verifying token signature: go-jose/go-jose: compact JWS format must have three parts"),
        (other.sign(&claims("alice", "vaultlet"), None), "dev",
         "error validating token: error verifying token signature: no known key successfully validated the token signature"),
        (alg_none(&claims("alice", "vaultlet")), "dev",
         "error validating token: error verifying token signature: no known key successfully validated the token signature"),
        (rsa.sign(&json!({"iss": "https://issuer.example", "sub": "alice", "aud": "vaultlet",
                           "exp": now() - 3600, "groups": "ops"}), None), "dev",
         "error validating token: invalid expiration time (exp) claim: token is expired"),
        (rsa.sign(&json!({"iss": "https://issuer.example", "sub": "alice", "aud": "vaultlet",
                           "nbf": now() + 3600, "exp": now() + 7200, "groups": "ops"}), None), "dev",
         "error validating token: invalid not before (nbf) claim: token not yet valid"),
        (rsa.sign(&json!({"iss": "https://issuer.example", "sub": "alice", "aud": "vaultlet",
                           "groups": "ops"}), None), "dev",
         "error validating token: no issued at (iat), not before (nbf), or expiration time (exp) claims in token"),
        (rsa.sign(&claims("alice", "someone-else"), None), "dev",
         "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience"),
        (rsa.sign(&json!({"iss": "https://evil.example", "sub": "alice", "aud": "vaultlet", "exp": now() + 60}), None), "dev",
         "error validating token: invalid issuer (iss) claim"),
        (rsa.sign(&claims("bob", "vaultlet"), None), "globbed",
         "error validating token: invalid subject (sub) claim"),
        (rsa.sign(&json!({"iss": "https://issuer.example", "sub": "alice", "aud": "vaultlet",
                           "exp": now() + 60, "groups": ["dev"]}), None), "dev",
         "error validating claims: claim \"groups\" does not match any associated bound claim values"),
        (rsa.sign(&json!({"iss": "https://issuer.example", "aud": "vaultlet",
                           "exp": now() + 60, "groups": "ops"}), None), "dev",
         "claim \"sub\" not found in token"),
        (rsa.sign(&claims("alice", "vaultlet"), None), "web",
         "role with oidc role_type is not allowed"),
        (rsa.sign(&claims("alice", "vaultlet"), None), "nope",
         "role \"nope\" could not be found"),
        (rsa.sign(&claims("alice", "vaultlet"), None), "",
         "missing role"),
        (String::new(), "dev", "missing token"),
    ];
    for (jwt, role, want) in cases {
        let r = login(&server, "jwt", role, &jwt);
        assert_eq!(
            (r.status, error(&r)),
            (400, want.to_string()),
            "role {role}"
        );
    }
    // A token with an audience against a role without bound audiences.
    let r = server.write(
        "auth/jwt/role/noaud",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "alice"}),
    );
    assert_eq!(r.status, 204);
    let r = login(
        &server,
        "jwt",
        "noaud",
        &rsa.sign(&claims("alice", "vaultlet"), None),
    );
    assert_eq!(
        (r.status, error(&r)),
        (
            400,
            "audience claim found in JWT but no audiences bound to the role".to_string()
        )
    );
    // Restricting the algorithms refuses the others; default_role applies.
    let r = server.write(
        "auth/jwt/config",
        json!({"jwt_validation_pubkeys": [rsa.public_pem(), ec.public_pem()],
               "jwt_supported_algs": ["ES256"], "default_role": "DEV"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = login(
        &server,
        "jwt",
        "",
        &rsa.sign(&claims("alice", "vaultlet"), None),
    );
    assert_eq!(
        error(&r),
        "error validating token: invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
    );
    let r = login(
        &server,
        "jwt",
        "",
        &ec.sign(&claims("alice", "vaultlet"), None),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);

    // Updating without role_type turns the role back into an oidc role, as Vault does.
    let r = server.write("auth/jwt/role/dev", json!({"token_ttl": "2h"}));
    assert_eq!(r.status, 400);
    let r = server.delete("auth/jwt/role/dev");
    assert_eq!(r.status, 204);
    assert_eq!(server.read("auth/jwt/role/dev").status, 404);
}

/// A JWKS endpoint whose key set the test can rotate.
fn jwks_server(keys: Arc<Mutex<Value>>) -> StubServer {
    StubServer::start(move |req| {
        let current = keys.lock().map(|k| k.clone()).unwrap_or(Value::Null);
        match req.path.as_str() {
            "/jwks" if current.is_null() => (500, "{\"error\":\"down\"}".into()),
            "/jwks" => (200, current.to_string()),
            _ => (404, "{}".into()),
        }
    })
}

#[test]
fn jwks_keys_are_cached_and_refetched_for_unknown_kids() {
    let server = Server::dev();
    enable(&server, "jwt", "jwt");
    let first = Signer::rsa();
    let second = Signer::ec();
    let keys = Arc::new(Mutex::new(json!({"keys": [first.jwk("k1")]})));
    let jwks = jwks_server(keys.clone());

    let r = server.write("auth/jwt/config", json!({"jwks_url": jwks.url("/jwks")}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.write(
        "auth/jwt/role/ci",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vaultlet"}),
    );
    assert_eq!(r.status, 204);
    let fetches = jwks.count("/jwks");
    for _ in 0..3 {
        let r = login(
            &server,
            "jwt",
            "ci",
            &first.sign(&claims("ci", "vaultlet"), Some("k1")),
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
    }
    assert_eq!(jwks.count("/jwks"), fetches, "cached keys are reused");

    // A forged token with a known kid does not make the server refetch.
    let forged = Signer::rsa().sign(&claims("ci", "vaultlet"), Some("k1"));
    let r = login(&server, "jwt", "ci", &forged);
    assert_eq!(
        error(&r),
        "error validating token: error verifying token signature: failed to verify id token signature"
    );
    assert_eq!(jwks.count("/jwks"), fetches);

    // Rotation: a new kid makes the server fetch the set again.
    if let Ok(mut k) = keys.lock() {
        *k = json!({"keys": [first.jwk("k1"), second.jwk("k2")]});
    }
    let r = login(
        &server,
        "jwt",
        "ci",
        &second.sign(&claims("ci", "vaultlet"), Some("k2")),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(jwks.count("/jwks"), fetches + 1);

    // A token naming a kid the provider does not have.
    let r = login(
        &server,
        "jwt",
        "ci",
        &first.sign(&claims("ci", "vaultlet"), Some("k9")),
    );
    assert_eq!(r.status, 400);
    let r = login(&server, "jwt", "ci", &alg_none(&claims("ci", "vaultlet")));
    assert_eq!(r.status, 400);
}

#[test]
fn unreachable_jwks_and_discovery_fail_fast_with_a_400() {
    let server = Server::dev();
    enable(&server, "jwt", "jwt");
    let started = Instant::now();
    let dead = dead_url();
    let r = server.write(
        "auth/jwt/config",
        json!({"jwks_url": format!("{dead}/jwks")}),
    );
    assert_eq!(
        (r.status, error(&r)),
        (400, format!("error checking jwks URL {dead}/jwks"))
    );
    let r = server.write("auth/jwt/config", json!({"oidc_discovery_url": dead}));
    assert_eq!(
        (r.status, error(&r)),
        (400, "error checking oidc discovery URL".to_string())
    );
    let r = server.write(
        "auth/jwt/config",
        json!({"jwks_url": "https://127.0.0.1:1/jwks", "jwks_ca_pem": "not a pem"}),
    );
    assert_eq!(error(&r), "error checking jwks_ca_pem");
    assert!(started.elapsed() < Duration::from_secs(15));

    // Configured while up, then the provider fails: logins get a 400.
    let signer = Signer::rsa();
    let keys = Arc::new(Mutex::new(json!({"keys": [signer.jwk("a")]})));
    let jwks = jwks_server(keys.clone());
    let r = server.write("auth/jwt/config", json!({"jwks_url": jwks.url("/jwks")}));
    assert_eq!(r.status, 204);
    let r = server.write(
        "auth/jwt/role/ci",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "v"}),
    );
    assert_eq!(r.status, 204);
    if let Ok(mut k) = keys.lock() {
        *k = Value::Null;
    }
    let r = login(
        &server,
        "jwt",
        "ci",
        &signer.sign(&claims("ci", "v"), Some("b")),
    );
    assert_eq!(r.status, 400);
    assert!(
        error(&r)
            .starts_with("error validating token: error verifying token signature: fetching keys"),
        "{}",
        error(&r)
    );
}

#[test]
fn oidc_discovery_document_supplies_the_keys() {
    let server = Server::dev();
    enable(&server, "oidc", "oidc");
    let signer = Signer::ec();
    let jwk = signer.jwk("disc");
    let issuer: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let issuer_in = issuer.clone();
    let provider = StubServer::start(move |req| {
        let iss = issuer_in.lock().map(|s| s.clone()).unwrap_or_default();
        match req.path.as_str() {
            "/.well-known/openid-configuration" => (
                200,
                json!({"issuer": iss, "jwks_uri": format!("{iss}/keys")}).to_string(),
            ),
            "/keys" => (200, json!({"keys": [jwk.clone()]}).to_string()),
            _ => (404, "{}".into()),
        }
    });
    let url = format!("http://{}", provider.addr);
    if let Ok(mut i) = issuer.lock() {
        *i = format!("{url}/other");
    }
    let r = server.write("auth/oidc/config", json!({"oidc_discovery_url": url}));
    assert_eq!(
        (r.status, error(&r)),
        (400, "error checking oidc discovery URL".to_string()),
        "the document's issuer must equal the URL"
    );
    if let Ok(mut i) = issuer.lock() {
        *i = url.clone();
    }
    let r = server.write(
        "auth/oidc/config",
        json!({"oidc_discovery_url": url, "bound_issuer": url}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.write(
        "auth/oidc/role/svc",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vaultlet"],
               "groups_claim": "groups", "token_policies": ["svc"]}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let jwt = signer.sign(
        &json!({"iss": url, "sub": "svc-1", "aud": ["vaultlet"], "exp": now() + 60, "groups": ["a"]}),
        Some("disc"),
    );
    let r = login(&server, "oidc", "svc", &jwt);
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["auth"]["metadata"], json!({"role": "svc"}));
    let jwt = signer.sign(
        &json!({"iss": "https://elsewhere", "sub": "svc-1", "aud": ["vaultlet"], "exp": now() + 60, "groups": ["a"]}),
        Some("disc"),
    );
    let r = login(&server, "oidc", "svc", &jwt);
    assert_eq!(
        error(&r),
        "error validating token: invalid issuer (iss) claim"
    );
    let jwt = signer.sign(
        &json!({"iss": url, "sub": "svc-1", "aud": ["vaultlet"], "exp": now() + 60}),
        Some("disc"),
    );
    let r = login(&server, "oidc", "svc", &jwt);
    assert_eq!(
        error(&r),
        "failed to fetch groups: \"groups\" claim not found in token"
    );
}
