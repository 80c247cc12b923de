//! Kubernetes auth against the running binary, with a stub API server in the
//! test answering TokenReview, service-account JWTs signed with keys made in
//! the test, and the vaultlet extension (pem_keys without an API server).

mod auth_support;
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_support::{alg_none, dead_url, now, Signer, StubServer};
use common::Server;
use serde_json::{json, Value};

const REVIEWER: &str = "reviewer-jwt";

fn enable(server: &Server) {
    let r = server.write("sys/auth/kubernetes", json!({"type": "kubernetes"}));
    assert_eq!(r.status, 204, "{:?}", r.json);
}

fn login(server: &Server, role: &str, jwt: &str) -> common::Reply {
    server.send(
        "PUT",
        "auth/kubernetes/login",
        None,
        Some(serde_json::to_vec(&json!({"role": role, "jwt": jwt})).expect("json")),
    )
}

fn error(reply: &common::Reply) -> String {
    reply.errors().join("; ")
}

/// A projected token as cert-manager's `serviceAccountRef` gets it.
fn projected(ns: &str, name: &str, uid: &str, aud: &[&str], exp: i64) -> Value {
    json!({
        "aud": aud,
        "exp": exp,
        "iat": now(),
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": format!("system:serviceaccount:{ns}:{name}"),
        "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": name, "uid": uid}},
    })
}

/// A legacy secret token (no exp, no aud).
fn legacy(ns: &str, name: &str, uid: &str) -> Value {
    json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": ns,
        "kubernetes.io/serviceaccount/secret.name": format!("{name}-token-abcde"),
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": uid,
        "sub": format!("system:serviceaccount:{ns}:{name}"),
    })
}

/// What the stub API server says about tokens: token → (ns, name, uid, audiences).
type Known = Arc<Mutex<Vec<(String, String, String, String, Vec<String>)>>>;

fn api_server(known: Known) -> StubServer {
    StubServer::start(move |req| {
        if req.path != "/apis/authentication.k8s.io/v1/tokenreviews" || req.method != "POST" {
            return (404, "{}".into());
        }
        if req.header("Authorization") != Some(&format!("Bearer {REVIEWER}")) {
            return (
                401,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
                .to_string(),
            );
        }
        let body = req.json();
        let token = body["spec"]["token"].as_str().unwrap_or_default();
        let wanted: Vec<String> = body["spec"]["audiences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let found = known
            .lock()
            .ok()
            .and_then(|k| k.iter().find(|t| t.0 == token).cloned());
        let status = match found {
            Some((_, ns, name, uid, auds)) => {
                let auds: Vec<String> = if wanted.is_empty() {
                    auds
                } else {
                    auds.into_iter().filter(|a| wanted.contains(a)).collect()
                };
                if !wanted.is_empty() && auds.is_empty() {
                    json!({"authenticated": false, "error": "token audiences not valid"})
                } else {
                    json!({"authenticated": true, "audiences": auds,
                           "user": {"username": format!("system:serviceaccount:{ns}:{name}"),
                                    "uid": uid, "groups": ["system:serviceaccounts"]}})
                }
            }
            None => json!({"user": {}, "error": "invalid bearer token"}),
        };
        (
            201,
            json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                   "metadata": {"creationTimestamp": null}, "spec": body["spec"], "status": status})
            .to_string(),
        )
    })
}

