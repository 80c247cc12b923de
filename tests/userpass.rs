//! The userpass auth method through the real server: users as the `vault`
//! CLI and hvac write them, logins, bad input, lockout, audit and the
//! CLI's `vault login -method=userpass`.

mod common;

use std::process::{Command, Stdio};

use common::Server;
use serde_json::{json, Value};

fn enable_userpass(s: &Server) {
    let r = s.write("sys/auth/userpass", json!({"type": "userpass"}));
    assert_eq!(r.status, 204, "{:?}", r.json);
}

/// `POST auth/userpass/login/:username` without a token.
fn login(s: &Server, username: &str, body: Value) -> common::Reply {
    let body = serde_json::to_vec(&body).unwrap_or_default();
    s.send(
        "PUT",
        &format!("auth/userpass/login/{username}"),
        None,
        Some(body),
    )
}

#[test]
fn users_are_created_read_listed_and_deleted_with_vaults_fields() {
    let s = Server::dev();
    enable_userpass(&s);

    // vault write auth/userpass/users/Alice password=… token_policies=a,b ttl=1h
    let r = s.write(
        "auth/userpass/users/Alice",
        json!({"password": "s3cret", "token_policies": "a,b", "ttl": "1h"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);

    // Names are case-insensitive; the password is never shown.
    let r = s.read("auth/userpass/users/alice");
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["mount_type"], "userpass");
    let data = r.json["data"].as_object().cloned().unwrap_or_default();
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "token_bound_cidrs",
            "token_explicit_max_ttl",
            "token_max_ttl",
            "token_no_default_policy",
            "token_num_uses",
            "token_period",
            "token_policies",
            "token_ttl",
            "token_type",
            "ttl"
        ]
    );
    assert_eq!(r.data("token_policies"), &json!(["a", "b"]));
    assert_eq!(
        (r.data("token_ttl"), r.data("ttl")),
        (&json!(3600), &json!(3600))
    );

    let r = s.list("auth/userpass/users");
    assert_eq!(r.data("keys"), &json!(["alice"]));

    // An update without a password keeps it.
    let r = s.write("auth/userpass/users/alice", json!({"token_max_ttl": "2h"}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    assert_eq!(
        login(&s, "alice", json!({"password": "s3cret"})).status,
        200
    );

    assert_eq!(s.delete("auth/userpass/users/alice").status, 204);
    assert_eq!(s.read("auth/userpass/users/alice").status, 404);
    assert_eq!(s.list("auth/userpass/users").status, 404);
    // Deleting what is not there is not an error.
    assert_eq!(s.delete("auth/userpass/users/alice").status, 204);
}

#[test]
fn bad_user_writes_get_vaults_errors() {
    let s = Server::dev();
    enable_userpass(&s);
    let cases = [
        (
            "auth/userpass/users/u",
            json!({}),
            "must provide either password or password_hash",
        ),
        (
            "auth/userpass/users/u",
            json!({"password": ""}),
            "must provide either password or password_hash",
        ),
        (
            "auth/userpass/users/u",
            json!({"password": "p", "password_hash": "$2a$10$x"}),
            "only one of password or password_hash may be provided",
        ),
        (
            "auth/userpass/users/u",
            json!({"password_hash": "not-bcrypt"}),
            "password_hash is not a valid bcrypt hash",
        ),
        (
            "auth/userpass/users/u",
            json!({"password": "x".repeat(73)}),
            "bcrypt: password length exceeds 72 bytes",
        ),
        (
            "auth/userpass/users/u",
            json!({"password": "p", "token_ttl": "3h", "token_max_ttl": "2h"}),
            "'token_ttl' cannot be greater than 'token_max_ttl'",
        ),
        (
            "auth/userpass/users/u",
            json!({"password": "p", "token_type": "weird"}),
            "invalid 'token_type' value \"weird\"",
        ),
        (
            "auth/userpass/users/nobody/password",
            json!({"password": "p"}),
            "username does not exist",
        ),
        (
            "auth/userpass/users/nobody/policies",
            json!({"token_policies": "p"}),
            "username does not exist",
        ),
    ];
    for (path, body, error) in cases {
        let r = s.write(path, body.clone());
        assert_eq!(r.status, 400, "{path} {body}: {:?}", r.json);
        assert_eq!(r.errors(), [error], "{path} {body}");
    }
    // A name that is not a generic name is a path Vault does not serve.
    let r = s.write("auth/userpass/users/-bad", json!({"password": "p"}));
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), ["1 error occurred:\n\t* unsupported path\n\n"]);
    assert_eq!(s.list("auth/userpass/users").status, 404, "nothing stored");
}

