//! State transitions stay exact under concurrency, on the durable store:
//! many requests released at once by a barrier, and the counts must be what
//! a sequential run would give. Each module documents what serialises its
//! transition: token uses (`core::token`), secret-ID uses (AppRole),
//! `sys/init` and unsealing (`Core`'s lifecycle lock), PKI issuer and CRL
//! changes (the PKI write lock).

mod common;

use std::path::Path;
use std::sync::Barrier;

use common::{Reply, Server, LISTEN};
use serde_json::{json, Value};

/// How many requests race for each transition.
const RACERS: usize = 16;

fn static_seal_config(dir: &Path) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\n\
         storage \"raft\" {{\n  path = \"{}\"\n}}\n\
         seal \"static\" {{\n  current_key = \"{}\"\n}}\n",
        dir.join("data").display(),
        "6b".repeat(32)
    )
}

fn shamir_config(dir: &Path) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\n\
         storage \"raft\" {{\n  path = \"{}\"\n}}\n",
        dir.join("data").display()
    )
}

/// A durable, initialized, unsealed server (static seal) and its root token.
fn durable_server(name: &str) -> (Server, String) {
    let dir = common::temp_dir(name);
    let server = Server::with_config(&dir, &static_seal_config(&dir));
    let init = unauthenticated(&server, "PUT", "sys/init", json!({}));
    assert_eq!(init.status, 200, "{:?}", init.json);
    let root = init.json["root_token"]
        .as_str()
        .expect("root token")
        .to_string();
    (server, root)
}

fn unauthenticated(server: &Server, method: &str, path: &str, body: Value) -> Reply {
    server.send(method, path, None, Some(body.to_string().into_bytes()))
}

