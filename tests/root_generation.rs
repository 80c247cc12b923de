//! Generating a root token from a quorum of unseal key holders
//! (`sys/generate-root/*`) and decoding it (`sys/decode-token`), as Vault:
//! see <https://developer.hashicorp.com/vault/api-docs/system/generate-root>.

mod common;

use common::Server;
use serde_json::{json, Value};

fn put(s: &Server, path: &str, body: Value) -> common::Reply {
    s.send("PUT", path, None, Some(body.to_string().into_bytes()))
}

/// An initialized, unsealed durable server with `n` shares of which `t`
/// unseal: (server, keys, root token).
fn unsealed(name: &str, n: u8, t: u8) -> (Server, Vec<String>, String) {
    let dir = common::temp_dir(name);
    let s = Server::durable(&dir);
    let init = put(
        &s,
        "sys/init",
        json!({"secret_shares": n, "secret_threshold": t}),
    );
    let keys: Vec<String> = init.json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    for key in keys.iter().take(usize::from(t)) {
        put(&s, "sys/unseal", json!({ "key": key }));
    }
    let root = init.json["root_token"].as_str().expect("root").to_string();
    (s, keys, root)
}

#[test]
fn a_quorum_generates_a_root_token_handed_out_under_the_pad() {
    let (s, keys, root) = unsealed("genroot", 5, 3);
    let idle = s.send("GET", "sys/generate-root/attempt", None, None);
    assert_eq!(
        idle.json,
        json!({"nonce": "", "started": false, "progress": 0, "required": 3, "complete": false,
               "encoded_token": "", "encoded_root_token": "", "pgp_fingerprint": "", "otp": "",
               "otp_length": 28})
    );
    let started = put(&s, "sys/generate-root/attempt", json!({}));
    assert_eq!(started.status, 200, "{:?}", started.json);
    let otp = started.json["otp"].as_str().expect("otp").to_string();
    let nonce = started.json["nonce"].as_str().expect("nonce").to_string();
    assert_eq!(otp.len(), 28);
    let again = put(&s, "sys/generate-root/attempt", json!({}));
    assert_eq!(again.errors(), ["root generation already in progress"]);

    let update = |key: &str, nonce: &str| {
        put(
            &s,
            "sys/generate-root/update",
            json!({"key": key, "nonce": nonce}),
        )
    };
    assert!(update(&keys[0], "wrong").errors()[0].starts_with("incorrect nonce supplied"));
    assert_eq!(update(&keys[0], &nonce).json["progress"], 1);
    assert_eq!(
        update(&keys[0], &nonce).errors(),
        ["given key has already been provided during this generation operation"]
    );
    assert_eq!(update(&keys[1], &nonce).json["complete"], false);
    let done = update(&keys[2], &nonce);
    assert_eq!(done.json["complete"], true, "{:?}", done.json);
    let encoded = done.json["encoded_token"].as_str().expect("encoded");
    assert_eq!(done.json["encoded_root_token"], encoded);

    let decoded = s.call(
        "PUT",
        "sys/decode-token",
        &root,
        Some(json!({"encoded_token": encoded, "otp": otp})),
    );
    let token = decoded.data("token").as_str().expect("token").to_string();
    assert!(token.starts_with("hvs."));
    let seen = s.call("GET", "auth/token/lookup-self", &token, None);
    assert_eq!(seen.data("policies"), &json!(["root"]));
    assert_eq!(seen.data("path"), "auth/token/root");
    assert_eq!(
        s.send("GET", "sys/generate-root/attempt", None, None).json["started"],
        false,
        "the attempt is over"
    );
    assert_eq!(
        update(&keys[0], &nonce).errors(),
        ["no root generation in progress"]
    );
}

#[test]
fn wrong_shares_abort_and_refusals_have_vaults_texts() {
    let (s, keys, root) = unsealed("genroot-refusals", 1, 1);
    let otp = "a".repeat(28);
    for (body, error) in [
        (json!({"otp": "short"}), "OTP string is wrong length"),
        (
            json!({"otp": otp, "pgp_key": "k"}),
            "only one of \"otp\" and \"pgp_key\" must be specified",
        ),
    ] {
        let reply = put(&s, "sys/generate-root/attempt", body);
        assert_eq!(
            (reply.status, reply.errors()),
            (400, vec![error.to_string()])
        );
    }
    let started = put(&s, "sys/generate-root/attempt", json!({"otp": otp}));
    assert_eq!(started.json["otp"], "", "an operator's pad is not echoed");
    let nonce = started.json["nonce"].as_str().expect("nonce").to_string();
    let missing = put(&s, "sys/generate-root/update", json!({"nonce": nonce}));
    assert_eq!(
        missing.errors(),
        ["'key' must be specified in request body as JSON"]
    );
    let bogus = put(
        &s,
        "sys/generate-root/update",
        json!({"key": "00".repeat(32), "nonce": nonce}),
    );
    assert_eq!(bogus.status, 400);
    assert!(
        bogus.errors()[0].starts_with("root generation aborted"),
        "{:?}",
        bogus.json
    );

    // Cancelling ends an attempt.
    let started = put(&s, "sys/generate-root/attempt", json!({}));
    assert_eq!(started.status, 200);
    assert_eq!(
        s.send("DELETE", "sys/generate-root/attempt", None, None)
            .status,
        204
    );
    let after = put(
        &s,
        "sys/generate-root/update",
        json!({"key": keys[0], "nonce": started.json["nonce"]}),
    );
    assert_eq!(after.errors(), ["no root generation in progress"]);

    let empty = s.call("PUT", "sys/decode-token", &root, Some(json!({})));
    assert_eq!(
        empty.errors(),
        ["provided 'encoded_token' or 'otp' is empty"]
    );
}

#[test]
fn of_concurrent_final_shares_exactly_one_completes_the_attempt() {
    let (s, keys, _) = unsealed("genroot-race", 3, 2);
    let started = put(&s, "sys/generate-root/attempt", json!({}));
    let nonce = started.json["nonce"].as_str().expect("nonce").to_string();
    put(
        &s,
        "sys/generate-root/update",
        json!({"key": keys[0], "nonce": nonce}),
    );
    // Eight holders race to send the second share, half with each key.
    let replies: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let key = keys[1 + i % 2].clone();
                let (s, nonce) = (&s, &nonce);
                scope.spawn(move || {
                    put(
                        s,
                        "sys/generate-root/update",
                        json!({"key": key, "nonce": nonce}),
                    )
                    .json
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let completed = replies.iter().filter(|r| r["complete"] == true).count();
    assert_eq!(completed, 1, "{replies:?}");
}

#[test]
fn the_unseal_key_a_dev_server_prints_generates_a_root_token() {
    let s = Server::dev();
    let started = put(&s, "sys/generate-root/attempt", json!({}));
    assert_eq!(started.json["required"], 1, "{:?}", started.json);
    let otp = started.json["otp"].as_str().expect("otp").to_string();
    let done = put(
        &s,
        "sys/generate-root/update",
        json!({"key": s.dev_unseal_key(), "nonce": started.json["nonce"]}),
    );
    assert_eq!(done.json["complete"], true, "{:?}", done.json);
    let decoded = s.write(
        "sys/decode-token",
        json!({"encoded_token": done.json["encoded_token"], "otp": otp}),
    );
    let token = decoded.data("token").as_str().expect("token").to_string();
    let me = s.call("GET", "auth/token/lookup-self", &token, None);
    assert_eq!(me.data("policies"), &json!(["root"]));
}