#[test]
fn login_trades_the_password_for_a_token_with_the_users_fields() {
    let s = Server::dev();
    enable_userpass(&s);
    let policy = s.write(
        "sys/policies/acl/reader",
        json!({"policy": "path \"sys/mounts\" { capabilities = [\"read\"] }"}),
    );
    assert_eq!(policy.status, 204);
    let r = s.write(
        "auth/userpass/users/bob",
        json!({"password": "pw", "token_policies": ["reader"], "token_ttl": 600, "token_max_ttl": "1h"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);

    let r = login(&s, "BOB", json!({"password": "pw"}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["data"], Value::Null);
    let auth = &r.json["auth"];
    assert_eq!(auth["policies"], json!(["default", "reader"]));
    assert_eq!(auth["metadata"], json!({"username": "bob"}));
    assert_eq!(auth["lease_duration"], 600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["orphan"], true);
    assert_eq!(auth["token_type"], "service");
    let token = r.client_token();

    let me = s.call("GET", "auth/token/lookup-self", &token, None);
    assert_eq!(me.status, 200, "{:?}", me.json);
    assert_eq!(me.data("display_name"), "userpass-bob");
    assert_eq!(me.data("path"), "auth/userpass/login/BOB");
    assert_eq!(me.data("meta"), &json!({"username": "bob"}));
    assert_eq!(s.call("GET", "sys/mounts", &token, None).status, 200);
    assert_eq!(s.call("GET", "sys/auth", &token, None).status, 403);

    for (user, body, status, error) in [
        (
            "bob",
            json!({"password": "wrong"}),
            400,
            "invalid username or password",
        ),
        (
            "nobody",
            json!({"password": "pw"}),
            400,
            "invalid username or password",
        ),
        ("bob", json!({}), 400, "missing password"),
    ] {
        let r = login(&s, user, body.clone());
        assert_eq!(r.status, status, "{user} {body}: {:?}", r.json);
        assert_eq!(r.errors(), [error], "{user} {body}");
    }
}

#[test]
fn password_reset_policies_and_prehashed_passwords() {
    let s = Server::dev();
    enable_userpass(&s);
    // Go's bcrypt hash of "password" (cost 10), as a provisioning tool sends it.
    let hash = "$2a$10$KgFhp4HAaBCRAYbFp5XYUOKrbO90yrpUQte4eyafk4Tu6mnZcNWiK";
    let r = s.write("auth/userpass/users/h", json!({"password_hash": hash}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    assert_eq!(login(&s, "h", json!({"password": "password"})).status, 200);

    let r = s.write("auth/userpass/users/h/password", json!({"password": "new"}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    assert_eq!(login(&s, "h", json!({"password": "password"})).status, 400);
    assert_eq!(login(&s, "h", json!({"password": "new"})).status, 200);
    let r = s.write("auth/userpass/users/h/password", json!({}));
    assert_eq!(
        r.errors(),
        ["must provide either password or password_hash"]
    );

    // The deprecated `policies` is normalized and shown while set.
    let r = s.write(
        "auth/userpass/users/h/policies",
        json!({"policies": "Z, y"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.read("auth/userpass/users/h");
    assert_eq!(r.data("policies"), &json!(["y", "z"]));
    assert_eq!(r.data("token_policies"), &json!(["y", "z"]));
    let r = s.write(
        "auth/userpass/users/h/policies",
        json!({"token_policies": "x"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.read("auth/userpass/users/h");
    assert_eq!(r.data("policies"), &Value::Null);
    assert_eq!(r.data("token_policies"), &json!(["x"]));
    let r = login(&s, "h", json!({"password": "new"}));
    assert_eq!(r.json["auth"]["policies"], json!(["default", "x"]));
}

#[test]
fn legacy_fields_and_bound_cidrs() {
    let s = Server::dev();
    enable_userpass(&s);
    let r = s.write(
        "auth/userpass/users/c",
        json!({"password": "pw", "bound_cidrs": "127.0.0.1/32", "max_ttl": "2h"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.read("auth/userpass/users/c");
    assert_eq!(r.data("bound_cidrs"), &json!(["127.0.0.1"]));
    assert_eq!(r.data("token_bound_cidrs"), &json!(["127.0.0.1"]));
    assert_eq!(
        (r.data("max_ttl"), r.data("token_max_ttl")),
        (&json!(7200), &json!(7200))
    );
    let r = login(&s, "c", json!({"password": "pw"}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["auth"]["lease_duration"], 7200);

    // A login from outside the user's CIDRs is refused after the password check.
    let r = s.write(
        "auth/userpass/users/c",
        json!({"token_bound_cidrs": "10.0.0.0/8"}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.read("auth/userpass/users/c");
    assert_eq!(
        r.data("bound_cidrs"),
        &Value::Null,
        "the new key clears the old"
    );
    let r = login(&s, "c", json!({"password": "pw"}));
    assert_eq!(r.status, 403, "{:?}", r.json);
    assert_eq!(r.errors(), ["permission denied"]);
}

#[test]
fn failed_logins_lock_the_user_out() {
    let s = Server::dev();
    enable_userpass(&s);
    let tune = s.write(
        "sys/auth/userpass/tune",
        json!({"user_lockout_config": {"lockout_threshold": "2"}}),
    );
    assert_eq!(tune.status, 204, "{:?}", tune.json);
    s.write("auth/userpass/users/eve", json!({"password": "pw"}));
    for _ in 0..2 {
        assert_eq!(login(&s, "eve", json!({"password": "no"})).status, 400);
    }
    let r = login(&s, "Eve", json!({"password": "pw"}));
    assert_eq!(r.status, 403, "{:?}", r.json);
    let users = s.read("sys/locked-users");
    let mount = &users.data("by_namespace")[0]["mount_accessors"][0];
    assert_eq!(mount["alias_identifiers"], json!(["eve"]));
    let accessor = mount["mount_accessor"].as_str().unwrap_or_default();
    let r = s.write(
        &format!("sys/locked-users/{accessor}/unlock/eve"),
        json!({}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    assert_eq!(login(&s, "eve", json!({"password": "pw"})).status, 200);
}

#[test]
fn the_audit_log_never_holds_the_password() {
    let s = Server::dev();
    enable_userpass(&s);
    let dir = common::temp_dir("userpass-audit");
    let log = dir.join("audit.log");
    let r = s.write(
        "sys/audit/file",
        json!({"type": "file", "options": {"file_path": log.to_string_lossy()}}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let password = "correct-horse-battery";
    s.write("auth/userpass/users/ann", json!({"password": password}));
    assert_eq!(login(&s, "ann", json!({"password": password})).status, 200);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("auth/userpass/login/ann"));
    assert!(
        !text.contains(password),
        "the password is hashed in the log"
    );
    let logged: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &Value| v["request"]["path"] == "auth/userpass/login/ann")
        .collect();
    assert!(!logged.is_empty());
    for entry in logged {
        let shown = entry["request"]["data"]["password"].as_str().unwrap_or("");
        assert!(shown.starts_with("hmac-sha256:"), "{shown}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `vault login ARGS…` against `s`, with `stdin` (not a terminal).
fn vault_login(
    s: &Server,
    home: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(common::binary())
        .arg("login")
        .args(args)
        .env("HOME", home)
        .env("VAULT_ADDR", s.url("").trim_end_matches("/v1/"))
        .env_remove("VAULT_TOKEN")
        .env_remove("VAULT_FORMAT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the CLI");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn vault_login_method_userpass() {
    let s = Server::dev();
    enable_userpass(&s);
    s.write("auth/userpass/users/sally", json!({"password": "pw"}));
    let home = common::temp_dir("userpass-cli");

    let (code, out, err) = vault_login(
        &s,
        &home,
        &["-method=userpass", "username=sally", "password=pw"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Success! You are now authenticated."), "{out}");
    assert!(out.contains("token_meta_username    sally"), "{out}");
    let stored = std::fs::read_to_string(home.join(".vault-token")).unwrap_or_default();
    assert!(stored.starts_with("hvs."), "the token is stored: {stored}");

    // `-field` prints one value; other k=v pairs are not sent.
    let (code, out, err) = vault_login(
        &s,
        &home,
        &[
            "-method=userpass",
            "-field=token_policies",
            "username=sally",
            "password=pw",
            "x=y",
        ],
        "",
    );
    assert_eq!((code, out.as_str()), (0, "[default]"), "{err}");

    // No password: asked for on the terminal, which a pipe is not.
    let (code, _, err) = vault_login(&s, &home, &["-method=userpass", "username=sally"], "pw\n");
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "Password (will be hidden): \nError authenticating: file descriptor 0 is not a terminal\n"
    );
    let (code, _, err) = vault_login(
        &s,
        &home,
        &["-non-interactive", "-method=userpass", "username=sally"],
        "",
    );
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "Error authenticating: 'password' must be specified and refusing to pull from stdin\n"
    );
    let (code, _, err) = vault_login(&s, &home, &["-method=userpass", "password=pw"], "");
    assert_eq!(
        (code, err.as_str()),
        (2, "Error authenticating: 'username' must be specified\n")
    );

    // A wrong password is the server's error; `mount=` names another mount.
    let (code, _, err) = vault_login(
        &s,
        &home,
        &["-method=userpass", "username=sally", "password=no"],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("* invalid username or password"), "{err}");
    let (code, _, err) = vault_login(
        &s,
        &home,
        &[
            "-method=userpass",
            "mount=elsewhere",
            "username=sally",
            "password=pw",
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("PUT "), "{err}");
    assert!(err.contains("/v1/auth/elsewhere/login/sally"), "{err}");
    let _ = std::fs::remove_dir_all(home);
}
