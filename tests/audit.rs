//! Audit devices: every request and response is recorded as a JSON line,
//! with tokens and data values HMAC'd under the device's key; a request
//! that cannot be audited does not happen.

mod common;

use std::os::fd::AsRawFd;

use common::Server;
use serde_json::{json, Value};

#[test]
fn a_file_device_records_requests_and_responses_with_secrets_hashed() {
    let s = Server::dev();
    let dir = common::temp_dir("audit");
    let log = dir.join("audit.log");
    let enable = s.write(
        "sys/audit/file",
        json!({"type": "file", "options": {"file_path": log.display().to_string()}}),
    );
    assert_eq!(enable.status, 204, "{:?}", enable.json);
    let listed = s.read("sys/audit");
    assert_eq!(listed.data("file/")["type"], "file");
    assert_eq!(
        listed.json["file/"]["options"]["file_path"],
        log.display().to_string()
    );

    let created = s.write(
        "auth/token/create",
        json!({"policies": ["default"], "meta": {"team": "secret-team"}}),
    );
    let token = created.json["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();

    let text = std::fs::read_to_string(&log).expect("audit log");
    assert!(!text.contains(&token), "issued token in clear");
    assert!(!text.contains("secret-team"), "request data in clear");
    let mut entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let test_message = entries.remove(0);
    assert_eq!(
        test_message["request"]["path"], "sys/audit/test",
        "a new device first records Vault's test message"
    );
    let create_response = entries
        .iter()
        .find(|e| e["type"] == "response" && e["request"]["path"] == "auth/token/create")
        .expect("response entry");
    let hashed_token = create_response["response"]["auth"]["client_token"]
        .as_str()
        .expect("hashed token");
    assert!(hashed_token.starts_with("hmac-sha256:"));
    assert!(entries
        .iter()
        .any(|e| e["type"] == "request" && e["request"]["operation"] == "update"));
    assert!(entries.iter().all(|e| e["request"]["client_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("hmac-sha256:"))));

    // sys/audit-hash reproduces the device's hash.
    let hash = s.write("sys/audit-hash/file", json!({"input": token}));
    assert_eq!(hash.data("hash"), hashed_token);

    assert_eq!(s.delete("sys/audit/file").status, 204);
    assert!(s.read("sys/audit").json["data"]
        .as_object()
        .is_some_and(|d| d.is_empty()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_request_that_cannot_be_audited_fails() {
    let s = Server::dev();
    let bad = s.write(
        "sys/audit/nowhere",
        json!({"type": "file", "options": {"file_path": "/nonexistent-dir/audit.log"}}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        s.write(
            "sys/audit/sock",
            json!({"type": "socket", "options": {"address": "x"}})
        )
        .status,
        400
    );
    // /dev/full opens, but every write fails: the device is not enabled
    // (it would fail every later request), as Vault's test message finds.
    let full = s.write(
        "sys/audit/full",
        json!({"type": "file", "options": {"file_path": "/dev/full"}}),
    );
    assert_eq!(full.status, 400, "{:?}", full.json);
    assert!(full.errors()[0].starts_with("audit backend failed test message"));
    assert_eq!(s.read("sys/mounts").status, 200);

    // A device that fails after it was enabled (the pipe's reader goes
    // away, as a disk may fill up): requests are refused.
    let (reader, writer) = std::io::pipe().expect("pipe");
    let path = format!("/proc/{}/fd/{}", std::process::id(), writer.as_raw_fd());
    let enabled = s.write(
        "sys/audit/pipe",
        json!({"type": "file", "options": {"file_path": path}}),
    );
    assert_eq!(enabled.status, 204, "{:?}", enabled.json);
    drop(reader);
    let refused = s.read("sys/mounts");
    assert_eq!(refused.status, 500);
    assert_eq!(
        s.send("GET", "sys/health", None, None).status,
        200,
        "status endpoints are not audited"
    );
}

/// Two devices writing one file (an operator's mistake Vault tolerates):
/// each record is one line of its own, however many requests run at once.
#[test]
fn devices_sharing_a_file_never_interleave_records() {
    let s = Server::dev();
    let dir = common::temp_dir("audit-shared");
    let log = dir.join("audit.log");
    for device in ["one", "two"] {
        let enable = s.write(
            &format!("sys/audit/{device}"),
            json!({"type": "file", "options": {"file_path": log.display().to_string()}}),
        );
        assert_eq!(enable.status, 204, "{:?}", enable.json);
    }
    let writers = 3;
    let requests = 150;
    std::thread::scope(|scope| {
        for writer in 0..writers {
            let s = &s;
            scope.spawn(move || {
                for i in 0..requests {
                    let reply = s.write(
                        &format!("secret/data/w{writer}/k{i}"),
                        json!({"data": {"value": "x".repeat(200)}}),
                    );
                    assert_eq!(reply.status, 200, "{:?}", reply.json);
                }
            });
        }
    });
    let text = std::fs::read_to_string(&log).expect("audit log");
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not one record: {line}")))
        .collect();
    // A request and a response record per write, on each device.
    let writes = records
        .iter()
        .filter(|r| {
            r["request"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("secret/data/w"))
        })
        .count();
    assert_eq!(writes, 2 * 2 * writers * requests);
    let _ = std::fs::remove_dir_all(dir);
}

/// `sys/config/auditing/request-headers`: configured headers appear in
/// every record of a request, lowercased, values as arrays, HMAC'd when
/// asked (also on a `log_raw` device); the token never does.
#[test]
fn configured_request_headers_are_recorded_and_hmacd_when_asked() {
    let s = Server::dev();
    let dir = common::temp_dir("audit-headers");
    let log = dir.join("audit.log");
    let raw_log = dir.join("raw.log");
    for (device, path, raw) in [("file", &log, "false"), ("raw", &raw_log, "true")] {
        let enable = s.write(
            &format!("sys/audit/{device}"),
            json!({"type": "file", "options": {"file_path": path.display().to_string(), "log_raw": raw}}),
        );
        assert_eq!(enable.status, 204, "{:?}", enable.json);
    }
    let listed = s.read("sys/config/auditing/request-headers");
    assert_eq!(listed.status, 200);
    assert_eq!(listed.data("headers"), &json!({}));
    assert_eq!(listed.json["headers"], json!({}), "legacy top-level copy");

    let set = |name: &str, body: Value| {
        s.write(&format!("sys/config/auditing/request-headers/{name}"), body)
    };
    assert_eq!(set("X-Secret", json!({"hmac": true})).status, 204);
    assert_eq!(set("x-plain", json!({})).status, 204);
    assert_eq!(set("x-vault-token", json!({"hmac": "1"})).status, 204);
    assert_eq!(set("x-gone", json!({"hmac": false})).status, 204);
    let bad = set("x-plain", json!({"hmac": "maybe"}));
    assert_eq!(bad.status, 400);
    assert!(bad.errors()[0].contains("strconv.ParseBool: invalid syntax"));
    assert_eq!(
        s.delete("sys/config/auditing/request-headers/X-GONE")
            .status,
        204
    );
    assert_eq!(
        s.delete("sys/config/auditing/request-headers/never-set")
            .status,
        204
    );
    assert_eq!(
        s.read("sys/config/auditing/request-headers")
            .data("headers"),
        &json!({
            "x-plain": {"hmac": false},
            "x-secret": {"hmac": true},
            "x-vault-token": {"hmac": true},
        })
    );
    let one = s.read("sys/config/auditing/request-headers/X-SECRET");
    assert_eq!(one.json["data"], json!({"X-SECRET": {"hmac": true}}));
    let missing = s.read("sys/config/auditing/request-headers/x-gone");
    assert_eq!(missing.status, 400);
    assert_eq!(missing.errors(), ["Could not find header in config"]);

    let reply = s.send_with_headers(
        "GET",
        "sys/mounts",
        Some(common::ROOT),
        &[
            ("X-Secret", "first"),
            ("x-secret", "second"),
            ("X-Plain", "visible"),
            ("X-Unlisted", "ignored"),
        ],
        None,
    );
    assert_eq!(reply.status, 200);
    let texts: Vec<(&str, String)> = [("file", &log), ("raw", &raw_log)]
        .into_iter()
        .map(|(device, path)| (device, std::fs::read_to_string(path).expect("audit log")))
        .collect();
    let hash = |device: &str, input: &str| {
        s.write(
            &format!("sys/audit-hash/{device}"),
            json!({ "input": input }),
        )
        .data("hash")
        .as_str()
        .expect("hash")
        .to_string()
    };
    for (device, text) in texts {
        assert!(
            !text.contains("\"first\""),
            "hmac'd header in clear: {text}"
        );
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
            .filter(|r| r["request"]["path"] == "sys/mounts")
            .collect();
        assert_eq!(records.len(), 2, "a request and a response record");
        for record in records {
            assert_eq!(
                record["request"]["headers"],
                json!({
                    "x-plain": ["visible"],
                    "x-secret": [hash(device, "first"), hash(device, "second")],
                }),
                "{device}"
            );
        }
    }

    // Configuring headers needs sudo.
    let policy = s.write(
        "sys/policies/acl/headers",
        json!({"policy": "path \"sys/config/auditing/*\" { capabilities = [\"read\", \"update\", \"delete\"] }\npath \"sys/config/auditing/request-headers\" { capabilities = [\"read\"] }"}),
    );
    assert_eq!(policy.status, 204);
    let token = s
        .write("auth/token/create", json!({"policies": ["headers"]}))
        .client_token();
    for (method, path) in [
        ("GET", "sys/config/auditing/request-headers"),
        ("GET", "sys/config/auditing/request-headers/x-plain"),
        ("PUT", "sys/config/auditing/request-headers/x-plain"),
        ("DELETE", "sys/config/auditing/request-headers/x-plain"),
    ] {
        assert_eq!(
            s.call(method, path, &token, None).status,
            403,
            "{method} {path}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
