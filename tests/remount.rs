//! `sys/remount`: a secrets engine or auth method moves to another path
//! with its configuration and data, under a migration ID whose status
//! `sys/remount/status/:id` reports; tokens of a moved auth method are
//! revoked, as Vault revokes the old mount's leases.

mod common;

use common::{Server, LISTEN};
use serde_json::{json, Value};

/// Starts a move and waits for it to end (a bounded number of polls);
/// returns the final status object.
fn remount(s: &Server, from: &str, to: &str) -> Value {
    let started = s.write("sys/remount", json!({"from": from, "to": to}));
    assert_eq!(started.status, 200, "{:?}", started.json);
    assert_eq!(
        started.warnings(),
        ["Mount move has been queued. Progress will be reported in Vault's server log, tagged with the returned migration_id"]
    );
    assert_eq!(
        started.json["migration_id"], started.json["data"]["migration_id"],
        "legacy top-level copy"
    );
    let id = started.data("migration_id").as_str().expect("migration id");
    for _ in 0..200 {
        let status = s.read(&format!("sys/remount/status/{id}"));
        assert_eq!(status.status, 200, "{:?}", status.json);
        assert_eq!(status.data("migration_id"), id);
        let info = status.data("migration_info").clone();
        if info["status"] != "in-progress" {
            return info;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("migration {id} never ended");
}

#[test]
fn a_secrets_engine_moves_with_its_data_and_identity() {
    let s = Server::dev();
    assert_eq!(s.write("sys/mounts/kv1", json!({"type": "kv"})).status, 204);
    assert_eq!(s.write("kv1/app", json!({"password": "p1"})).status, 204);
    let before = s.read("sys/mounts/kv1");

    let info = remount(&s, "kv1", "kv2");
    assert_eq!(
        info,
        json!({"source_mount": "kv1/", "target_mount": "kv2/", "status": "success"})
    );
    assert_eq!(s.read("kv2/app").data("password"), "p1");
    let gone = s.read("kv1/app");
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.errors(),
        ["no handler for route \"kv1/app\". route entry not found."]
    );
    let after = s.read("sys/mounts/kv2");
    for field in ["accessor", "uuid", "type"] {
        assert_eq!(after.data(field), before.data(field), "{field}");
    }
    assert_eq!(s.read("sys/mounts/kv1").status, 400);
    assert_eq!(
        s.read("sys/remount/status/no-such-migration").json,
        json!({"errors": []})
    );
}

#[test]
fn a_moved_auth_method_keeps_its_roles_and_revokes_its_tokens() {
    let s = Server::dev();
    assert_eq!(
        s.write("sys/auth/ar1", json!({"type": "approle"})).status,
        204
    );
    assert_eq!(
        s.write("auth/ar1/role/r", json!({"token_policies": "default"}))
            .status,
        204
    );
    let role_id = s.read("auth/ar1/role/r/role-id").data("role_id").clone();
    let secret_id = s
        .write("auth/ar1/role/r/secret-id", json!({}))
        .data("secret_id")
        .clone();
    let creds = json!({"role_id": role_id, "secret_id": secret_id});
    let login = s.write("auth/ar1/login", creds.clone());
    let login_token = login.client_token();
    let plain_token = s
        .write("auth/token/create", json!({"policies": ["default"]}))
        .client_token();

    let info = remount(&s, "auth/ar1", "auth/ar2");
    assert_eq!(
        info,
        json!({"source_mount": "auth/ar1/", "target_mount": "auth/ar2/", "status": "success"})
    );
    let lookup = |token: &str| s.call("GET", "auth/token/lookup-self", token, None).status;
    assert_eq!(
        lookup(&login_token),
        403,
        "the old mount's token is revoked"
    );
    assert_eq!(lookup(&plain_token), 200, "other tokens live on");
    assert_eq!(s.read("auth/ar2/role/r/role-id").data("role_id"), &role_id);
    let again = s.write("auth/ar2/login", creds);
    assert_eq!(again.status, 200, "{:?}", again.json);
    assert_eq!(
        again.json["auth"]["entity_id"], login.json["auth"]["entity_id"],
        "the same mount accessor, so the same entity"
    );
    assert_eq!(s.write("auth/ar1/login", json!({})).status, 404);
}

#[test]
fn refusals_have_vaults_texts() {
    let s = Server::dev();
    assert_eq!(s.write("sys/mounts/kv1", json!({"type": "kv"})).status, 204);
    assert_eq!(
        s.write("sys/auth/ar1", json!({"type": "approle"})).status,
        204
    );
    for (from, to, text) in [
        (
            "",
            "x",
            "both 'from' and 'to' path must be specified as a string",
        ),
        ("kv1", "secret", "path already in use at \"secret/\""),
        ("kv1", "kv1/sub", "path already in use at \"kv1/\""),
        ("kv1", "kv1", "path already in use at \"kv1/\""),
        ("nope", "x", "no matching mount at \"nope/\""),
        ("sys", "x", "cannot remount \"sys/\""),
        ("cubbyhole", "x", "cannot remount \"cubbyhole/\""),
        ("identity", "x", "cannot remount \"identity/\""),
        ("kv1", "sys/x", "cannot remount to destination sys/x/"),
        ("kv1", "auth/x", "cannot remount to destination auth/x/"),
        ("auth/token", "auth/x", "cannot remount \"auth/token/\""),
        (
            "auth/ar1",
            "auth/token",
            "cannot remount to destination \"auth/token/\"",
        ),
        (
            "auth/ar1",
            "ar2",
            "cannot remount auth mount to non-auth mount \"ar2/\"",
        ),
        (
            "kv1",
            "a//b",
            "invalid destination mount: path 'a//b/' does not match cleaned path 'a/b/'",
        ),
        (
            "kv1 ",
            "x",
            "'from' path cannot contain trailing whitespace",
        ),
    ] {
        let refused = s.write("sys/remount", json!({"from": from, "to": to}));
        assert_eq!(refused.status, 400, "{from} -> {to}");
        assert_eq!(refused.errors(), [text], "{from} -> {to}");
    }
    // Nothing moved.
    assert_eq!(s.read("sys/mounts/kv1").status, 200);

    // A source that only a longer path matches is accepted, and fails.
    let info = remount(&s, "kv1/sub", "kv9");
    assert_eq!(info["status"], "failure");
    assert_eq!(s.read("sys/mounts/kv1").status, 200, "still routed");

    // Moving needs sudo; reading a status does not.
    let policy = "path \"sys/remount\" { capabilities = [\"update\"] }\npath \"sys/remount/*\" { capabilities = [\"read\"] }";
    assert_eq!(
        s.write("sys/policies/acl/mover", json!({"policy": policy}))
            .status,
        204
    );
    let token = s
        .write("auth/token/create", json!({"policies": ["mover"]}))
        .client_token();
    let denied = s.call(
        "POST",
        "sys/remount",
        &token,
        Some(json!({"from": "kv1", "to": "kv2"})),
    );
    assert_eq!(denied.status, 403);
    assert_eq!(
        s.call("GET", "sys/remount/status/unknown", &token, None)
            .status,
        404
    );
}

/// Runs `attempt(thread, i)` from three threads, up to `rounds` times
/// each or until it answers `None` (the mount has moved away), and moves
/// `from` to `to` once every thread has succeeded once. Returns what the
/// attempts that succeeded produced.
fn race_a_move<T: Send>(
    s: &Server,
    from: &str,
    to: &str,
    rounds: usize,
    attempt: impl Fn(usize, usize) -> Option<T> + Sync,
) -> Vec<T> {
    let threads = 3;
    let started = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let racers: Vec<_> = (0..threads)
            .map(|thread| {
                let (started, attempt) = (&started, &attempt);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    for i in 0..rounds {
                        let Some(result) = attempt(thread, i) else {
                            break;
                        };
                        done.push(result);
                        if i == 0 {
                            started.wait();
                        }
                    }
                    done
                })
            })
            .collect();
        started.wait();
        assert_eq!(remount(s, from, to)["status"], "success");
        racers
            .into_iter()
            .flat_map(|r| r.join().expect("racer"))
            .collect()
    })
}

