//! The web UI's files on the real binary: served in dev mode and with
//! `ui = true`, `/` and `/ui` redirected there as Vault does, and Go's
//! plain 404 for all of it when the UI is off. The UI itself is tested in
//! a real browser by tests/ui/run.

mod common;

use common::{listener_config, temp_dir, Server};

struct Page {
    status: u16,
    location: Option<String>,
    content_type: String,
    policy: Option<String>,
    body: String,
}

fn get(server: &Server, path: &str) -> Page {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client
        .get(format!("http://{}{path}", server.addr))
        .send()
        .expect("request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Page {
        status: response.status().as_u16(),
        location: header("location"),
        content_type: header("content-type").unwrap_or_default(),
        policy: header("content-security-policy"),
        body: response.text().expect("body"),
    }
}

#[test]
fn dev_mode_serves_the_ui_and_redirects_the_root_to_it() {
    let server = Server::dev();
    for path in ["/", "/ui"] {
        let page = get(&server, path);
        assert_eq!(
            (page.status, page.location.as_deref()),
            (307, Some("/ui/")),
            "{path}"
        );
        assert_eq!(page.body, "<a href=\"/ui/\">Temporary Redirect</a>.\n\n");
    }
    let index = get(&server, "/ui/");
    assert_eq!(index.status, 200);
    assert_eq!(index.content_type, "text/html; charset=utf-8");
    assert!(index
        .body
        .contains("<script type=\"module\" src=\"/ui/app.js\">"));
    let policy = index.policy.expect("a content security policy");
    assert!(policy.contains("script-src 'self'") && policy.contains("style-src 'self'"));
    assert!(!policy.contains("unsafe"), "{policy}");
    let script = get(&server, "/ui/api.js");
    assert_eq!(script.content_type, "text/javascript; charset=utf-8");
    assert!(script.body.contains("sessionStorage"));
    // Other paths outside /v1 stay Vault's JSON 404.
    let other = get(&server, "/foo/bar");
    assert_eq!(
        (other.status, other.body.as_str()),
        (404, "{\"errors\":[]}")
    );
    server.stop();
}

#[test]
fn a_config_file_serves_the_ui_only_with_ui_true() {
    let dir = temp_dir("ui-off");
    let off = Server::with_config(&dir, &listener_config(""));
    for path in ["/", "/ui", "/ui/", "/ui/app.js"] {
        let page = get(&off, path);
        assert_eq!(
            (page.status, page.body.as_str(), page.content_type.as_str()),
            (404, "404 page not found\n", "text/plain; charset=utf-8"),
            "{path}"
        );
    }
    off.stop();
    let on = Server::with_config(&dir, &format!("ui = true\n{}", listener_config("")));
    assert_eq!(get(&on, "/").status, 307);
    assert_eq!(get(&on, "/ui/").status, 200);
    on.stop();
    let _ = std::fs::remove_dir_all(dir);
}
