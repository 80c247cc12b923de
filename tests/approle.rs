//! The AppRole auth method through the real server, as the `vault` CLI,
//! cert-manager and hvac use it.

mod common;

use common::{Server, ROOT};
use serde_json::{json, Value};

/// `vault auth enable approle`, exactly as the CLI sends it.
fn enable_approle(s: &Server) {
    let body = json!({"type":"approle","description":"",
        "config":{"options":null,"default_lease_ttl":"0s","max_lease_ttl":"0s","force_no_cache":false},
        "local":false,"seal_wrap":false,"external_entropy_access":false,"options":null});
    let r = s.write("sys/auth/approle", body);
    assert_eq!(r.status, 204, "{:?}", r.json);
}

fn role_id(s: &Server, role: &str) -> String {
    let r = s.read(&format!("auth/approle/role/{role}/role-id"));
    assert_eq!(r.status, 200, "{:?}", r.json);
    r.data("role_id").as_str().unwrap_or_default().to_string()
}

fn secret_id(s: &Server, role: &str, body: Value) -> String {
    let r = s.write(&format!("auth/approle/role/{role}/secret-id"), body);
    assert_eq!(r.status, 200, "{:?}", r.json);
    r.data("secret_id").as_str().unwrap_or_default().to_string()
}

/// `POST auth/approle/login` without a token, as cert-manager does.
fn login(s: &Server, role_id: &str, secret_id: &str) -> common::Reply {
    let body = serde_json::to_vec(&json!({"role_id": role_id, "secret_id": secret_id}))
        .unwrap_or_default();
    s.send("PUT", "auth/approle/login", None, Some(body))
}