/// Writes racing a move: every write the server acknowledged is found at
/// the new path; none lands where nothing reads it.
#[test]
fn writes_racing_a_move_are_kept() {
    let s = Server::dev();
    assert_eq!(
        s.write("sys/mounts/race", json!({"type": "kv"})).status,
        204
    );
    let acknowledged = race_a_move(&s, "race", "moved", 400, |thread, i| {
        let key = format!("w{thread}-{i}");
        match s.write(&format!("race/{key}"), json!({"v": i})).status {
            204 => Some(key),
            404 => None,
            other => panic!("write answered {other}"),
        }
    });
    for key in acknowledged {
        assert_eq!(s.read(&format!("moved/{key}")).status, 200, "{key} lost");
    }
}

/// Logins racing the move of their auth method: no token the old mount
/// issued outlives the move.
#[test]
fn logins_racing_a_move_leave_no_live_token_behind() {
    let s = Server::dev();
    assert_eq!(
        s.write("sys/auth/race", json!({"type": "approle"})).status,
        204
    );
    assert_eq!(
        s.write(
            "auth/race/role/r",
            json!({"token_policies": "default", "bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8"})
        )
        .status,
        204
    );
    let role_id = s.read("auth/race/role/r/role-id").data("role_id").clone();
    let tokens = race_a_move(&s, "auth/race", "auth/moved", 300, |_, _| {
        let login = s.write("auth/race/login", json!({ "role_id": role_id }));
        match login.status {
            200 => Some(login.client_token()),
            404 => None,
            other => panic!("login answered {other}: {:?}", login.json),
        }
    });
    for token in tokens {
        assert_eq!(
            s.call("GET", "auth/token/lookup-self", &token, None).status,
            403,
            "a token of the old mount outlived the move"
        );
    }
}

