//! vaultlet with `storage "postgresql"` on a real PostgreSQL server
//! (started by `tests/postgres/run`, which sets `VAULTLET_TEST_POSTGRES_URL`;
//! ignored by a plain `cargo test`, failing without the variable).
//!
//! The server reaches PostgreSQL through a TCP relay the test controls, so
//! the database can be made unreachable and reachable again while vaultlet
//! runs.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::postgres::{postgres_url, with_client, Relay};
use common::{Server, LISTEN};
use serde_json::json;

fn config(url: &str, table: &str) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\n\
         storage \"postgresql\" {{\n  connection_url = \"{url}\"\n  table = \"{table}\"\n  max_parallel = \"8\"\n}}\n\
         seal \"static\" {{\n  current_key = \"{}\"\n}}\n",
        "7c".repeat(32)
    )
}

fn ok(reply: common::Reply) -> common::Reply {
    assert!(reply.status < 300, "{} {:?}", reply.status, reply.json);
    reply
}

/// Every value in the table, straight from PostgreSQL.
fn stored_values(table: &str) -> Vec<Vec<u8>> {
    with_client(|client| async move {
        client
            .query(&format!("SELECT value FROM \"{table}\""), &[])
            .await
            .expect("select")
            .iter()
            .map(|row| row.get(0))
            .collect()
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The PKI flow on PostgreSQL: data is barrier-encrypted in the table and
/// still there after a restart.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn pki_on_postgresql_survives_a_restart_and_stores_only_ciphertext() {
    let dir = common::temp_dir("postgres-pki");
    let table = common::unique_name("e2e");
    let hcl = config(&postgres_url(), &table);
    let mut server = Server::with_config(&dir, &hcl);
    let init = server.send("PUT", "sys/init", None, Some(b"{}".to_vec()));
    assert_eq!(init.status, 200, "{:?}", init.json);
    let root = init.json["root_token"].as_str().expect("root").to_string();
    server.root_token = root.clone();
    let status = server.read("sys/seal-status");
    assert_eq!(status.json["storage_type"], "postgresql");
    server.pki_with_web_role("PostgreSQL Root", "plaintext-marker.example");
    let issued = ok(server.write(
        "pki/issue/web",
        json!({"common_name":"www.plaintext-marker.example"}),
    ));
    let serial = issued
        .data("serial_number")
        .as_str()
        .expect("serial")
        .to_string();
    let certificate = issued
        .data("certificate")
        .as_str()
        .expect("cert")
        .to_string();

    let values = stored_values(&table);
    assert!(values.len() > 10, "only {} rows", values.len());
    for value in &values {
        for plaintext in [&b"plaintext-marker"[..], b"BEGIN", b"allowed_domains"] {
            assert!(
                !contains(value, plaintext),
                "a stored value holds plaintext {:?}",
                String::from_utf8_lossy(plaintext)
            );
        }
    }

    server.stop();
    let mut again = Server::with_config(&dir, &hcl);
    again.root_token = root;
    let fetched = ok(again.read(&format!("pki/cert/{serial}")));
    assert_eq!(
        fetched.data("certificate").as_str(),
        Some(certificate.trim())
    );
    let listed = ok(again.list("pki/certs"));
    assert!(listed
        .data("keys")
        .as_array()
        .expect("keys")
        .iter()
        .any(|k| k.as_str() == Some(serial.as_str())));
    ok(again.write(
        "pki/issue/web",
        json!({"common_name":"again.plaintext-marker.example"}),
    ));
    again.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// The server waits for a database that is not reachable yet, answers 503
/// (Vault's error shape, with Retry-After) while it is cut off, and serves
/// again, with everything acknowledged before, once it is back.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn an_unreachable_database_means_503_and_the_server_recovers() {
    let dir = common::temp_dir("postgres-outage");
    let table = common::unique_name("outage");
    // The relay's port is reserved now but the relay only listens later:
    // the server starts while nothing answers there.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut url = url::Url::parse(&postgres_url()).expect("URL");
    url.set_port(Some(port)).expect("port");
    let hcl = config(url.as_str(), &table);
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        Relay::start_on(TcpListener::bind(("127.0.0.1", port)).expect("rebind"))
    });
    let started = Instant::now();
    let mut server = Server::with_config(&dir, &hcl);
    let relay = late.join().expect("relay");
    assert_eq!(relay.url(), url.to_string());
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the server announced itself before its database was reachable"
    );

    let init = server.send("PUT", "sys/init", None, Some(b"{}".to_vec()));
    assert_eq!(init.status, 200, "{:?}", init.json);
    server.root_token = init.json["root_token"].as_str().expect("root").to_string();
    ok(server.write(
        "sys/mounts/secret",
        json!({"type":"kv","options":{"version":"1"}}),
    ));
    ok(server.write("secret/before", json!({"v":"1"})));

    relay.cut();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let write = http
        .put(server.url("secret/during"))
        .header("X-Vault-Token", &server.root_token)
        .body(r#"{"v":"2"}"#)
        .send()
        .expect("an answer while the database is cut off");
    assert_eq!(write.status().as_u16(), 503);
    assert_eq!(
        write
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = write.json().expect("JSON");
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .as_str()
            .expect("text")
            .contains("storage unavailable"),
        "{body}"
    );

    relay.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let read = server.read("secret/before");
        if read.status == 200 {
            assert_eq!(read.data("v"), "1");
            break;
        }
        assert_eq!(read.status, 503, "{:?}", read.json);
        assert!(
            Instant::now() < deadline,
            "never recovered: {:?}",
            read.json
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    ok(server.write("secret/after", json!({"v":"3"})));
    assert_eq!(server.read("secret/after").data("v"), "3");
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// Rows in the table, straight from PostgreSQL.
fn row_count(table: &str) -> usize {
    stored_values(table).len()
}

/// A snapshot of a PostgreSQL store (one REPEATABLE READ transaction) is
/// restored in one transaction: the table then holds exactly the
/// snapshot's rows. With the database cut off the restore is a 503 and
/// changes nothing; the server serves on as before.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn a_snapshot_restores_a_postgresql_store_in_one_transaction() {
    use vaultlet::storage::snapshot::decode;
    const SNAPSHOT: &str = "sys/storage/raft/snapshot";
    let dir = common::temp_dir("postgres-snapshot");
    let table = common::unique_name("snapshot");
    let relay = Relay::start();
    let mut server = Server::with_config(&dir, &config(&relay.url(), &table));
    let init = server.send("PUT", "sys/init", None, Some(b"{}".to_vec()));
    assert_eq!(init.status, 200, "{:?}", init.json);
    server.root_token = init.json["root_token"].as_str().expect("root").to_string();
    ok(server.write("sys/mounts/kv", json!({"type": "kv"})));
    ok(server.write("kv/a", json!({"v": "1"})));

    let taken = ok(server.read(SNAPSHOT));
    let snapshot = decode(&taken.raw).expect("a valid snapshot");
    assert_eq!(snapshot.header.storage_type, "postgresql");
    assert_eq!(snapshot.records.len(), row_count(&table));
    assert!(snapshot.records.contains_key("seal/keyring"));

    ok(server.write("kv/a", json!({"v": "2"})));
    ok(server.write("kv/b", json!({"v": "3"})));
    assert_ne!(row_count(&table), snapshot.records.len());

    relay.cut();
    let cut = server.send(
        "POST",
        SNAPSHOT,
        Some(&server.root_token),
        Some(taken.raw.clone()),
    );
    assert_eq!(cut.status, 503, "{:?}", cut.json);
    relay.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let read = server.read("kv/a");
        if read.status == 200 {
            assert_eq!(read.data("v"), "2", "the failed restore changed nothing");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never recovered: {:?}",
            read.json
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let restored = server.send("POST", SNAPSHOT, Some(&server.root_token), Some(taken.raw));
    assert_eq!(restored.status, 204, "{:?}", restored.json);
    assert_eq!(server.read("kv/a").data("v"), "1");
    assert_eq!(server.read("kv/b").status, 404);
    assert_eq!(row_count(&table), snapshot.records.len());
    let mut stored = stored_values(&table);
    let mut expected: Vec<Vec<u8>> = snapshot.records.into_values().collect();
    stored.sort();
    expected.sort();
    assert_eq!(
        stored, expected,
        "the table holds the snapshot's records as they were"
    );

    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

fn redb_config(dir: &std::path::Path) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\n\
         storage \"raft\" {{\n  path = \"{}\"\n}}\n\
         seal \"static\" {{\n  current_key = \"{}\"\n}}\n",
        dir.display(),
        "7c".repeat(32)
    )
}

/// `vaultlet operator migrate -config FILE`: (exit code, stdout, stderr).
fn migrate(dir: &std::path::Path, source: &str, destination: &str) -> (i32, String, String) {
    let file = dir.join("migrate.hcl");
    std::fs::write(
        &file,
        format!("storage_source {source}\nstorage_destination {destination}\n"),
    )
    .expect("write");
    let out = std::process::Command::new(common::binary())
        .args([
            "operator",
            "migrate",
            &format!("-config={}", file.display()),
        ])
        .output()
        .expect("run migrate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// redb → PostgreSQL → redb with `operator migrate`: each store serves the
/// same PKI data, unsealed by the same key, and a non-empty destination is
/// refused.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn migrate_moves_a_store_between_redb_and_postgresql() {
    let dir = common::temp_dir("postgres-migrate");
    let first = dir.join("first");
    let mut server = Server::with_config(&dir, &redb_config(&first));
    let init = server.send("PUT", "sys/init", None, Some(b"{}".to_vec()));
    assert_eq!(init.status, 200, "{:?}", init.json);
    let root = init.json["root_token"].as_str().expect("root").to_string();
    server.root_token = root.clone();
    ok(server.write("sys/mounts/pki", json!({"type":"pki"})));
    ok(server.write(
        "pki/root/generate/internal",
        json!({"common_name":"Migrated Root","key_type":"ec","ttl":"8760h"}),
    ));
    ok(server.write("pki/roles/web", json!({"allow_any_name":true,"ttl":"1h"})));
    let issued = ok(server.write("pki/issue/web", json!({"common_name":"m.example"})));
    let serial = issued
        .data("serial_number")
        .as_str()
        .expect("serial")
        .to_string();
    server.stop();

    let table = common::unique_name("migrated");
    let redb = |path: &std::path::Path| format!("\"raft\" {{ path = \"{}\" }}", path.display());
    let postgres = format!(
        "\"postgresql\" {{\n connection_url = \"{}\"\n table = \"{table}\"\n}}",
        postgres_url()
    );
    let (code, out, err) = migrate(&dir, &redb(&first), &postgres);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Success! All of the keys have been migrated."),
        "{out}"
    );
    assert!(out.contains("Verified: "), "{out}");
    assert!(err.contains("copied key: path=core/"), "{err}");
    let (code, _, err) = migrate(&dir, &redb(&first), &postgres);
    assert_eq!(code, 2, "a second migration into the same table: {err}");
    assert!(
        err.contains("the destination storage is not empty"),
        "{err}"
    );

    let mut on_postgres = Server::with_config(&dir, &config(&postgres_url(), &table));
    on_postgres.root_token = root.clone();
    ok(on_postgres.read(&format!("pki/cert/{serial}")));
    ok(on_postgres.write("pki/issue/web", json!({"common_name":"pg.example"})));
    on_postgres.stop();

    let second = dir.join("second");
    let (code, out, err) = migrate(&dir, &postgres, &redb(&second));
    assert_eq!(code, 0, "{out}{err}");
    let mut back = Server::with_config(&dir, &redb_config(&second));
    back.root_token = root;
    ok(back.read(&format!("pki/cert/{serial}")));
    let listed = ok(back.list("pki/certs"));
    assert_eq!(listed.data("keys").as_array().map(Vec::len), Some(3));
    back.stop();
    let _ = std::fs::remove_dir_all(dir);
}