fn client_token(reply: &common::Reply) -> String {
    reply.json["auth"]["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_guides_approle_steps_work_as_the_cli_sends_them() {
    let s = Server::dev();
    enable_approle(&s);

    // vault write auth/approle/role/cert-manager token_policies=cert-manager token_ttl=1h token_max_ttl=2h
    let r = s.write(
        "auth/approle/role/cert-manager",
        json!({"token_policies":"cert-manager","token_ttl":"1h","token_max_ttl":"2h"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);

    // vault read auth/approle/role/cert-manager/role-id
    let r = s.read("auth/approle/role/cert-manager/role-id");
    assert_eq!(r.status, 200);
    assert_eq!(r.json["mount_type"], "approle");
    let role_id = r.data("role_id").as_str().unwrap_or_default().to_string();
    assert_eq!(role_id.len(), 36);

    // vault write -force auth/approle/role/cert-manager/secret-id (body: null)
    let r = s.send(
        "PUT",
        "auth/approle/role/cert-manager/secret-id",
        Some(ROOT),
        Some(b"null".to_vec()),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("secret_id_num_uses"), &json!(0));
    assert_eq!(r.data("secret_id_ttl"), &json!(0));
    assert!(r.data("secret_id_accessor").is_string());
    let secret_id = r.data("secret_id").as_str().unwrap_or_default().to_string();
    assert_eq!(secret_id.len(), 36);

    // cert-manager: POST auth/approle/login
    let r = login(&s, &role_id, &secret_id);
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["data"], Value::Null);
    let auth = &r.json["auth"];
    let token = client_token(&r);
    assert!(token.starts_with("hvs."), "{token}");
    assert_eq!(auth["policies"], json!(["cert-manager", "default"]));
    assert_eq!(auth["token_policies"], json!(["cert-manager", "default"]));
    assert_eq!(auth["metadata"], json!({"role_name": "cert-manager"}));
    assert_eq!(auth["lease_duration"], json!(3600));
    assert_eq!(auth["renewable"], json!(true));
    assert_eq!(auth["orphan"], json!(true));
    assert_eq!(auth["token_type"], json!("service"));

    // The token is what the role said it would be.
    let me = s.call("GET", "auth/token/lookup-self", &token, None);
    assert_eq!(me.status, 200, "{:?}", me.json);
    assert_eq!(me.data("policies"), &json!(["cert-manager", "default"]));
    assert_eq!(me.data("meta"), &json!({"role_name": "cert-manager"}));
    assert_eq!(me.data("display_name"), &json!("approle"));
    assert_eq!(me.data("path"), &json!("auth/approle/login"));
    let ttl = me.data("ttl").as_i64().unwrap_or_default();
    assert!((3590..=3600).contains(&ttl), "ttl {ttl}");
}

#[test]
fn a_role_reads_back_with_every_field_and_vaults_defaults() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(s.write("auth/approle/role/web", json!({})).status, 204);
    let r = s.read("auth/approle/role/web");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["data"],
        json!({
            "bind_secret_id": true, "local_secret_ids": false, "secret_id_bound_cidrs": [],
            "secret_id_num_uses": 0, "secret_id_ttl": 0, "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0, "token_max_ttl": 0, "token_no_default_policy": false,
            "token_num_uses": 0, "token_period": 0, "token_policies": [], "token_ttl": 0,
            "token_type": "default"
        })
    );
    let keys = s.list("auth/approle/role");
    assert_eq!(keys.data("keys"), &json!(["web"]));
    let missing = s.read("auth/approle/role/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json, json!({"errors": []}));
}

#[test]
fn role_writes_are_validated_with_vaults_messages() {
    let s = Server::dev();
    enable_approle(&s);
    let r = s.write(
        "auth/approle/role/x",
        json!({"token_ttl":"3h","token_max_ttl":"2h"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["'token_ttl' cannot be greater than 'token_max_ttl'"]
    );
    let r = s.write("auth/approle/role/x", json!({"bind_secret_id":"false"}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["at least one constraint should be enabled on the role"]
    );
    let r = s.write("auth/approle/role/x", json!({"token_type":"weird"}));
    assert_eq!(r.errors(), vec!["invalid 'token_type' value \"weird\""]);
}

#[test]
fn a_wrong_secret_id_is_refused_with_400() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(s.write("auth/approle/role/r", json!({})).status, 204);
    let rid = role_id(&s, "r");
    let r = login(&s, &rid, "not-the-secret");
    assert_eq!(r.status, 400);
    assert_eq!(r.errors(), vec!["invalid role or secret ID"]);
    let r = login(&s, "not-a-role-id", "x");
    assert_eq!(r.errors(), vec!["invalid role or secret ID"]);
    let r = s.send(
        "PUT",
        "auth/approle/login",
        None,
        Some(br#"{"role_id":""}"#.to_vec()),
    );
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["missing role_id".to_string()])
    );
    let body = serde_json::to_vec(&json!({"role_id": rid})).unwrap_or_default();
    let r = s.send("PUT", "auth/approle/login", None, Some(body));
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["missing secret_id".to_string()])
    );
}

#[test]
fn a_secret_id_stops_working_when_its_uses_are_spent() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(
        s.write("auth/approle/role/r", json!({"secret_id_num_uses":"2"}))
            .status,
        204
    );
    let rid = role_id(&s, "r");
    let sid = secret_id(&s, "r", Value::Null);
    assert_eq!(login(&s, &rid, &sid).status, 200);
    assert_eq!(login(&s, &rid, &sid).status, 200);
    let third = login(&s, &rid, &sid);
    assert_eq!(third.status, 400);
    assert_eq!(third.errors(), vec!["invalid role or secret ID"]);
    assert_eq!(s.list("auth/approle/role/r/secret-id").status, 404);
}

#[test]
fn an_expired_secret_id_is_refused() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(
        s.write("auth/approle/role/r", json!({"secret_id_ttl":"1s"}))
            .status,
        204
    );
    let rid = role_id(&s, "r");
    let sid = secret_id(&s, "r", json!({}));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = login(&s, &rid, &sid);
    assert_eq!(r.status, 400);
    assert_eq!(r.errors(), vec!["invalid role or secret ID"]);
}

