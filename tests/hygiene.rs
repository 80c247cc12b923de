//! Bad input and faults: slow clients cannot exhaust the server, deep or
//! huge JSON is refused with a 4xx, a corrupted data file
//! stops the server at start with a clear error, and a full disk fails
//! writes while reads keep working.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{health_status, listener_config, Server, LISTEN};
use serde_json::{json, Value};

/// Sends `bytes` one at a time, `gap` apart, until done or the server
/// closes the connection; returns whether the server closed it.
fn trickle(stream: &mut TcpStream, bytes: &[u8], gap: Duration) -> bool {
    for b in bytes {
        if stream.write_all(&[*b]).is_err() {
            return true;
        }
        std::thread::sleep(gap);
    }
    false
}

/// True once the server has closed `stream` (EOF or reset) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {} // a 408/400 answer before the close is fine
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn slowloris_clients_do_not_block_others_and_are_cut_off() {
    let dir = common::temp_dir("slowloris");
    let server = Server::with_config(
        &dir,
        &listener_config("  http_read_header_timeout = \"2s\"\n  max_connections = 64"),
    );
    let addr = server.addr.clone();
    let started = Instant::now();
    // Three kinds of slow client: HTTP/1 headers byte by byte, an HTTP/2
    // preface byte by byte (before hyper has picked a protocol), and one
    // that connects and sends nothing.
    let mut slow = Vec::new();
    for payload in [
        &b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"[..],
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
        &b""[..],
    ] {
        for _ in 0..3 {
            let mut stream = TcpStream::connect(&addr).expect("connect");
            let payload = payload.to_vec();
            slow.push(std::thread::spawn(move || {
                let cut_while_sending = trickle(&mut stream, &payload, Duration::from_millis(150));
                cut_while_sending || closed_within(&mut stream, Duration::from_secs(8))
            }));
        }
    }
    // Meanwhile normal requests are served promptly.
    for _ in 0..10 {
        let t = Instant::now();
        assert_eq!(
            health_status(&addr),
            501,
            "sys/health while slow clients hang on"
        );
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "a normal request waited {:?}",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for handle in slow {
        assert!(
            handle.join().expect("slow client"),
            "a slow client was never cut off"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "slow clients held on for {:?}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_slow_request_body_is_cut_off_with_a_400() {
    let dir = common::temp_dir("slowbody");
    let server = Server::with_config(&dir, &listener_config("  http_read_timeout = \"2s\""));
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream
        .write_all(b"PUT /v1/sys/init HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{")
        .expect("head");
    let t = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    while t.elapsed() < Duration::from_secs(8) {
        let _ = stream.write_all(b" ");
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 400"),
        "answer to a slow body: {text:?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "cut off after {:?}",
        t.elapsed()
    );
    assert_eq!(health_status(&server.addr), 501, "server still serving");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn deep_or_huge_json_is_a_client_error_not_a_crash() {
    let s = Server::dev();
    // serde_json's recursion limit (128) refuses this with a 400.
    let depth = 100_000;
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    let r = s.send(
        "PUT",
        "sys/policy/deep",
        Some(common::ROOT),
        Some(deep.into_bytes()),
    );
    assert_eq!(r.status, 400, "{:?}", r.json);
    assert!(
        r.errors()[0].contains("recursion limit"),
        "{:?}",
        r.errors()
    );
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let r = s.send(
        "PUT",
        "pki/roles/x",
        Some(common::ROOT),
        Some(deep_obj.into_bytes()),
    );
    assert_eq!(r.status, 400, "{:?}", r.json);
    // Deep nesting inside a policy's HCL text (a JSON string, so no JSON
    // limit applies) is refused by the policy parser's own limit.
    for text in [
        format!(
            "path \"a\" {{ capabilities = {}\"read\"{} }}",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
        format!(
            "path \"a\" {{ x = {}1{} }}",
            "{a = ".repeat(depth),
            "}".repeat(depth)
        ),
        "path \"a\" { ".repeat(depth),
        format!(
            "{{\"path\":{{\"a\":{}1{}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    ] {
        let r = s.write("sys/policy/deep", json!({ "policy": text }));
        assert_eq!(r.status, 400, "{:?}", r.json);
    }
    // Over Vault's 32 MiB: 413.
    let huge = vec![b' '; 33 * 1024 * 1024];
    let r = s.send("PUT", "sys/policy/huge", Some(common::ROOT), Some(huge));
    assert_eq!(r.status, 413);
    // A fresh connection: the server closes the one whose body it refused
    // to read, and a pooled client may race that close.
    let health = reqwest::blocking::get(s.url("sys/health")).expect("request sent");
    assert_eq!(health.status().as_u16(), 200, "still serving");
}

/// Runs `vaultlet server -config` expecting it to exit on its own; returns
/// (exit success, combined output).
fn run_to_exit(config: &Path) -> (bool, String) {
    let mut child = Command::new(common::binary())
        .arg("server")
        .arg(format!("-config={}", config.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vaultlet");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_string(&mut out);
            }
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut out);
            }
            return (status.success(), out);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vaultlet kept running on a corrupted data file");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_corrupted_data_file_stops_the_server_with_a_clear_error() {
    let dir = common::temp_dir("corrupt");
    let s = Server::durable(&dir);
    let init = s.send(
        "PUT",
        "sys/init",
        None,
        Some(br#"{"secret_shares":1,"secret_threshold":1}"#.to_vec()),
    );
    assert_eq!(init.status, 200, "{:?}", init.json);
    s.stop();
    let file = dir.join("data").join("vaultlet.redb");
    // The data directory and file are the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&dir.join("data")), 0o700, "data directory mode");
    assert_eq!(mode(&file), 0o600, "data file mode");
    let mut bytes = std::fs::read(&file).expect("data file");
    for (i, b) in bytes.iter_mut().enumerate().take(4096) {
        *b = (i as u8).wrapping_mul(31) ^ 0xa5;
    }
    std::fs::write(&file, &bytes).expect("corrupt it");
    let (ok, out) = run_to_exit(&dir.join("server.hcl"));
    assert!(!ok, "started on garbage: {out}");
    assert!(
        out.contains("vaultlet.redb") && out.to_lowercase().contains("storage"),
        "the error should name the storage file: {out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A tmpfs of `size` mounted at a fresh directory, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = common::temp_dir("fulldisk");
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_full_disk_fails_writes_and_keeps_serving_reads() {
    let Some(disk) = SmallDisk::mount("8m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let hcl = format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\nstorage \"raft\" {{\n  path = \"{}\"\n}}\nseal \"static\" {{\n  current_key = \"{}\"\n}}\n",
        disk.0.join("data").display(),
        "7e".repeat(32)
    );
    let config_dir = common::temp_dir("fulldisk-config");
    let mut s = Server::with_config(&config_dir, &hcl);
    let init = s.send("PUT", "sys/init", None, Some(b"{}".to_vec()));
    assert_eq!(init.status, 200, "{:?}", init.json);
    s.root_token = init.json["root_token"].as_str().expect("root").to_string();
    let policy = |i: usize| {
        format!(
            "path \"p{i}/*\" {{ capabilities = [\"read\"] }}\n# {}",
            "x".repeat(2000)
        )
    };
    for i in 0..5 {
        assert_eq!(
            s.write(
                &format!("sys/policies/acl/keep{i}"),
                json!({"policy": policy(i)})
            )
            .status,
            204
        );
    }
    // Fill the disk, then write until a write fails.
    let filler = disk.0.join("filler");
    {
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let mut failed = None;
    for i in 0..2000 {
        let r = s.write(
            &format!("sys/policies/acl/fill{i}"),
            json!({"policy": policy(i)}),
        );
        if r.status != 204 {
            failed = Some((i, r));
            break;
        }
    }
    let (failed_at, failed) = failed.expect("a write on a full disk should fail");
    assert_eq!(failed.status, 500, "{:?}", failed.json);
    // Reads keep working, and return what was written before.
    for i in 0..5 {
        let r = s.read(&format!("sys/policies/acl/keep{i}"));
        assert_eq!(r.status, 200, "read after the disk filled up: {:?}", r.json);
        assert_eq!(r.data("policy"), &Value::String(policy(i)));
    }
    assert_eq!(s.send("GET", "sys/health", None, None).status, 200);
    // redb refuses further writes after an I/O error until the file is
    // reopened: with space again, a restart makes the server writable.
    std::fs::remove_file(&filler).expect("free space");
    s.kill();
    // Nothing half-written: a restart reads everything back, and writes.
    let mut again = Server::with_config(&config_dir, &hcl);
    again.root_token = init.json["root_token"].as_str().expect("root").to_string();
    for i in 0..5 {
        let r = again.read(&format!("sys/policies/acl/keep{i}"));
        assert_eq!(
            r.data("policy"),
            &Value::String(policy(i)),
            "keep{i} after restart"
        );
    }
    let lost = again.read(&format!("sys/policies/acl/fill{failed_at}"));
    assert_eq!(
        lost.status, 404,
        "the failed write must not have landed: {:?}",
        lost.json
    );
    let r = again.write("sys/policies/acl/after", json!({"policy": policy(0)}));
    assert_eq!(
        r.status, 204,
        "write after freeing space and restarting: {:?}",
        r.json
    );
    assert_eq!(again.read("sys/policies/acl/after").status, 200);
    again.kill();
    let _ = std::fs::remove_dir_all(config_dir);
    drop(disk);
}