#[test]
fn a_move_survives_a_restart() {
    let dir = common::temp_dir("remount-durable");
    let key_file = dir.join("unseal.key");
    std::fs::write(&key_file, "2a".repeat(32)).expect("key");
    let hcl = format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\nstorage \"raft\" {{\n  path = \"{}\"\n}}\nseal \"static\" {{\n  current_key = \"file://{}\"\n}}\n",
        dir.join("data").display(),
        key_file.display()
    );
    let s = Server::with_config(&dir, &hcl);
    let init = s.send("PUT", "sys/init", None, Some(b"{}".to_vec()));
    let root = init.json["root_token"].as_str().expect("root").to_string();
    let call = |s: &Server, method: &str, path: &str, body: Option<Value>| {
        s.call(method, path, &root, body)
    };
    assert_eq!(
        call(&s, "POST", "sys/mounts/kv1", Some(json!({"type": "kv"}))).status,
        204
    );
    assert_eq!(
        call(&s, "PUT", "kv1/app", Some(json!({"password": "p1"}))).status,
        204
    );
    let started = call(
        &s,
        "POST",
        "sys/remount",
        Some(json!({"from": "kv1", "to": "kv2"})),
    );
    let id = started
        .data("migration_id")
        .as_str()
        .expect("id")
        .to_string();
    for _ in 0..200 {
        let status = call(&s, "GET", &format!("sys/remount/status/{id}"), None);
        if status.data("migration_info")["status"] == "success" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    s.stop();
    let again = Server::with_config(&dir, &hcl);
    assert_eq!(call(&again, "GET", "kv2/app", None).data("password"), "p1");
    assert_eq!(call(&again, "GET", "kv1/app", None).status, 404);
    let _ = std::fs::remove_dir_all(dir);
}