#[test]
fn cidr_bounds_refuse_logins_from_other_addresses() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(
        s.write(
            "auth/approle/role/far",
            json!({"secret_id_bound_cidrs":"10.0.0.0/8"})
        )
        .status,
        204
    );
    let rid = role_id(&s, "far");
    let sid = secret_id(&s, "far", json!({}));
    let r = login(&s, &rid, &sid);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["source address \"127.0.0.1\" unauthorized by CIDR restrictions on the role"]
    );

    assert_eq!(
        s.write(
            "auth/approle/role/near",
            json!({"secret_id_bound_cidrs":"127.0.0.0/8"})
        )
        .status,
        204
    );
    let rid = role_id(&s, "near");
    let sid = secret_id(&s, "near", json!({"cidr_list":"127.0.0.1/32"}));
    assert_eq!(login(&s, &rid, &sid).status, 200);
    let narrow = secret_id(&s, "near", json!({"cidr_list":"127.0.0.2/32"}));
    let r = login(&s, &rid, &narrow);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec![
            "source address \"127.0.0.1\" unauthorized through CIDR restrictions on the secret ID"
        ]
    );
}

#[test]
fn secret_id_metadata_reaches_the_token() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(s.write("auth/approle/role/m", json!({})).status, 204);
    let rid = role_id(&s, "m");
    let sid = secret_id(&s, "m", json!({"metadata": "{\"tag\":\"blue\"}"}));
    let r = login(&s, &rid, &sid);
    assert_eq!(
        r.json["auth"]["metadata"],
        json!({"role_name": "m", "tag": "blue"})
    );
    let me = s.call("GET", "auth/token/lookup-self", &client_token(&r), None);
    assert_eq!(me.data("meta"), &json!({"role_name": "m", "tag": "blue"}));
}

#[test]
fn secret_ids_are_listed_looked_up_and_destroyed() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(s.write("auth/approle/role/d", json!({})).status, 204);
    let rid = role_id(&s, "d");
    let issued = s.write(
        "auth/approle/role/d/secret-id",
        json!({"num_uses": 3, "ttl": "1h"}),
    );
    let sid = issued
        .data("secret_id")
        .as_str()
        .unwrap_or_default()
        .to_string();
    let accessor = issued.data("secret_id_accessor").clone();

    let listed = s.list("auth/approle/role/d/secret-id");
    assert_eq!(listed.data("keys"), &json!([accessor]));
    let listed = s.read("auth/approle/role/d/secret-id?list=true");
    assert_eq!(listed.data("keys"), &json!([accessor]));

    let looked = s.write(
        "auth/approle/role/d/secret-id/lookup",
        json!({"secret_id": sid}),
    );
    assert_eq!(looked.status, 200);
    assert_eq!(looked.data("secret_id_accessor"), &accessor);
    assert_eq!(looked.data("secret_id_num_uses"), &json!(3));
    assert_eq!(looked.data("secret_id_ttl"), &json!(3600));
    assert_eq!(looked.data("metadata"), &json!({}));
    assert!(looked
        .data("creation_time")
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    let by_accessor = s.write(
        "auth/approle/role/d/secret-id-accessor/lookup",
        json!({"secret_id_accessor": accessor}),
    );
    assert_eq!(by_accessor.data("secret_id_num_uses"), &json!(3));
    let unknown = s.write(
        "auth/approle/role/d/secret-id-accessor/lookup",
        json!({"secret_id_accessor": "nope"}),
    );
    assert_eq!(unknown.status, 404);

    let gone = s.write(
        "auth/approle/role/d/secret-id-accessor/destroy",
        json!({"secret_id_accessor": accessor}),
    );
    assert_eq!(gone.status, 204);
    assert_eq!(login(&s, &rid, &sid).status, 400);
    assert_eq!(
        s.write(
            "auth/approle/role/d/secret-id/lookup",
            json!({"secret_id": sid})
        )
        .status,
        204
    );

    let other = secret_id(&s, "d", json!({}));
    assert_eq!(
        s.write(
            "auth/approle/role/d/secret-id/destroy",
            json!({"secret_id": other})
        )
        .status,
        204
    );
    assert_eq!(login(&s, &rid, &other).status, 400);
}

