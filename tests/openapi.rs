//! `api-spec/openapi.yaml` is generated from the route declarations
//! (`cargo run --bin vaultlet-openapi`): the committed file must be exactly
//! what the generator writes, and the document must say what the router
//! does (every route a backend declares, and every raw `sys/` endpoint the
//! HTTP layer answers, with the same methods, fields and flags). Also the
//! served form, `GET /v1/sys/internal/specs/openapi`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Server, ROOT};
use serde_json::{json, Value};
use vaultlet::http::RAW_ROUTES;
use vaultlet::logical::{special_path_matches, Operation};
use vaultlet::system::openapi::reference::{reference_core, Reference, FILE};
use vaultlet::system::openapi::{sample_path, template};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn committed_text() -> String {
    let file = format!("{}/{FILE}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn load_spec() -> Value {
    serde_norway::from_str::<Value>(&committed_text()).unwrap_or_else(|e| panic!("{FILE}: {e}"))
}

#[test]
fn the_committed_document_is_what_vaultlet_openapi_writes() {
    let reference = block_on(Reference::build(RAW_ROUTES)).expect("reference document");
    assert!(
        reference.stale_prose.is_empty(),
        "api-spec/descriptions.json describes what the document does not have:\n{}",
        reference.stale_prose.join("\n")
    );
    let written = reference.yaml().expect("yaml");
    let committed = committed_text();
    if written != committed {
        let line = written
            .lines()
            .zip(committed.lines())
            .position(|(w, c)| w != c)
            .map_or(
                written.lines().count().min(committed.lines().count()),
                |i| i,
            );
        panic!(
            "{FILE} is stale (first difference at line {}): run `cargo run --bin \
             vaultlet-openapi` and commit the result\n  committed: {:?}\n  generated: {:?}",
            line + 1,
            committed.lines().nth(line).unwrap_or("<end>"),
            written.lines().nth(line).unwrap_or("<end>"),
        );
    }
}

/// One route as the spec must describe it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Route {
    mount_type: String,
    /// OpenAPI methods: read and list are `get` (list with `?list=true`),
    /// update/create `post`, patch `patch`, delete `delete`.
    methods: BTreeSet<String>,
    read: bool,
    list: bool,
    fields: Vec<String>,
    unauthenticated: bool,
    sudo: bool,
    /// Answered by the HTTP layer (src/http/sys_raw.rs), not a backend.
    raw: bool,
}

