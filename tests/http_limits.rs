//! What one client can make the HTTP layer spend: JSON bodies are held to
//! Vault's and OpenBao's complexity limits before they are parsed (and
//! before the token is checked), form bodies and request heads to Go's
//! limits, and connections that send nothing cannot keep others out.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{health_status, listener_config, Server, ROOT};
use serde_json::json;

const TOO_MANY_STRINGS: &str =
    "refused JSON input due to high complexity: exceeded maximum number of strings";

/// `{"a":[item,item,…]}` with `n` items.
fn array_body(item: &str, n: usize) -> Vec<u8> {
    format!("{{\"a\":[{}]}}", vec![item; n].join(",")).into_bytes()
}

/// The server's peak resident memory so far, in KiB.
fn peak_rss_kib(server: &Server) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.pid())).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_body_of_millions_of_strings_is_refused_before_it_is_built() {
    let s = Server::dev();
    let before = peak_rss_kib(&s);
    // 26 MiB, under the 32 MiB size limit: 7 million one-letter strings,
    // which take gigabytes once parsed. No token: refused before the
    // token is looked at, as OpenBao does.
    let body = array_body("\"a\"", 7_000_000);
    let r = s.send("PUT", "secret/data/x", None, Some(body.clone()));
    assert_eq!(r.status, 400, "{:?}", r.json);
    assert_eq!(r.errors(), [TOO_MANY_STRINGS]);
    let r = s.send("PUT", "secret/data/x", Some(ROOT), Some(body));
    assert_eq!(r.errors(), [TOO_MANY_STRINGS]);
    let grown_mib = (peak_rss_kib(&s) - before) / 1024;
    assert!(
        grown_mib < 200,
        "two 26 MiB requests raised the peak memory by {grown_mib} MiB"
    );
}