#[test]
fn a_custom_secret_id_logs_in_and_must_be_unique() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(s.write("auth/approle/role/c", json!({})).status, 204);
    let rid = role_id(&s, "c");
    let r = s.write(
        "auth/approle/role/c/custom-secret-id",
        json!({"secret_id": "my-own-secret"}),
    );
    assert_eq!(r.data("secret_id"), &json!("my-own-secret"));
    assert_eq!(login(&s, &rid, "my-own-secret").status, 200);
    let again = s.write(
        "auth/approle/role/c/custom-secret-id",
        json!({"secret_id": "my-own-secret"}),
    );
    assert_eq!(again.status, 400);
}

#[test]
fn a_custom_role_id_is_unique_across_roles() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(s.write("auth/approle/role/a", json!({})).status, 204);
    assert_eq!(s.write("auth/approle/role/b", json!({})).status, 204);
    assert_eq!(
        s.write("auth/approle/role/a/role-id", json!({"role_id": "team-a"}))
            .status,
        204
    );
    assert_eq!(role_id(&s, "a"), "team-a");
    let clash = s.write("auth/approle/role/b/role-id", json!({"role_id": "team-a"}));
    assert_eq!(
        (clash.status, clash.errors()),
        (400, vec!["role_id already in use".to_string()])
    );
    let sid = secret_id(&s, "a", json!({}));
    assert_eq!(login(&s, "team-a", &sid).status, 200);
}

#[test]
fn secret_ids_for_a_missing_role_name_it() {
    let s = Server::dev();
    enable_approle(&s);
    let r = s.send(
        "PUT",
        "auth/approle/role/cert-manager/secret-id",
        Some(ROOT),
        Some(b"null".to_vec()),
    );
    assert_eq!(r.errors(), vec!["role \"cert-manager\" does not exist"]);
    assert_eq!(s.read("auth/approle/role/cert-manager/role-id").status, 404);
}

#[test]
fn tidy_answers_202_with_a_warning() {
    let s = Server::dev();
    enable_approle(&s);
    let r = s.send(
        "PUT",
        "auth/approle/tidy/secret-id",
        Some(ROOT),
        Some(b"null".to_vec()),
    );
    assert_eq!(r.status, 202, "{:?}", r.json);
    assert_eq!(r.warnings().len(), 1);
}

#[test]
fn per_field_sub_paths_read_and_write_one_field() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(s.write("auth/approle/role/f", json!({})).status, 204);
    assert_eq!(
        s.write("auth/approle/role/f/token-ttl", json!({"token_ttl": "20m"}))
            .status,
        204
    );
    assert_eq!(
        s.read("auth/approle/role/f/token-ttl").data("token_ttl"),
        &json!(1200)
    );
    assert_eq!(
        s.write(
            "auth/approle/role/f/policies",
            json!({"token_policies": "a,b"})
        )
        .status,
        204
    );
    assert_eq!(
        s.read("auth/approle/role/f").data("token_policies"),
        &json!(["a", "b"])
    );
    assert_eq!(s.delete("auth/approle/role/f/policies").status, 204);
    assert_eq!(
        s.read("auth/approle/role/f/policies")
            .data("token_policies"),
        &json!([])
    );
    assert_eq!(
        s.read("auth/approle/role/f/local-secret-ids")
            .data("local_secret_ids"),
        &json!(false)
    );
}

#[test]
fn renewal_is_capped_at_the_roles_token_max_ttl() {
    let s = Server::dev();
    enable_approle(&s);
    let r = s.write(
        "auth/approle/role/r",
        json!({"token_ttl": "1h", "token_max_ttl": "2h"}),
    );
    assert_eq!(r.status, 204);
    let rid = role_id(&s, "r");
    let sid = secret_id(&s, "r", json!({}));
    let token = client_token(&login(&s, &rid, &sid));
    let renewed = s.call(
        "PUT",
        "auth/token/renew-self",
        &token,
        Some(json!({"increment": "5h"})),
    );
    assert_eq!(renewed.status, 200, "{:?}", renewed.json);
    let lease = renewed.json["auth"]["lease_duration"]
        .as_i64()
        .unwrap_or_default();
    assert!(lease <= 7200 && lease > 7100, "lease {lease}");
}

