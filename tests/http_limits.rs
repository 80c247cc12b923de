//! What one client can make the HTTP layer spend: JSON bodies are held to
//! Vault's and OpenBao's complexity limits before they are parsed (and
//! before the token is checked), form bodies to Go's limits.

mod common;

use common::{Server, ROOT};
use serde_json::json;

const TOO_MANY_STRINGS: &str =
    "refused JSON input due to high complexity: exceeded maximum number of strings";

fn listener_config(extra: &str) -> String {
    format!(
        "listener \"tcp\" {{\n  address = \"{{addr}}\"\n  tls_disable = true\n{extra}\n}}\nstorage \"inmem\" {{}}\n"
    )
}

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