#[test]
fn config_and_roles_have_vaults_shapes_and_checks() {
    let server = Server::dev();
    enable(&server);
    assert_eq!(server.read("auth/kubernetes/config").status, 404);
    let r = server.write("auth/kubernetes/config", json!({}));
    assert_eq!((r.status, error(&r)), (400, "no host provided".to_string()));
    let r = server.write(
        "auth/kubernetes/config",
        json!({"kubernetes_host": "https://k8s", "pem_keys": "junk"}),
    );
    assert_eq!(
        (r.status, error(&r)),
        (
            400,
            "data does not contain any valid public keys".to_string()
        )
    );
    let r = server.write(
        "auth/kubernetes/config",
        json!({"kubernetes_host": "https://k8s", "disable_local_ca_jwt": true}),
    );
    assert_eq!(
        error(&r),
        "kubernetes_ca_cert must be given when disable_local_ca_jwt is true"
    );
    let r = server.write(
        "auth/kubernetes/config",
        json!({"kubernetes_host": "https://kubernetes.default.svc.cluster.local",
               "disable_iss_validation": "true", "token_reviewer_jwt": REVIEWER}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.read("auth/kubernetes/config");
    assert_eq!(
        r.json["data"],
        json!({"kubernetes_host": "https://kubernetes.default.svc.cluster.local",
               "kubernetes_ca_cert": "", "pem_keys": [], "issuer": "",
               "disable_iss_validation": true, "disable_local_ca_jwt": false,
               "token_reviewer_jwt_set": true, "use_annotations_as_alias_metadata": false})
    );
    assert!(!String::from_utf8_lossy(&r.raw).contains(REVIEWER));

    let r = server.write(
        "auth/kubernetes/role/r",
        json!({"bound_service_account_namespaces": "x"}),
    );
    assert_eq!(
        error(&r),
        "\"bound_service_account_names\" can not be empty"
    );
    let r = server.write(
        "auth/kubernetes/role/r",
        json!({"bound_service_account_names": "a"}),
    );
    assert_eq!(
        error(&r),
        "\"bound_service_account_namespaces\" can not be empty if \"bound_service_account_namespace_selector\" is not set"
    );
    let r = server.write(
        "auth/kubernetes/role/r",
        json!({"bound_service_account_names": "a,*", "bound_service_account_namespaces": "x"}),
    );
    assert_eq!(error(&r), "can not mix \"*\" with values");
    let r = server.write(
        "auth/kubernetes/role/r",
        json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "x",
               "alias_name_source": "bad"}),
    );
    assert_eq!(
        error(&r),
        "invalid alias_name_source, must be one of: serviceaccount_uid, serviceaccount_name"
    );
    // cert-manager's e2e role body.
    let r = server.write(
        "auth/kubernetes/role/cert-manager",
        json!({"bound_service_account_names": ["cert-manager"],
               "bound_service_account_namespaces": ["sandbox"],
               "token_period": "24h", "token_policies": ["cert-manager"]}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.read("auth/kubernetes/role/cert-manager");
    assert_eq!(
        r.data("bound_service_account_names"),
        &json!(["cert-manager"])
    );
    assert_eq!(r.data("alias_name_source"), "serviceaccount_uid");
    assert_eq!(r.data("token_period"), 86400);
    assert_eq!(r.data("bound_service_account_namespace_selector"), "");
    assert!(r.json["data"].get("audience").is_none());
    // Update keeps what is not sent; legacy aliases are shown while set.
    let r = server.write(
        "auth/kubernetes/role/cert-manager",
        json!({"audience": "vault://sandbox/vault-issuer", "policies": "legacy"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.read("auth/kubernetes/role/cert-manager");
    assert_eq!(r.data("audience"), "vault://sandbox/vault-issuer");
    assert_eq!(
        r.data("bound_service_account_namespaces"),
        &json!(["sandbox"])
    );
    assert_eq!(r.data("token_policies"), &json!(["legacy"]));
    assert_eq!(r.data("policies"), &json!(["legacy"]));
    assert_eq!(
        server.list("auth/kubernetes/role").data("keys"),
        &json!(["cert-manager"])
    );
    assert_eq!(
        server.delete("auth/kubernetes/role/cert-manager").status,
        204
    );
    assert_eq!(server.read("auth/kubernetes/role/cert-manager").status, 404);
}

#[test]
fn login_goes_through_token_review() {
    let server = Server::dev();
    enable(&server);
    let known: Known = Arc::new(Mutex::new(Vec::new()));
    let api = api_server(known.clone());
    let r = server.write(
        "auth/kubernetes/config",
        json!({"kubernetes_host": format!("http://{}/", api.addr), "token_reviewer_jwt": REVIEWER}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.write(
        "auth/kubernetes/role/issuer",
        json!({"bound_service_account_names": ["cert-manager", "vault-*"],
               "bound_service_account_namespaces": ["sandbox", "team-*"],
               "audience": "vault://sandbox/vault-issuer",
               "token_policies": "pki-sign", "token_ttl": "20m"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.write(
        "auth/kubernetes/role/any",
        json!({"bound_service_account_names": "*", "bound_service_account_namespaces": "*"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);

    let signer = Signer::rsa();
    let auds = ["vault://sandbox/vault-issuer", "https://vault.example:8200"];
    let good = signer.sign(
        &projected("sandbox", "cert-manager", "uid-1", &auds, now() + 600),
        Some("k"),
    );
    if let Ok(mut k) = known.lock() {
        k.push((
            good.clone(),
            "sandbox".into(),
            "cert-manager".into(),
            "uid-1".into(),
            auds.iter().map(|s| s.to_string()).collect(),
        ));
    }
    let r = login(&server, "issuer", &good);
    assert_eq!(r.status, 200, "{:?}", r.json);
    let auth = &r.json["auth"];
    assert_eq!(auth["policies"], json!(["default", "pki-sign"]));
    assert_eq!(auth["lease_duration"], 1200);
    assert_eq!(
        auth["metadata"],
        json!({"role": "issuer", "service_account_name": "cert-manager",
               "service_account_namespace": "sandbox", "service_account_secret_name": "",
               "service_account_uid": "uid-1"})
    );
    let token = auth["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let me = server.call("GET", "auth/token/lookup-self", &token, None);
    assert_eq!(me.data("display_name"), "kubernetes-sandbox-cert-manager");
    // What the API server was asked.
    let review = api
        .recorded()
        .into_iter()
        .last()
        .expect("a TokenReview was made");
    assert_eq!(review.path, "/apis/authentication.k8s.io/v1/tokenreviews");
    assert_eq!(review.header("Authorization"), Some("Bearer reviewer-jwt"));
    let body = review.json();
    assert_eq!(body["kind"], "TokenReview");
    assert_eq!(body["spec"]["token"], good.as_str());
    assert_eq!(
        body["spec"]["audiences"],
        json!(["vault://sandbox/vault-issuer"])
    );

    // Legacy secret tokens: no audience of their own; the role without audience.
    let old = signer.sign(&legacy("team-a", "vault-auth", "uid-2"), None);
    if let Ok(mut k) = known.lock() {
        k.push((
            old.clone(),
            "team-a".into(),
            "vault-auth".into(),
            "uid-2".into(),
            vec![],
        ));
    }
    let r = login(&server, "any", &old);
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(
        r.json["auth"]["metadata"]["service_account_secret_name"],
        "vault-auth-token-abcde"
    );
    // The `issuer` role wants an audience the legacy token does not carry.
    let r = login(&server, "issuer", &old);
    assert_eq!(
        (r.status, error(&r)),
        (
            403,
            "invalid audience (aud) claim: audience claim does not match any expected audience"
                .to_string()
        )
    );

    // Bindings.
    let wrong_name = signer.sign(
        &projected("sandbox", "intruder", "uid-3", &auds, now() + 600),
        None,
    );
    let r = login(&server, "issuer", &wrong_name);
    assert_eq!(
        (r.status, error(&r)),
        (403, "service account name not authorized".to_string())
    );
    let wrong_ns = signer.sign(
        &projected("kube-system", "cert-manager", "uid-4", &auds, now() + 600),
        None,
    );
    let r = login(&server, "issuer", &wrong_ns);
    assert_eq!(
        (r.status, error(&r)),
        (403, "namespace not authorized".to_string())
    );
    let expired = signer.sign(
        &projected("sandbox", "cert-manager", "uid-1", &auds, now() - 3600),
        None,
    );
    let r = login(&server, "issuer", &expired);
    assert_eq!(
        (r.status, error(&r)),
        (
            403,
            "invalid expiration time (exp) claim: token is expired".to_string()
        )
    );
    // Claims fine, but the API server does not know the token.
    let unknown = signer.sign(
        &projected("sandbox", "cert-manager", "uid-1", &auds, now() + 500),
        None,
    );
    let r = login(&server, "issuer", &unknown);
    assert_eq!(
        (r.status, error(&r)),
        (403, "permission denied".to_string())
    );
    // The API server names another UID than the token's claims.
    let mismatched = signer.sign(
        &projected("team-b", "vault-x", "uid-claims", &auds, now() + 600),
        None,
    );
    if let Ok(mut k) = known.lock() {
        k.push((
            mismatched.clone(),
            "team-b".into(),
            "vault-x".into(),
            "uid-api".into(),
            auds.iter().map(|s| s.to_string()).collect(),
        ));
    }
    let r = login(&server, "issuer", &mismatched);
    assert_eq!(
        (r.status, error(&r)),
        (403, "permission denied".to_string())
    );
    // Unsigned and malformed tokens.
    let r = login(&server, "any", &alg_none(&legacy("a", "b", "c")));
    assert_eq!(
        (r.status, error(&r)),
        (403, "permission denied".to_string())
    );
    let r = login(&server, "any", "garbage");
    assert_eq!(
        (r.status, error(&r)),
        (403, "permission denied".to_string())
    );
    // Role and parameters.
    let r = login(&server, "nope", &good);
    assert_eq!(
        (r.status, error(&r)),
        (400, "invalid role name \"nope\"".to_string())
    );
    let r = login(&server, "", &good);
    assert_eq!((r.status, error(&r)), (400, "missing role".to_string()));
    let r = login(&server, "issuer", "");
    assert_eq!((r.status, error(&r)), (400, "missing jwt".to_string()));

    // Without a reviewer JWT the login JWT is the bearer: the stub refuses it (401).
    let r = server.write(
        "auth/kubernetes/config",
        json!({"kubernetes_host": format!("http://{}", api.addr)}),
    );
    assert_eq!(r.status, 204);
    let r = login(&server, "issuer", &good);
    assert_eq!(
        (r.status, error(&r)),
        (403, "permission denied".to_string())
    );
    let last = api.recorded().into_iter().last().expect("review");
    assert_eq!(
        last.header("Authorization"),
        Some(format!("Bearer {good}").as_str())
    );
}

#[test]
fn unreachable_api_server_is_a_prompt_403() {
    let server = Server::dev();
    enable(&server);
    let r = server.write(
        "auth/kubernetes/config",
        json!({"kubernetes_host": dead_url(), "token_reviewer_jwt": REVIEWER}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.write(
        "auth/kubernetes/role/any",
        json!({"bound_service_account_names": "*", "bound_service_account_namespaces": "*"}),
    );
    assert_eq!(r.status, 204);
    let jwt = Signer::ec().sign(&legacy("ns", "sa", "uid"), None);
    let started = Instant::now();
    let r = login(&server, "any", &jwt);
    assert_eq!(
        (r.status, error(&r)),
        (403, "permission denied".to_string())
    );
    assert!(started.elapsed() < Duration::from_secs(12));

    // An HTTPS API server whose CA we do not trust: refused the same way.
    let api = StubServer::start(|_| (200, "{}".into()));
    let r = server.write(
        "auth/kubernetes/config",
        json!({"kubernetes_host": format!("https://{}", api.addr), "token_reviewer_jwt": REVIEWER}),
    );
    assert_eq!(r.status, 204);
    let r = login(&server, "any", &jwt);
    assert_eq!(
        (r.status, error(&r)),
        (403, "permission denied".to_string())
    );
}

#[test]
fn pem_keys_without_a_host_verify_locally() {
    let server = Server::dev();
    enable(&server);
    let signer = Signer::rsa();
    let other = Signer::rsa();
    let r = server.write(
        "auth/kubernetes/config",
        json!({"pem_keys": [signer.public_pem()], "disable_iss_validation": false,
               "issuer": "https://kubernetes.default.svc.cluster.local"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.write(
        "auth/kubernetes/role/cm",
        json!({"bound_service_account_names": "cert-manager",
               "bound_service_account_namespaces": "cert-manager",
               "audience": "vault://vault-issuer", "alias_name_source": "serviceaccount_name"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let claims = projected(
        "cert-manager",
        "cert-manager",
        "u",
        &["vault://vault-issuer"],
        now() + 600,
    );
    let r = login(&server, "cm", &signer.sign(&claims, None));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["auth"]["metadata"]["service_account_uid"], "u");
    // The entity's alias has the service account's metadata (not the role).
    let entity = r.json["auth"]["entity_id"].as_str().unwrap_or_default();
    let r = server.read(&format!("identity/entity/id/{entity}"));
    let alias = &r.json["data"]["aliases"][0];
    assert_eq!(alias["name"], "cert-manager/cert-manager");
    assert_eq!(
        alias["metadata"],
        json!({"service_account_name": "cert-manager",
               "service_account_namespace": "cert-manager",
               "service_account_secret_name": "", "service_account_uid": "u"})
    );
    // PS256 from the same key.
    let r = login(&server, "cm", &signer.sign_as("PS256", &claims, None));
    assert_eq!(r.status, 200, "{:?}", r.json);
    // Another key's signature, alg none, a wrong issuer.
    let r = login(&server, "cm", &other.sign(&claims, None));
    assert_eq!(
        (r.status, error(&r)),
        (403, "permission denied".to_string())
    );
    let r = login(&server, "cm", &alg_none(&claims));
    assert_eq!(
        (r.status, error(&r)),
        (403, "permission denied".to_string())
    );
    let mut bad_iss = claims.clone();
    bad_iss["iss"] = json!("https://elsewhere");
    let r = login(&server, "cm", &signer.sign(&bad_iss, None));
    assert_eq!(
        (r.status, error(&r)),
        (403, "invalid issuer (iss) claim".to_string())
    );
    let wrong_aud = projected(
        "cert-manager",
        "cert-manager",
        "u",
        &["vault://other"],
        now() + 600,
    );
    let r = login(&server, "cm", &signer.sign(&wrong_aud, None));
    assert_eq!(r.status, 403);
}