/// A token holding only `policy` on `auth/approle/role/*`.
fn token_with(s: &Server, name: &str, capabilities: &str) -> String {
    let policy = format!("path \"auth/approle/role/*\" {{ capabilities = [{capabilities}] }}");
    let r = s.write(&format!("sys/policy/{name}"), json!({"policy": policy}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.write("auth/token/create", json!({"policies": [name]}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    client_token(&r)
}

#[test]
fn writing_a_new_role_needs_create_and_changing_one_needs_update() {
    let s = Server::dev();
    enable_approle(&s);
    assert_eq!(s.write("auth/approle/role/existing", json!({})).status, 204);
    let body = Some(json!({"token_ttl": "1h"}));

    let creator = token_with(&s, "creator", "\"create\"");
    assert_eq!(
        s.call("PUT", "auth/approle/role/fresh", &creator, body.clone())
            .status,
        204
    );
    assert_eq!(
        s.call("PUT", "auth/approle/role/existing", &creator, body.clone())
            .status,
        403
    );

    let updater = token_with(&s, "updater", "\"update\"");
    assert_eq!(
        s.call("PUT", "auth/approle/role/other", &updater, body.clone())
            .status,
        403
    );
    assert_eq!(
        s.call("PUT", "auth/approle/role/existing", &updater, body.clone())
            .status,
        204
    );
    assert_eq!(s.read("auth/approle/role/other").status, 404);
}

/// Logs in to `role` with a freshly issued secret ID.
fn login_to(s: &Server, role: &str) -> common::Reply {
    let secret = secret_id(s, role, json!({}));
    login(s, &role_id(s, role), &secret)
}

#[test]
fn tokens_bound_to_cidrs_work_only_from_inside_them() {
    let s = Server::dev();
    enable_approle(&s);
    s.write(
        "auth/approle/role/here",
        json!({"token_bound_cidrs": "127.0.0.1/32"}),
    );
    s.write(
        "auth/approle/role/elsewhere",
        json!({"token_bound_cidrs": "10.1.2.0/24"}),
    );
    let here = login_to(&s, "here");
    assert_eq!(here.status, 200, "{:?}", here.json);
    let lookup = s.call("GET", "auth/token/lookup-self", &client_token(&here), None);
    assert_eq!(lookup.data("bound_cidrs"), &json!(["127.0.0.1"]));
    let elsewhere = login_to(&s, "elsewhere");
    assert_eq!(elsewhere.status, 403, "{:?}", elsewhere.json);
}

#[test]
fn disabling_the_auth_method_revokes_the_tokens_it_issued() {
    let s = Server::dev();
    enable_approle(&s);
    s.write(
        "auth/approle/role/app",
        json!({"token_policies": "default"}),
    );
    let token = client_token(&login_to(&s, "app"));
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &token, None).status,
        200
    );
    assert_eq!(s.delete("sys/auth/approle").status, 204);
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &token, None).status,
        403
    );
    assert_eq!(
        s.read("auth/token/lookup-self").status,
        200,
        "other tokens stay"
    );
}

#[test]
fn auth_mounts_tune_through_sys_mounts_auth_as_the_cli_sends_it() {
    let s = Server::dev();
    enable_approle(&s);
    let tune = s.write(
        "sys/mounts/auth/approle/tune",
        json!({"default_lease_ttl": "1h", "max_lease_ttl": ""}),
    );
    assert_eq!(tune.status, 204, "{:?}", tune.json);
    assert_eq!(
        s.read("sys/auth/approle/tune").data("default_lease_ttl"),
        3600
    );
    assert_eq!(
        s.read("sys/mounts/auth/approle/tune")
            .data("default_lease_ttl"),
        3600
    );
}

#[test]
fn logins_of_one_role_share_an_identity_entity() {
    let s = Server::dev();
    enable_approle(&s);
    s.write(
        "auth/approle/role/app",
        json!({"token_policies": "default"}),
    );
    let entity = |reply: common::Reply| {
        reply.json["auth"]["entity_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let first = entity(login_to(&s, "app"));
    let second = entity(login_to(&s, "app"));
    assert_eq!(first.len(), 36, "a UUID: {first}");
    assert_eq!(first, second);
    let created = s.write("auth/token/create", json!({}));
    assert_eq!(
        created.json["auth"]["entity_id"], "",
        "plain tokens have no entity"
    );
}
