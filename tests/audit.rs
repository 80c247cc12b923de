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