#[test]
fn openbaos_limits_apply_by_default() {
    let s = Server::dev();
    // One key and 999 values are 1000 strings, the default limit.
    let r = s.send(
        "PUT",
        "cubbyhole/x",
        Some(ROOT),
        Some(array_body("\"a\"", 999)),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.send(
        "PUT",
        "cubbyhole/x",
        Some(ROOT),
        Some(array_body("\"a\"", 1000)),
    );
    assert_eq!(r.errors(), [TOO_MANY_STRINGS]);
    // A token request with 200k policies and 50k metadata entries.
    let policies: Vec<String> = (0..200_000).map(|i| format!("p{i}")).collect();
    let meta: serde_json::Map<String, serde_json::Value> =
        (0..50_000).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = s.write(
        "auth/token/create",
        json!({"policies": policies, "meta": meta}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.errors(), [TOO_MANY_STRINGS]);
    assert!(r.json["auth"].is_null());
}

#[test]
fn a_token_less_request_gets_the_answer_it_would_get_after_parsing() {
    let s = Server::dev();
    // Refused bodies are refused as such; acceptable ones meet the 403.
    for (body, status) in [
        (&b"{bad"[..], 400),
        (b"[1]", 400),
        (b"{\"data\":{\"a\":1}}", 403),
        (b"null", 403),
    ] {
        let r = s.send("PUT", "secret/data/x", None, Some(body.to_vec()));
        assert_eq!(r.status, status, "{:?}: {:?}", body, r.json);
    }
    // Paths that need no token still get their data.
    assert_eq!(
        s.write("sys/auth/approle", json!({"type": "approle"}))
            .status,
        204
    );
    let login = |body: &[u8]| s.send("PUT", "auth/approle/login", None, Some(body.to_vec()));
    assert_eq!(login(b"{}").errors(), ["missing role_id"]);
    assert_eq!(
        login(b"{\"role_id\":\"nope\"}").errors(),
        ["invalid role or secret ID"]
    );
}

#[test]
fn the_limits_are_listener_options() {
    let dir = common::temp_dir("jsonlimits");
    let s = Server::with_config(
        &dir,
        &listener_config(
            "  max_request_size = 2048\n  max_request_json_memory = 1500\n  max_request_json_strings = -1\n  max_json_array_element_count = 50",
        ),
    );
    let r = s.send("PUT", "sys/init", None, Some(array_body("{}", 20)));
    assert_eq!(
        r.errors(),
        ["refused JSON input due to high complexity: exceeded maximum estimated memory limits"]
    );
    let r = s.send("PUT", "sys/init", None, Some(array_body("1", 51)));
    assert_eq!(r.errors(), ["JSON array exceeds allowed element count"]);
    // No string limit here: 40 strings are fine (and the body reaches
    // sys/init, which wants its parameters).
    let r = s.send("PUT", "sys/init", None, Some(array_body("\"a\"", 40)));
    assert_eq!(r.status, 400);
    assert!(!r.errors()[0].contains("JSON"), "{:?}", r.errors());
    let r = s.send("PUT", "sys/init", None, Some(vec![b' '; 4096]));
    assert_eq!(r.status, 413);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_form_body_has_at_most_ten_thousand_parameters() {
    let s = Server::dev();
    let form = |n: usize| vec!["k=v"; n].join("&");
    let send = |body: String| {
        s.send_with_headers(
            "PUT",
            "cubbyhole/x",
            Some(ROOT),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(body.into_bytes()),
        )
    };
    assert_eq!(send(form(10_000)).status, 204);
    let r = send(form(10_001));
    assert_eq!(r.status, 400);
    assert_eq!(r.errors(), ["error parsing form data"]);
}

/// Sends a raw HTTP/1.1 request and returns the status line.
fn raw_status_line(addr: &str, head: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(head.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn request_heads_are_held_to_gos_limits() {
    let s = Server::dev();
    let request = |fields: usize, value_len: usize| {
        let headers: String = (0..fields)
            .map(|i| format!("X-H{i}: {}\r\n", "v".repeat(value_len)))
            .collect();
        raw_status_line(
            &s.addr,
            &format!(
                "GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
            ),
        )
    };
    // 500 header fields in all, and a 900 KiB one, are within Go's limits.
    assert_eq!(request(498, 1), "HTTP/1.1 200 OK");
    assert_eq!(request(1, 900 * 1024), "HTTP/1.1 200 OK");
    assert_eq!(
        request(499, 1),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_eq!(
        request(1, 1100 * 1024),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

/// Opens a connection that sends one keep-alive request, reads the answer
/// and then stays open, idle.
fn keep_alive_after_one_request(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .write_all(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.ends_with(b"}") {
        let n = stream.read(&mut buf).expect("answer");
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&buf[..n]);
    }
    stream
}

#[test]
fn idle_connections_cannot_keep_a_new_one_out() {
    let dir = common::temp_dir("idleslots");
    // The header timeout (which would free an idle slot) is far longer
    // than the client waits.
    let s = Server::with_config(
        &dir,
        &listener_config("  http_read_header_timeout = \"60s\"\n  max_connections = 4"),
    );
    let mut idle: Vec<TcpStream> = (0..6)
        .map(|_| TcpStream::connect(&s.addr).expect("connect"))
        .collect();
    idle.extend((0..6).map(|_| keep_alive_after_one_request(&s.addr)));
    for _ in 0..3 {
        assert_eq!(health_status(&s.addr), 501, "a new client was kept out");
    }
    drop(idle);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn busy_connections_hold_the_cap() {
    let dir = common::temp_dir("busyslots");
    let s = Server::with_config(&dir, &listener_config("  max_connections = 2"));
    // Two requests whose bodies are still on their way keep both slots.
    let mut busy: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(&s.addr).expect("connect");
            stream
                .write_all(b"PUT /v1/sys/init HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{")
                .expect("head");
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let waiting = {
        let addr = s.addr.clone();
        std::thread::spawn(move || health_status(&addr))
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(!waiting.is_finished(), "a third connection was served");
    // One request completes: its connection goes idle and gives way.
    busy[0].write_all(b"}").expect("rest of the body");
    assert_eq!(waiting.join().expect("health"), 501);
    drop(busy);
    let _ = std::fs::remove_dir_all(dir);
}