/// Every route of the reference layout: the mounts of a dev core with one
/// mount of every type, each named by the spec's `x-vaultlet-mounts`.
fn routes(layout: &BTreeMap<String, String>) -> BTreeMap<String, Route> {
    let core = block_on(reference_core(RAW_ROUTES)).expect("reference core");
    let mut out: BTreeMap<String, Route> = BTreeMap::new();
    for mounted in core.mounts.snapshot().iter() {
        let mount_type = layout
            .get(&mounted.prefix)
            .unwrap_or_else(|| panic!("x-vaultlet-mounts lacks {}", mounted.prefix));
        let backend = mounted.backend.as_ref();
        for (info, operations) in backend.describe() {
            let pattern = info.pattern.as_str();
            let path = format!("/{}{}", mounted.prefix, template(pattern));
            let fields = info.fields.iter().map(|f| f.name.to_string()).collect();
            let mut route = Route {
                mount_type: mount_type.clone(),
                fields,
                unauthenticated: info.unauthenticated,
                sudo: special_path_matches(backend.root_paths(), &sample_path(pattern)),
                ..Default::default()
            };
            for op in operations {
                let method = match op {
                    Operation::Read => {
                        route.read = true;
                        "get"
                    }
                    Operation::List => {
                        route.list = true;
                        "get"
                    }
                    Operation::Create | Operation::Update => "post",
                    Operation::Patch => "patch",
                    Operation::Delete => "delete",
                    Operation::Header => "head",
                };
                route.methods.insert(method.to_string());
            }
            let previous = out.insert(path.clone(), route);
            assert!(previous.is_none(), "two routes map to {path}");
        }
    }
    for raw in RAW_ROUTES {
        let route = Route {
            mount_type: "system".to_string(),
            methods: raw.methods().iter().map(|m| m.to_lowercase()).collect(),
            read: raw.read.is_some(),
            fields: [raw.read, raw.write]
                .into_iter()
                .flatten()
                .flat_map(|op| op.params.iter().map(|p| p.field.name.to_string()))
                .collect(),
            unauthenticated: true,
            raw: true,
            ..Default::default()
        };
        let path = format!("/{}", raw.path);
        let previous = out.insert(path.clone(), route);
        assert!(
            previous.is_none(),
            "a raw route shadows a backend route: {path}"
        );
    }
    out
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Resolves a local `$ref` (`#/components/...`).
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

/// Names a spec operation accepts: request body properties and parameters.
fn accepted_names(spec: &Value, item: &Value, op: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for params in [item.get("parameters"), op.get("parameters")]
        .into_iter()
        .flatten()
    {
        for p in params.as_array().into_iter().flatten() {
            if let Some(n) = resolve(spec, p).get("name").and_then(Value::as_str) {
                names.insert(n.to_string());
            }
        }
    }
    if let Some(body) = op.get("requestBody") {
        let body = resolve(spec, body);
        if let Some(content) = body.get("content").and_then(Value::as_object) {
            for media in content.values() {
                if let Some(schema) = media.get("schema") {
                    let schema = resolve(spec, schema);
                    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                        names.extend(props.keys().cloned());
                    }
                }
            }
        }
    }
    names
}

fn list_param(spec: &Value, op: &Value) -> Option<Value> {
    op.get("parameters")?
        .as_array()?
        .iter()
        .map(|p| resolve(spec, p))
        .find(|p| p.get("name") == Some(&json!("list")) && p.get("in") == Some(&json!("query")))
        .cloned()
}