/// Runs `request` `RACERS` times at once and returns every reply.
fn race(request: impl Fn(usize) -> Reply + Sync) -> Vec<Reply> {
    let barrier = Barrier::new(RACERS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..RACERS)
            .map(|i| {
                let barrier = &barrier;
                let request = &request;
                scope.spawn(move || {
                    barrier.wait();
                    request(i)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("racer"))
            .collect()
    })
}

fn count(replies: &[Reply], status: u16) -> usize {
    replies.iter().filter(|r| r.status == status).count()
}

#[test]
fn a_limited_use_token_is_used_exactly_num_uses_times() {
    let (server, root) = durable_server("token-uses");
    let r = server.call(
        "PUT",
        "sys/mounts/kv",
        &root,
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = server.call(
        "PUT",
        "kv/data/app/db",
        &root,
        Some(json!({"data": {"password": "x"}})),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    for uses in [1, 3] {
        for round in 0..3 {
            let token = server.call(
                "PUT",
                "auth/token/create",
                &root,
                Some(json!({"num_uses": uses})),
            );
            let token = token.json["auth"]["client_token"]
                .as_str()
                .expect("token")
                .to_string();
            let replies = race(|_| server.call("GET", "kv/data/app/db", &token, None));
            assert_eq!(
                count(&replies, 200),
                uses,
                "num_uses={uses}, round {round}: {:?}",
                replies.iter().map(|r| r.status).collect::<Vec<_>>()
            );
            assert_eq!(count(&replies, 403), RACERS - uses);
            // Used up: revoked, and its accessor is gone too.
            let r = server.call("GET", "auth/token/lookup-self", &token, None);
            assert_eq!(r.status, 403);
        }
    }
}

#[test]
fn a_secret_id_is_used_exactly_secret_id_num_uses_times() {
    let (server, root) = durable_server("secret-id-uses");
    let call = |method: &str, path: &str, body: Value| server.call(method, path, &root, Some(body));
    assert_eq!(
        call("PUT", "sys/auth/approle", json!({"type": "approle"})).status,
        204
    );
    // The losers' failed logins would lock the role ID out after Vault's
    // default threshold (5), turning some of their 400s into 403s depending
    // on arrival order; this test is about use counts alone.
    assert_eq!(
        call(
            "PUT",
            "sys/auth/approle/tune",
            json!({"user_lockout_config": {"lockout_disable": true}}),
        )
        .status,
        204
    );
    call(
        "PUT",
        "auth/approle/role/r",
        json!({"secret_id_num_uses": 3, "token_policies": ["default"]}),
    );
    let role_id = call("GET", "auth/approle/role/r/role-id", json!({}));
    let role_id = role_id
        .data("role_id")
        .as_str()
        .expect("role_id")
        .to_string();
    let secret_id = call("PUT", "auth/approle/role/r/secret-id", json!({}));
    let secret_id = secret_id
        .data("secret_id")
        .as_str()
        .expect("secret_id")
        .to_string();
    let body = json!({"role_id": role_id, "secret_id": secret_id});
    let replies = race(|_| unauthenticated(&server, "PUT", "auth/approle/login", body.clone()));
    let answers: Vec<_> = replies.iter().map(|r| (r.status, r.errors())).collect();
    assert_eq!(count(&replies, 200), 3, "{answers:?}");
    assert_eq!(count(&replies, 400), RACERS - 3, "{answers:?}");
}

#[test]
fn concurrent_init_initializes_once_and_the_store_reopens() {
    for (name, config) in [
        (
            "init-race-static",
            static_seal_config as fn(&Path) -> String,
        ),
        ("init-race-shamir", shamir_config),
    ] {
        let dir = common::temp_dir(name);
        let hcl = config(&dir);
        let server = Server::with_config(&dir, &hcl);
        let replies = race(|_| {
            unauthenticated(
                &server,
                "PUT",
                "sys/init",
                json!({"secret_shares": 1, "secret_threshold": 1}),
            )
        });
        assert_eq!(count(&replies, 200), 1, "{name}");
        for loser in replies.iter().filter(|r| r.status != 200) {
            assert_eq!(loser.status, 400, "{name}: {:?}", loser.json);
            assert_eq!(loser.errors(), ["Vault is already initialized"]);
        }
        let winner = replies
            .iter()
            .find(|r| r.status == 200)
            .expect("one winner");
        let root = winner.json["root_token"]
            .as_str()
            .expect("root")
            .to_string();
        let key = winner.json["keys"][0].as_str().map(str::to_string);
        server.stop();

        // What the winner was told opens the store after a restart.
        let again = Server::with_config(&dir, &hcl);
        if let Some(key) = key {
            let r = unauthenticated(&again, "PUT", "sys/unseal", json!({"key": key}));
            assert_eq!(r.json["sealed"], false, "{name}: {:?}", r.json);
        }
        let r = again.call("GET", "sys/mounts", &root, None);
        assert_eq!(r.status, 200, "{name}: {:?}", r.json);
        again.stop();
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn concurrent_unseal_shares_unseal_once() {
    let dir = common::temp_dir("unseal-race");
    let hcl = shamir_config(&dir);
    let server = Server::with_config(&dir, &hcl);
    let init = unauthenticated(
        &server,
        "PUT",
        "sys/init",
        json!({"secret_shares": 5, "secret_threshold": 3}),
    );
    let keys: Vec<String> = init.json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    let root = init.json["root_token"].as_str().expect("root").to_string();
    // Every share, several times over, all at once.
    let replies = race(|i| {
        unauthenticated(
            &server,
            "PUT",
            "sys/unseal",
            json!({"key": keys[i % keys.len()]}),
        )
    });
    assert!(
        replies.iter().all(|r| r.status == 200),
        "{:?}",
        replies.iter().map(|r| &r.json).collect::<Vec<_>>()
    );
    let status = server.send("GET", "sys/seal-status", None, None);
    assert_eq!(status.json["sealed"], false);
    assert_eq!(status.json["progress"], 0);
    assert_eq!(server.call("GET", "sys/mounts", &root, None).status, 200);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn revocations_racing_crl_rebuilds_and_issuer_changes_all_reach_the_crl() {
    let (server, root) = durable_server("pki-races");
    let call = |method: &str, path: &str, body: Value| server.call(method, path, &root, Some(body));
    assert_eq!(
        call("PUT", "sys/mounts/pki", json!({"type": "pki"})).status,
        204
    );
    let r = call(
        "PUT",
        "pki/root/generate/internal",
        json!({"common_name": "race root", "issuer_name": "first", "key_type": "ec"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    call(
        "PUT",
        "pki/roles/leaf",
        json!({"allow_any_name": true, "key_type": "ec", "ttl": "1h"}),
    );
    let serials: Vec<String> = (0..RACERS)
        .map(|i| {
            let r = call(
                "PUT",
                "pki/issue/leaf",
                json!({"common_name": format!("leaf{i}.example")}),
            );
            r.data("serial_number")
                .as_str()
                .expect("serial")
                .to_string()
        })
        .collect();
    // Revocations, CRL rotations and issuer changes interleaved.
    let replies = race(|i| match i % 4 {
        0 => server.call("GET", "pki/crl/rotate", &root, None),
        1 => call(
            "PUT",
            "pki/root/rotate/internal",
            json!({"common_name": format!("rotated {i}"), "key_type": "ec"}),
        ),
        _ => call("PUT", "pki/revoke", json!({"serial_number": serials[i]})),
    });
    for r in &replies {
        assert!(r.status < 300, "{} {:?}", r.status, r.json);
    }
    // Also the serials the first round did not revoke.
    for (i, serial) in serials.iter().enumerate().filter(|(i, _)| i % 4 < 2) {
        let r = call("PUT", "pki/revoke", json!({"serial_number": serial}));
        assert_eq!(r.status, 200, "{i}: {:?}", r.json);
    }
    let r = server.call("GET", "pki/crl/rotate", &root, None);
    assert_eq!(r.status, 200, "{:?}", r.json);
    let crl = server.send("GET", "pki/issuer/first/crl/pem", None, None);
    assert_eq!(crl.status, 200);
    let dir = common::temp_dir("pki-races-crl");
    std::fs::write(dir.join("crl.pem"), &crl.raw).expect("write crl");
    let (ok, text) = common::openssl(&dir, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    let listed = text.to_uppercase();
    for serial in &serials {
        let hex = serial.replace(':', "").to_uppercase();
        let hex = hex.trim_start_matches('0');
        assert!(
            listed.contains(hex),
            "{serial} missing from the CRL:\n{text}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
