//! The transit secrets engine through the real server: keys, encryption,
//! signatures, HMACs, hashes and randomness, with Vault's answers to bad
//! input.

mod common;

use base64::Engine as _;
use common::Server;
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn transit() -> Server {
    let s = Server::dev();
    let r = s.write("sys/mounts/transit", json!({"type": "transit"}));
    assert_eq!(r.status, 204, "{:?}", r.json);
    s
}

fn field(r: &common::Reply, name: &str) -> String {
    r.data(name)
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {} {:?}", r.status, r.json))
        .to_string()
}

fn assert_error(r: &common::Reply, status: u16, error: &str) {
    assert_eq!(r.status, status, "{:?}", r.json);
    assert_eq!(r.errors(), [error]);
}

#[test]
fn keys_are_created_read_rotated_configured_and_deleted() {
    let s = transit();
    let r = s.write("transit/keys/k", json!({}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("type"), "aes256-gcm96");
    assert_eq!(r.data("latest_version"), 1);
    assert_eq!(r.data("min_decryption_version"), 1);
    assert_eq!(r.data("supports_encryption"), true);
    assert!(r.data("keys")["1"].is_i64());

    let r = s.write("transit/keys/k/rotate", json!({}));
    assert_eq!(r.data("latest_version"), 2);
    let r = s.write(
        "transit/keys/k/config",
        json!({"min_decryption_version": 2, "deletion_allowed": true}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let keys = r.data("keys").as_object().cloned().unwrap_or_default();
    assert_eq!(
        keys.keys().collect::<Vec<_>>(),
        ["2"],
        "older versions are hidden"
    );

    let r = s.write(
        "transit/keys/k/config",
        json!({"min_decryption_version": 5}),
    );
    assert_error(
        &r,
        400,
        "cannot set min decryption version of 5, latest key version is 2",
    );
    let r = s.write(
        "transit/keys/k/config",
        json!({"min_encryption_version": 1}),
    );
    assert_error(&r, 400, "cannot set min encryption/decryption values; min encryption version of 1 must be greater than or equal to min decryption version of 2");
    let r = s.write("transit/keys/k/trim", json!({"min_available_version": 2}));
    assert_error(
        &r,
        400,
        "minimum available version cannot be set when minimum encryption version is not set",
    );
    s.write(
        "transit/keys/k/config",
        json!({"min_encryption_version": 2}),
    );
    let r = s.write("transit/keys/k/trim", json!({"min_available_version": 2}));
    assert_eq!(r.data("min_available_version"), 2);

    for (t, name) in [
        ("ecdsa-p256", "P-256"),
        ("ecdsa-p384", "P-384"),
        ("ed25519", "ed25519"),
    ] {
        let r = s.write(&format!("transit/keys/{t}"), json!({"type": t}));
        assert_eq!(r.status, 200, "{t}: {:?}", r.json);
        assert_eq!(r.data("supports_signing"), true);
        assert_eq!(r.data("keys")["1"]["name"], name);
        let public = r.data("keys")["1"]["public_key"]
            .as_str()
            .unwrap_or_default();
        assert!(!public.is_empty());
        assert_eq!(
            public.starts_with("-----BEGIN PUBLIC KEY-----"),
            t != "ed25519"
        );
    }
    let r = s.list("transit/keys");
    assert_eq!(
        r.data("keys"),
        &json!(["ecdsa-p256", "ecdsa-p384", "ed25519", "k"])
    );

    let r = s.delete("transit/keys/ed25519");
    assert_error(
        &r,
        400,
        "error deleting policy ed25519: deletion is not allowed for this key",
    );
    assert_eq!(s.delete("transit/keys/k").status, 204);
    assert_eq!(s.read("transit/keys/k").status, 404);

    assert_error(
        &s.write("transit/keys/x", json!({"type": "nope"})),
        400,
        "unknown key type nope",
    );
    assert_error(
        &s.write("transit/keys/x", json!({"auto_rotate_period": "10m"})),
        400,
        "auto rotate period must be 0 to disable or at least an hour",
    );
    assert_error(
        &s.write("transit/keys/h", json!({"type": "hmac"})),
        400,
        "invalid key size for HMAC key, must be between 32 and 512 bytes",
    );
    assert_error(
        &s.write(
            "transit/keys/nosuch/config",
            json!({"deletion_allowed": true}),
        ),
        400,
        "no existing key named nosuch could be found",
    );
    assert_error(
        &s.write("transit/keys/nosuch/rotate", json!({})),
        400,
        "key not found",
    );
}

#[test]
fn encrypt_decrypt_rewrap_and_datakeys() {
    let s = transit();
    for t in [
        "aes128-gcm96",
        "aes256-gcm96",
        "chacha20-poly1305",
        "rsa-2048",
    ] {
        s.write(&format!("transit/keys/{t}"), json!({"type": t}));
        let r = s.write(
            &format!("transit/encrypt/{t}"),
            json!({"plaintext": b64(b"hello"), "associated_data": b64(b"ad")}),
        );
        assert_eq!(r.status, 200, "{t}: {:?}", r.json);
        let ct = field(&r, "ciphertext");
        assert!(ct.starts_with("vault:v1:"), "{ct}");
        let r = s.write(
            &format!("transit/decrypt/{t}"),
            json!({"ciphertext": ct, "associated_data": b64(b"ad")}),
        );
        assert_eq!(field(&r, "plaintext"), b64(b"hello"), "{t}");
        if t != "rsa-2048" {
            let r = s.write(&format!("transit/decrypt/{t}"), json!({"ciphertext": ct}));
            assert_error(&r, 400, "cipher: message authentication failed");
        }
    }

    // Upsert: encrypting with an unknown key creates it.
    let r = s.write("transit/encrypt/auto", json!({"plaintext": b64(b"x")}));
    let v1 = field(&r, "ciphertext");
    s.write("transit/keys/auto/rotate", json!({}));
    let r = s.write("transit/rewrap/auto", json!({"ciphertext": v1}));
    let v2 = field(&r, "ciphertext");
    assert!(v2.starts_with("vault:v2:"), "{v2}");
    s.write(
        "transit/keys/auto/config",
        json!({"min_decryption_version": 2}),
    );
    let r = s.write("transit/decrypt/auto", json!({"ciphertext": v1}));
    assert_error(
        &r,
        400,
        "ciphertext or signature version is disallowed by policy (too old)",
    );
    let r = s.write("transit/decrypt/auto", json!({"ciphertext": v2}));
    assert_eq!(field(&r, "plaintext"), b64(b"x"));

    // Tampering and malformed input.
    let mut tampered = v2.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap_or_default();
    let r = s.write("transit/decrypt/auto", json!({"ciphertext": tampered}));
    assert_error(&r, 400, "cipher: message authentication failed");
    for (body, error) in [
        (
            json!({"ciphertext": "garbage"}),
            "invalid ciphertext: no prefix",
        ),
        (
            json!({"ciphertext": "vault:v2:AAAA"}),
            "invalid ciphertext length",
        ),
        (
            json!({"ciphertext": "vault:v9:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}),
            "invalid ciphertext: version is too new",
        ),
        (json!({}), "missing ciphertext to decrypt"),
    ] {
        assert_error(&s.write("transit/decrypt/auto", body), 400, error);
    }
    assert_error(
        &s.write("transit/encrypt/auto", json!({"plaintext": "not base64!"})),
        400,
        "illegal base64 data at input byte 3",
    );
    assert_error(
        &s.write(
            "transit/encrypt/auto",
            json!({"plaintext": b64(b"x"), "key_version": 9}),
        ),
        400,
        "requested version for encryption is higher than the latest key version",
    );
    assert_error(
        &s.write("transit/decrypt/nosuch", json!({"ciphertext": v2})),
        400,
        "encryption key not found",
    );

    // Datakeys: the plaintext decrypts from the ciphertext.
    let r = s.write("transit/datakey/plaintext/auto", json!({"bits": 512}));
    let plain = field(&r, "plaintext");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&plain)
            .map(|k| k.len())
            .unwrap_or_default(),
        64
    );
    let r = s.write(
        "transit/decrypt/auto",
        json!({"ciphertext": field(&r, "ciphertext")}),
    );
    assert_eq!(field(&r, "plaintext"), plain);
    let r = s.write("transit/datakey/wrapped/auto", json!({}));
    assert_eq!(r.data("plaintext"), &Value::Null);
    assert_error(
        &s.write("transit/datakey/plaintext/auto", json!({"bits": 100})),
        400,
        "invalid bit length",
    );
    assert_error(
        &s.write("transit/datakey/bogus/auto", json!({})),
        400,
        "Invalid path, must be 'plaintext' or 'wrapped'",
    );
}

#[test]
fn batches_answer_each_item() {
    let s = transit();
    let r = s.write(
        "transit/encrypt/b",
        json!({"batch_input": [{"plaintext": b64(b"one"), "reference": "r1"}, {"plaintext": "!!"}]}),
    );
    assert_eq!(r.status, 400, "one bad item: {:?}", r.json);
    let results = r
        .data("batch_results")
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results[0]["reference"], "r1");
    assert_eq!(results[0]["key_version"], 1);
    assert_eq!(results[1]["error"], "illegal base64 data at input byte 0");
    let ct = results[0]["ciphertext"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let r = s.write(
        "transit/decrypt/b",
        json!({"batch_input": [{"ciphertext": ct}, {"ciphertext": "x"}], "partial_failure_response_code": 207}),
    );
    assert_eq!(r.status, 207, "{:?}", r.json);
    assert_eq!(r.data("batch_results")[0]["plaintext"], b64(b"one"));
    assert_eq!(
        r.data("batch_results")[1]["error"],
        "invalid ciphertext: no prefix"
    );

    let r = s.write(
        "transit/decrypt/b",
        json!({"batch_input": [{"ciphertext": ct}]}),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_error(
        &s.write("transit/encrypt/b", json!({"batch_input": []})),
        400,
        "missing batch input to process",
    );
    assert_error(
        &s.write("transit/encrypt/b", json!({"batch_input": [{}]})),
        400,
        "failed to parse batch input: '[0].plaintext' missing plaintext to encrypt",
    );
}

#[test]
fn derived_keys_need_their_context() {
    let s = transit();
    let r = s.write("transit/keys/d", json!({"derived": true}));
    assert_eq!(r.data("derived"), true, "{:?}", r.json);
    let r = s.write(
        "transit/encrypt/d",
        json!({"plaintext": b64(b"x"), "context": b64(b"tenant-a")}),
    );
    let ct = field(&r, "ciphertext");
    let r = s.write(
        "transit/decrypt/d",
        json!({"ciphertext": ct, "context": b64(b"tenant-a")}),
    );
    assert_eq!(field(&r, "plaintext"), b64(b"x"));
    let r = s.write(
        "transit/decrypt/d",
        json!({"ciphertext": ct, "context": b64(b"tenant-b")}),
    );
    assert_error(&r, 400, "cipher: message authentication failed");
    let r = s.write("transit/encrypt/d", json!({"plaintext": b64(b"x")}));
    assert_eq!(r.status, 400);

    // Convergent: the same plaintext and context, the same ciphertext.
    s.write(
        "transit/keys/c",
        json!({"derived": true, "convergent_encryption": true}),
    );
    let body = json!({"plaintext": b64(b"x"), "context": b64(b"ctx")});
    let one = field(&s.write("transit/encrypt/c", body.clone()), "ciphertext");
    let two = field(&s.write("transit/encrypt/c", body), "ciphertext");
    assert_eq!(one, two);
    assert_error(
        &s.write("transit/keys/bad", json!({"convergent_encryption": true})),
        400,
        "convergent encryption requires derivation to be enabled",
    );
}

#[test]
fn signatures_and_hmacs_verify_and_tampering_does_not() {
    let s = transit();
    let input = b64(b"message");
    let other = b64(b"other");
    for t in [
        "ed25519",
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
        "rsa-2048",
    ] {
        s.write(&format!("transit/keys/{t}"), json!({"type": t}));
        for extra in [
            json!({}),
            json!({"hash_algorithm": "sha2-512"}),
            json!({"marshaling_algorithm": "jws"}),
            json!({"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-384"}),
        ] {
            if t == "ed25519" && extra.get("marshaling_algorithm").is_some() {
                continue;
            }
            let mut body = extra.clone();
            body["input"] = json!(input);
            let r = s.write(&format!("transit/sign/{t}"), body.clone());
            assert_eq!(r.status, 200, "{t} {extra}: {:?}", r.json);
            let sig = field(&r, "signature");
            assert!(sig.starts_with("vault:v1:"));
            body["signature"] = json!(sig);
            let r = s.write(&format!("transit/verify/{t}"), body.clone());
            assert_eq!(r.data("valid"), true, "{t} {extra}: {:?}", r.json);
            body["input"] = json!(other);
            let r = s.write(&format!("transit/verify/{t}"), body);
            assert_eq!(r.data("valid"), false, "{t} {extra}");
        }
    }
    assert_error(
        &s.write(
            "transit/sign/ecdsa-p256",
            json!({"input": input, "hash_algorithm": "md5"}),
        ),
        400,
        "invalid hash algorithm \"md5\"",
    );
    assert_error(
        &s.write(
            "transit/verify/ecdsa-p256",
            json!({"input": input, "signature": "garbage"}),
        ),
        400,
        "invalid signature: no prefix",
    );
    assert_error(
        &s.write("transit/verify/ecdsa-p256", json!({"input": input})),
        400,
        "neither a 'signature' nor an 'hmac' were given to verify",
    );
    s.write("transit/keys/aes", json!({}));
    assert_error(
        &s.write("transit/sign/aes", json!({"input": input})),
        400,
        "key type aes256-gcm96 does not support signing",
    );

    // HMACs with an hmac key and with an encryption key's HMAC key.
    s.write("transit/keys/h", json!({"type": "hmac", "key_size": 64}));
    for key in ["h", "aes"] {
        let r = s.write(
            &format!("transit/hmac/{key}/sha2-512"),
            json!({"input": input}),
        );
        let mac = field(&r, "hmac");
        let r = s.write(
            &format!("transit/verify/{key}/sha2-512"),
            json!({"input": input, "hmac": mac}),
        );
        assert_eq!(r.data("valid"), true, "{key}");
        let r = s.write(
            &format!("transit/verify/{key}/sha2-512"),
            json!({"input": other, "hmac": mac}),
        );
        assert_eq!(r.data("valid"), false, "{key}");
    }
}

#[test]
fn hashes_and_random_bytes() {
    let s = transit();
    let r = s.write("transit/hash", json!({"input": b64(b"hi")}));
    assert_eq!(
        field(&r, "sum"),
        "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"
    );
    let r = s.write(
        "transit/hash/sha2-512",
        json!({"input": b64(b"hi"), "format": "base64"}),
    );
    assert_eq!(field(&r, "sum").len(), 88);
    assert_error(
        &s.write(
            "transit/hash",
            json!({"input": b64(b"hi"), "algorithm": "x"}),
        ),
        400,
        "unsupported algorithm x",
    );
    let r = s.write("transit/random/8", json!({"format": "hex"}));
    assert_eq!(field(&r, "random_bytes").len(), 16);
    let r = s.write("transit/random", json!({}));
    assert_eq!(field(&r, "random_bytes").len(), 44);
    assert_error(
        &s.write("transit/random/0", json!({})),
        400,
        "'bytes' cannot be less than 1",
    );
    assert_eq!(s.read("transit/cache-config").data("size"), 0);
    assert_error(
        &s.write("transit/cache-config", json!({"size": 5})),
        400,
        "size must be 0 or a value greater or equal to 10",
    );
    let r = s.write("transit/cache-config", json!({"size": 20}));
    assert_eq!(r.data("size"), 20);
    assert_eq!(s.read("transit/cache-config").data("size"), 20);
}

#[test]
fn backups_restore_keys_and_exports_show_them() {
    let s = transit();
    for t in ["aes256-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p384"] {
        let name = format!("b-{t}");
        let r = s.write(
            &format!("transit/keys/{name}"),
            json!({"type": t, "exportable": true, "allow_plaintext_backup": true}),
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
        s.write(&format!("transit/keys/{name}/rotate"), json!({}));
        let input = json!({"input": b64(b"data"), "plaintext": b64(b"data")});
        let op = if t.starts_with('e') {
            "sign"
        } else {
            "encrypt"
        };
        let out = s.write(&format!("transit/{op}/{name}"), input);
        let made = if op == "sign" {
            field(&out, "signature")
        } else {
            field(&out, "ciphertext")
        };

        let r = s.read(&format!("transit/backup/{name}"));
        let backup = field(&r, "backup");
        let r = s.write("transit/restore", json!({"backup": backup}));
        assert_error(&r, 400, &format!("key \"{name}\" already exists"));
        let copy = format!("copy-{name}");
        let r = s.write(
            &format!("transit/restore/{copy}"),
            json!({"backup": backup}),
        );
        assert_eq!(r.status, 204, "{t}: {:?}", r.json);
        let r = s.read(&format!("transit/keys/{copy}"));
        assert_eq!(r.data("latest_version"), 2);
        assert!(r.data("restore_info").is_object());
        let r = if op == "sign" {
            s.write(
                &format!("transit/verify/{copy}"),
                json!({"input": b64(b"data"), "signature": made}),
            )
        } else {
            s.write(
                &format!("transit/decrypt/{copy}"),
                json!({"ciphertext": made}),
            )
        };
        assert_eq!(r.status, 200, "{t}: {:?}", r.json);
        if op == "sign" {
            assert_eq!(r.data("valid"), true, "{t}");
        } else {
            assert_eq!(field(&r, "plaintext"), b64(b"data"));
        }
        // Restoring over an existing key needs `force`.
        let r = s.write(
            &format!("transit/restore/{copy}"),
            json!({"backup": backup, "force": true}),
        );
        assert_eq!(r.status, 204, "{:?}", r.json);
    }

    let r = s.read("transit/export/encryption-key/b-aes256-gcm96/1");
    let keys = r.data("keys").as_object().cloned().unwrap_or_default();
    assert_eq!(keys.len(), 1);
    assert_eq!(r.data("type"), "aes256-gcm96");
    let r = s.read("transit/export/signing-key/b-ecdsa-p384");
    assert!(r.data("keys")["2"]
        .as_str()
        .unwrap_or_default()
        .starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let r = s.read("transit/export/public-key/b-ed25519/latest");
    assert!(r.data("keys")["2"].is_string(), "{:?}", r.json);

    s.write("transit/keys/closed", json!({}));
    assert_error(
        &s.read("transit/backup/closed"),
        400,
        "exporting is disallowed on the policy",
    );
    assert_error(
        &s.read("transit/backup/nosuch"),
        400,
        "key \"nosuch\" not found",
    );
    assert_error(
        &s.read("transit/export/encryption-key/closed"),
        400,
        "private key material is not exportable",
    );
    assert_error(
        &s.read("transit/export/bogus/closed"),
        400,
        "invalid export type: bogus",
    );
    assert_error(
        &s.read("transit/export/encryption-key/b-aes256-gcm96/9"),
        400,
        "version does not exist or cannot be found",
    );
    assert_error(
        &s.read("transit/export/signing-key/b-aes256-gcm96"),
        400,
        "signing not supported for the key",
    );
    assert_error(
        &s.write("transit/restore", json!({})),
        400,
        "'backup' must be supplied",
    );
    assert_error(
        &s.write("transit/restore", json!({"backup": "!!"})),
        400,
        "illegal base64 data at input byte 0",
    );
}

/// `vault ARGS…` against `s` with the root token; `(exit code, stdout)`.
fn vault(s: &Server, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(common::binary())
        .args(args)
        .env("VAULT_ADDR", s.url("").trim_end_matches("/v1/"))
        .env("VAULT_TOKEN", common::ROOT)
        .env("HOME", std::env::temp_dir())
        .env_remove("VAULT_FORMAT")
        .output()
        .expect("run the CLI");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_vault_cli_encrypts_decrypts_and_reads_keys() {
    let s = transit();
    assert_eq!(vault(&s, &["write", "-force", "transit/keys/k"]).0, 0);
    // vault write -field=ciphertext transit/encrypt/k plaintext=$(base64 <<< hi)
    let (code, ct) = vault(
        &s,
        &[
            "write",
            "-field=ciphertext",
            "transit/encrypt/k",
            "plaintext=aGkK",
        ],
    );
    assert_eq!(code, 0);
    assert!(ct.starts_with("vault:v1:") && !ct.ends_with('\n'), "{ct}");
    let (code, plain) = vault(
        &s,
        &[
            "write",
            "-field=plaintext",
            "transit/decrypt/k",
            &format!("ciphertext={ct}"),
        ],
    );
    assert_eq!((code, plain.as_str()), (0, "aGkK"));
    let (code, table) = vault(&s, &["read", "transit/keys/k"]);
    assert_eq!(code, 0);
    for line in [
        "allow_plaintext_backup    false",
        "latest_version            1",
        "supports_encryption       true",
        "type                      aes256-gcm96",
    ] {
        assert!(table.contains(line), "{line} in\n{table}");
    }
    assert!(
        table.contains("keys                      map[1:"),
        "{table}"
    );
}

/// Keys are kept decoded between requests; every change of a key must be
/// seen by the next request: a deleted and re-created key is a new key, a
/// restore over a key replaces it, and a rotation moves encryption on.
#[test]
fn every_change_of_a_key_is_seen_by_the_next_request() {
    let s = transit();
    for name in ["sym", "ec"] {
        let key_type = if name == "sym" {
            "aes256-gcm96"
        } else {
            "ecdsa-p256"
        };
        let r = s.write(
            &format!("transit/keys/{name}"),
            json!({"type": key_type, "exportable": true, "allow_plaintext_backup": true}),
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
    }
    let plaintext = b64(b"cached");
    let old_ciphertext = field(
        &s.write("transit/encrypt/sym", json!({"plaintext": plaintext})),
        "ciphertext",
    );
    let old_signature = field(
        &s.write("transit/sign/ec", json!({"input": plaintext})),
        "signature",
    );
    let backup_of_ec = field(&s.read("transit/backup/ec"), "backup");

    // Rotation: the next encryption uses version 2 at once.
    s.write("transit/keys/sym/rotate", json!({}));
    let r = s.write("transit/encrypt/sym", json!({"plaintext": plaintext}));
    assert!(
        field(&r, "ciphertext").starts_with("vault:v2:"),
        "{:?}",
        r.json
    );

    // Delete and re-create: the old ciphertext no longer decrypts.
    s.write("transit/keys/sym/config", json!({"deletion_allowed": true}));
    assert_eq!(s.delete("transit/keys/sym").status, 204);
    assert_eq!(s.read("transit/keys/sym").status, 404);
    s.write("transit/keys/sym", json!({}));
    let r = s.write("transit/decrypt/sym", json!({"ciphertext": old_ciphertext}));
    assert_eq!(
        r.status, 400,
        "a new key must not open the old one's ciphertext: {:?}",
        r.json
    );

    // Restore over a rotated signing key: the backup's version 1 is back,
    // and the signature made before still verifies; a signature made by the
    // rotated key's version 2 does not survive the restore.
    s.write("transit/keys/ec/rotate", json!({}));
    let v2_signature = field(
        &s.write("transit/sign/ec", json!({"input": plaintext})),
        "signature",
    );
    assert!(v2_signature.starts_with("vault:v2:"));
    let r = s.write(
        "transit/restore/ec",
        json!({"backup": backup_of_ec, "force": true}),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    assert_eq!(s.read("transit/keys/ec").data("latest_version"), 1);
    let r = s.write(
        "transit/verify/ec",
        json!({"input": plaintext, "signature": old_signature}),
    );
    assert_eq!(r.data("valid"), true, "{:?}", r.json);
    let r = s.write(
        "transit/verify/ec",
        json!({"input": plaintext, "signature": v2_signature}),
    );
    assert_ne!(r.data("valid"), true, "{:?}", r.json);
}