#[test]
fn every_route_has_a_spec_entry_and_every_spec_entry_a_route() {
    let spec = load_spec();
    assert_eq!(spec["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    let layout: BTreeMap<String, String> = spec["x-vaultlet-mounts"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(kind, prefix)| {
            (
                prefix.as_str().unwrap_or_default().to_string(),
                kind.clone(),
            )
        })
        .collect();
    let routes = routes(&layout);
    let paths = spec["paths"].as_object().expect("spec has paths");
    let mut problems = Vec::new();

    for path in routes.keys() {
        if !paths.contains_key(path) {
            problems.push(format!("route without a spec entry: {path}"));
        }
    }
    for path in paths.keys() {
        if !routes.contains_key(path) {
            problems.push(format!("spec entry without a route: {path}"));
        }
    }

    for (path, route) in &routes {
        let Some(item) = paths.get(path) else {
            continue;
        };
        let methods: BTreeSet<String> = item
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| METHODS.contains(&k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        if methods != route.methods {
            problems.push(format!(
                "{path}: spec methods {methods:?}, router methods {:?}",
                route.methods
            ));
        }
        if item["x-vaultlet-mount-type"].as_str() != Some(route.mount_type.as_str()) {
            problems.push(format!(
                "{path}: x-vaultlet-mount-type must be {:?}",
                route.mount_type
            ));
        }
        let flag = |name: &str| item.get(name).and_then(Value::as_bool).unwrap_or(false);
        if flag("x-vault-unauthenticated") != route.unauthenticated {
            problems.push(format!(
                "{path}: x-vault-unauthenticated must be {}",
                route.unauthenticated
            ));
        }
        if flag("x-vault-sudo") != route.sudo {
            problems.push(format!("{path}: x-vault-sudo must be {}", route.sudo));
        }
        // Path template parameters are declared.
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                for (method, op) in item.as_object().into_iter().flatten() {
                    if !METHODS.contains(&method.as_str()) {
                        continue;
                    }
                    let declared = [item.get("parameters"), op.get("parameters")]
                        .into_iter()
                        .flatten()
                        .flat_map(|p| p.as_array().cloned().unwrap_or_default())
                        .map(|p| resolve(&spec, &p).clone())
                        .any(|p| p["name"] == json!(name) && p["in"] == json!("path"));
                    if !declared {
                        problems.push(format!("{path} {method}: path parameter {name} undeclared"));
                    }
                }
            }
        }
        // LIST is `GET ?list=true`: required when the path only lists.
        if route.list {
            match item.get("get").and_then(|op| list_param(&spec, op)) {
                None => problems.push(format!("{path}: get lacks the list query parameter")),
                Some(p) => {
                    let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
                    if required == route.read {
                        problems.push(format!(
                            "{path}: list parameter must be {}",
                            if route.read { "optional" } else { "required" }
                        ));
                    }
                }
            }
        }
        // Every field the route understands is a body property or parameter.
        if !route.fields.is_empty() {
            let mut accepted = BTreeSet::new();
            for method in &route.methods {
                if let Some(op) = item.get(method.as_str()) {
                    accepted.extend(accepted_names(&spec, item, op));
                }
            }
            for field in &route.fields {
                if !accepted.contains(field) {
                    problems.push(format!("{path}: field {field} missing from the spec"));
                }
            }
        }
        // Every operation says how it fails.
        for method in &route.methods {
            let responses = item[method.as_str()]["responses"].as_object();
            let codes: BTreeSet<&str> = responses
                .map(|r| r.keys().map(String::as_str).collect())
                .unwrap_or_default();
            if !codes.iter().any(|c| c.starts_with('2')) {
                problems.push(format!("{path} {method}: no success response"));
            }
            let says_how_it_fails = codes.contains("400") && codes.contains("405");
            if !route.raw && !says_how_it_fails {
                problems.push(format!("{path} {method}: missing error responses"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "api-spec/openapi.yaml and the router disagree:\n{}",
        problems.join("\n")
    );
}

/// As Vault: unauthenticated, the raw document as the body, filtered to the
/// mounts the caller can see, each at its own mount path.
#[test]
fn the_spec_is_served_for_the_mounts_that_exist() {
    let s = Server::dev();
    let spec = load_spec();

    // No token: no mount is visible, so no path (OpenBao answers the same).
    let r = s.send("GET", "sys/internal/specs/openapi", None, None);
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["openapi"], spec["openapi"]);
    assert_eq!(r.json["info"], spec["info"]);
    assert_eq!(r.json["paths"], json!({}));

    let r = s.call(
        "POST",
        "sys/mounts/pki-int",
        ROOT,
        Some(json!({"type": "pki"})),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.call(
        "POST",
        "sys/auth/ar",
        ROOT,
        Some(json!({"type": "approle"})),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);

    let r = s.send("GET", "sys/internal/specs/openapi", Some(ROOT), None);
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(
        r.json.get("data").is_none(),
        "the document is the body, not data"
    );
    let served = r.json["paths"].as_object().cloned().unwrap_or_default();
    let committed = spec["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &committed {
        let renamed = match item["x-vaultlet-mount-type"].as_str() {
            // Built in (and dev mode's `secret/`): served where committed.
            Some("system" | "token" | "cubbyhole" | "identity" | "kv-v2") => Some(path.clone()),
            Some("pki") => Some(path.replacen("/pki/", "/pki-int/", 1)),
            Some("approle") => Some(path.replacen("/auth/approle/", "/auth/ar/", 1)),
            _ => None,
        };
        match renamed {
            Some(p) => assert_eq!(served.get(&p), Some(item), "{p} served as committed"),
            None => assert!(
                !served.contains_key(path),
                "{path} served without its mount"
            ),
        }
    }
    assert!(served.contains_key("/sys/health"));
    assert!(served.contains_key("/pki-int/issue/{role}"));
    assert!(served.contains_key("/auth/ar/login"));
    assert!(!served.keys().any(|p| p.starts_with("/pki/")));

    // generic_mount_paths: the mount path becomes a parameter.
    let r = s.send(
        "GET",
        "sys/internal/specs/openapi?generic_mount_paths=true",
        Some(ROOT),
        None,
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let item = &r.json["paths"]["/{pki_int_mount_path}/issue/{role}"];
    assert!(item.get("post").is_some(), "{}", r.json["paths"]);
    let params = item["parameters"].as_array().cloned().unwrap_or_default();
    assert!(params
        .iter()
        .any(|p| p["name"] == json!("pki_int_mount_path") && p["in"] == json!("path")));

    // A token with a narrow policy sees only the mounts it may use.
    let policy = r#"path "pki-int/*" { capabilities = ["read"] }"#;
    let r = s.call(
        "PUT",
        "sys/policy/pki-reader",
        ROOT,
        Some(json!({ "policy": policy })),
    );
    assert_eq!(r.status, 204, "{:?}", r.json);
    let r = s.call(
        "POST",
        "auth/token/create",
        ROOT,
        Some(json!({"policies": ["pki-reader"], "no_default_policy": true})),
    );
    let token = r.json["auth"]["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = s.send("GET", "sys/internal/specs/openapi", Some(&token), None);
    assert_eq!(r.status, 200, "{:?}", r.json);
    let served: Vec<String> = r.json["paths"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert!(!served.is_empty());
    assert!(
        served.iter().all(|p| p.starts_with("/pki-int/")),
        "{served:?}"
    );
    s.stop();
}

/// Found by the fuzz run (tests/openapi/run): the literal `cert/crl` and
/// `cert/delta-crl` routes answered 500 (no `serial` parameter).
#[test]
fn cert_crl_literal_routes_answer() {
    let s = Server::dev();
    let r = s.call("POST", "sys/mounts/pki", ROOT, Some(json!({"type": "pki"})));
    assert_eq!(r.status, 204, "{:?}", r.json);
    for path in ["pki/cert/crl", "pki/cert/delta-crl"] {
        let r = s.send("GET", path, None, None);
        assert!(
            r.status < 500,
            "{path} before a CA: {} {:?}",
            r.status,
            r.json
        );
    }
    let r = s.call(
        "POST",
        "pki/root/generate/internal",
        ROOT,
        Some(json!({"common_name": "root"})),
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = s.send("GET", "pki/cert/crl", None, None);
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r
        .data("certificate")
        .as_str()
        .is_some_and(|c| c.contains("BEGIN X509 CRL")));
    let r = s.send("GET", "pki/cert/delta-crl", None, None);
    assert!(r.status < 500, "{} {:?}", r.status, r.json);
    s.stop();
}

/// Found by the fuzz run: `sys/health?activecode=121` answered 500 (hyper
/// cannot send a 1xx as the final status). OpenBao's client sees the 1xx
/// as an interim response and then 200, except 101.
#[test]
fn health_status_override_in_the_1xx_range() {
    let s = Server::dev();
    for (code, want) in [(100, 200), (121, 200), (199, 200), (299, 299)] {
        let r = s.send("GET", &format!("sys/health?activecode={code}"), None, None);
        assert_eq!(r.status, want, "activecode={code}");
    }
    s.stop();
}

/// The raw `sys/` endpoints answer exactly the methods they declare (the
/// document is generated from the declarations, the answers come from the
/// handlers).
#[test]
fn raw_routes_answer_the_methods_they_declare() {
    let s = Server::dev();
    for route in RAW_ROUTES {
        let declared = route.methods();
        for method in ["GET", "HEAD", "PUT", "POST", "DELETE"] {
            let r = s.send(method, route.path, Some(ROOT), Some(b"{}".to_vec()));
            assert_eq!(
                r.status == 405,
                !declared.contains(&method),
                "{method} {}: {} {:?}",
                route.path,
                r.status,
                r.json
            );
        }
    }
    s.stop();
}
