//! The web UI at `/ui/`: plain HTML, CSS and ES modules from `ui/`,
//! embedded in the binary when it is built. The UI is a client of the
//! `/v1` API like any other (same token checks and ACL); this module only
//! hands out its files. Served in dev mode and with `ui = true`, as Vault
//! does; `/` and `/ui` then redirect to `/ui/`.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response as HttpResponse;

use super::response::with_headers;

/// One embedded file.
struct Asset {
    name: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

macro_rules! assets {
    ($($name:literal => $content_type:literal),* $(,)?) => {
        &[$(Asset {
            name: $name,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $name)),
            content_type: $content_type,
        }),*]
    };
}

const HTML: &str = "text/html; charset=utf-8";
const INDEX: &str = "index.html";

static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "x509.js" => "text/javascript; charset=utf-8",
    "views/login.js" => "text/javascript; charset=utf-8",
    "views/status.js" => "text/javascript; charset=utf-8",
    "views/pki.js" => "text/javascript; charset=utf-8",
    "views/certs.js" => "text/javascript; charset=utf-8",
    "views/approle.js" => "text/javascript; charset=utf-8",
    "views/audit.js" => "text/javascript; charset=utf-8",
};

/// Only the UI's own files run, load styles or are fetched; no inline
/// script or style, no forms posted by the browser, no framing. Stricter
/// than Vault's (which allows inline styles).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; form-action 'none'; \
    frame-ancestors 'none'; base-uri 'none'";

/// The answer for a path of the UI (`/`, `/ui`, `/ui/...`), or `None`
/// when the path is not one.
pub(super) fn serve(enabled: bool, path: &str) -> Option<HttpResponse> {
    let file = match path {
        "/" | "/ui" => None,
        _ => Some(path.strip_prefix("/ui/")?),
    };
    if !enabled {
        return Some(not_found());
    }
    Some(match file {
        None => redirect(),
        Some(file) => asset(file),
    })
}

/// A file of the UI; any other path under `/ui/` is the page itself (the
/// UI routes in the fragment), as Vault answers.
fn asset(file: &str) -> HttpResponse {
    let found = ASSETS
        .iter()
        .find(|asset| asset.name == file)
        .or_else(|| ASSETS.iter().find(|asset| asset.name == INDEX));
    let Some(asset) = found else {
        return not_found();
    };
    let mut response = with_headers(StatusCode::OK, Body::from(asset.body), asset.content_type);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Vault's (Go's `http.Redirect`) 307 to `/ui/`.
fn redirect() -> HttpResponse {
    let body = "<a href=\"/ui/\">Temporary Redirect</a>.\n\n";
    let mut response = with_headers(StatusCode::TEMPORARY_REDIRECT, Body::from(body), HTML);
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/ui/"));
    response
}

/// Go's `http.NotFound`, which Vault answers for the UI's paths when the
/// UI is off.
fn not_found() -> HttpResponse {
    let mut response = with_headers(
        StatusCode::NOT_FOUND,
        Body::from("404 page not found\n"),
        "text/plain; charset=utf-8",
    );
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> &'static str {
        let asset = ASSETS.iter().find(|a| a.name == name).expect(name);
        std::str::from_utf8(asset.body).expect("utf-8")
    }

    #[test]
    fn only_the_ui_paths_are_answered_here() {
        for path in ["/v1/sys/health", "/uix", "/foo", "/ui.js"] {
            assert!(serve(true, path).is_none(), "{path}");
            assert!(serve(false, path).is_none(), "{path}");
        }
    }

    #[test]
    fn the_root_and_bare_ui_redirect_to_the_ui_when_it_is_on() {
        for path in ["/", "/ui"] {
            let response = serve(true, path).expect(path);
            assert_eq!(response.status(), 307);
            assert_eq!(response.headers()[header::LOCATION], "/ui/");
        }
    }

    #[test]
    fn every_ui_path_is_gos_404_when_it_is_off() {
        for path in ["/", "/ui", "/ui/", "/ui/app.js"] {
            let response = serve(false, path).expect(path);
            assert_eq!(response.status(), 404);
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
        }
    }

    #[test]
    fn files_are_served_with_their_type_and_the_strict_policy() {
        let script = serve(true, "/ui/app.js").expect("app.js");
        assert_eq!(script.status(), 200);
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(script.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        for path in ["/ui/", "/ui/pki/certs", "/ui/missing.js"] {
            let page = serve(true, path).expect(path);
            assert_eq!(page.status(), 200, "{path}");
            assert_eq!(page.headers()[header::CONTENT_TYPE], HTML, "{path}");
        }
    }

    #[test]
    fn nothing_inline_that_the_policy_would_block() {
        let page = text(INDEX);
        assert!(!page.contains("<style"), "inline style element");
        assert!(!page.contains(" style="), "inline style attribute");
        for script in page.split("<script").skip(1) {
            assert!(script.contains("src="), "inline script: {script}");
        }
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let code = text(asset.name);
            for banned in [
                "innerHTML",
                "eval(",
                "new Function",
                "setAttribute(\"style\"",
            ] {
                assert!(!code.contains(banned), "{} uses {banned}", asset.name);
            }
        }
    }

    #[test]
    fn every_module_the_ui_imports_is_embedded() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let dir = asset.name.rsplit_once('/').map_or("", |(dir, _)| dir);
            for line in text(asset.name).lines() {
                let Some(from) = line.split(" from \"").nth(1) else {
                    continue;
                };
                let target = from.split('"').next().unwrap_or_default();
                let resolved = resolve(dir, target);
                assert!(
                    ASSETS.iter().any(|a| a.name == resolved),
                    "{} imports {target}, not embedded",
                    asset.name
                );
            }
        }
    }

    /// A relative module path (`./x.js`, `../x.js`) from a directory.
    fn resolve(dir: &str, target: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for part in target.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts.join("/")
    }
}
