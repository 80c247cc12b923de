//! `sys/metrics`: who may read it, its two formats and their refusals, and
//! that its figures follow what the server does (a signed certificate moves
//! the issuance counter; an issuer's expiry shows in seconds).

mod common;

use common::{listener_config, temp_dir, Reply, Server, ROOT};
use serde_json::{json, Value};

/// An initialized, unsealed server started from `hcl`; its root token.
fn configured(name: &str, hcl: &str) -> Server {
    let dir = temp_dir(name);
    let mut server = Server::with_config(&dir, hcl);
    let init = server.call(
        "PUT",
        "sys/init",
        "",
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    );
    assert_eq!(init.status, 200, "{:?}", init.json);
    let key = init.json["keys"][0].as_str().expect("key").to_string();
    let unseal = server.call("PUT", "sys/unseal", "", Some(json!({ "key": key })));
    assert_eq!(unseal.json["sealed"], false);
    server.root_token = init.json["root_token"].as_str().expect("root").to_string();
    server
}

fn metrics(server: &Server, query: &str, token: Option<&str>) -> Reply {
    server.send("GET", &format!("sys/metrics{query}"), token, None)
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.raw).into_owned()
}

/// The value of the Prometheus series whose line starts with `prefix`.
fn series(exposition: &str, prefix: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[test]
fn a_token_is_needed_unless_the_listener_opens_the_metrics() {
    let server = configured(
        "metrics-auth",
        &format!(
            "{}telemetry {{ disable_hostname = true }}\n",
            listener_config("")
        ),
    );
    let anonymous = metrics(&server, "?format=prometheus", None);
    assert_eq!(anonymous.status, 403);
    // HashiCorp Vault's text (OpenBao's is the bare "permission denied").
    assert_eq!(
        anonymous.errors(),
        ["1 error occurred:\n\t* permission denied\n\n"]
    );
    assert_eq!(metrics(&server, "", Some("bogus")).status, 403);
    let token = server.root_token.clone();
    let scrape = metrics(&server, "?format=prometheus", Some(&token));
    assert_eq!(scrape.status, 200);
    assert_eq!(
        scrape.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(
        series(&text(&scrape), "vault_core_unsealed{"),
        Some(1.0),
        "{}",
        text(&scrape)
    );
    // A token that may not read sys/metrics is refused like no token.
    server.write(
        "sys/policies/acl/reader",
        json!({"policy": "path \"sys/metrics\" { capabilities = [\"read\"] }"}),
    );
    let child = |policies: Value| {
        server
            .write("auth/token/create", json!({ "policies": policies }))
            .client_token()
    };
    let plain = child(json!(["default"]));
    assert_eq!(metrics(&server, "", Some(&plain)).status, 403);
    let reader = child(json!(["reader"]));
    assert_eq!(metrics(&server, "", Some(&reader)).status, 200);
    // It is a read-only path, as in Vault.
    let post = server.call("POST", "sys/metrics", &token, Some(json!({})));
    assert_eq!(post.status, 405);

    let open = configured(
        "metrics-open",
        &listener_config("  telemetry { unauthenticated_metrics_access = true }"),
    );
    assert_eq!(metrics(&open, "", None).status, 200);
    // Without a telemetry stanza Prometheus is off.
    let off = metrics(&open, "?format=prometheus", None);
    assert_eq!(
        (off.status, text(&off).as_str()),
        (400, "prometheus is not enabled")
    );
    assert_eq!(off.content_type, "text/plain");
    let post = open.send("POST", "sys/metrics", None, Some(b"{}".to_vec()));
    assert_eq!(
        (post.status, post.json.clone()),
        (405, json!({"errors": []}))
    );
}

#[test]
fn formats_are_chosen_by_parameter_or_accept_header() {
    let server = Server::dev();
    let json_form = metrics(&server, "", None);
    assert_eq!(json_form.status, 200);
    assert_eq!(json_form.content_type, "application/json");
    for key in ["Timestamp", "Gauges", "Points", "Counters", "Samples"] {
        assert!(
            json_form.json.get(key).is_some(),
            "{key}: {:?}",
            json_form.json
        );
    }
    let gauge = json_form.json["Gauges"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["Name"] == "vault.core.unsealed"))
        .expect("vault.core.unsealed")
        .clone();
    assert_eq!(gauge["Value"], 1);
    assert!(gauge["Labels"]["cluster"].is_string());

    let accepted = server.send_with_headers(
        "GET",
        "sys/metrics",
        None,
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
        None,
    );
    assert!(accepted
        .content_type
        .starts_with("text/plain; version=0.0.4"));
    let unknown = metrics(&server, "?format=xml", Some(ROOT));
    assert_eq!(unknown.status, 400);
    assert_eq!(text(&unknown), "metric response format \"xml\" unknown");
    assert_eq!(unknown.content_type, "text/plain");
}

#[test]
fn timers_show_vaults_quantiles_with_sum_and_count() {
    let server = Server::dev();
    for _ in 0..20 {
        assert_eq!(server.read("sys/mounts").status, 200);
    }
    let scrape = text(&metrics(&server, "?format=prometheus", None));
    for name in ["vault_core_handle_request", "vault_route_read_sys_"] {
        let quantile = |q: &str| {
            series(&scrape, &format!("{name}{{quantile=\"{q}\"}} "))
                .unwrap_or_else(|| panic!("{name} {q}: {scrape}"))
        };
        let (median, p90, p99) = (quantile("0.5"), quantile("0.9"), quantile("0.99"));
        assert!(median > 0.0 && median <= p90 && p90 <= p99, "{scrape}");
        let count = series(&scrape, &format!("{name}_count ")).expect("count");
        let sum = series(&scrape, &format!("{name}_sum ")).expect("sum");
        assert!(count >= 20.0, "{name}: {scrape}");
        // Each quantile is one of the durations, so within their sum.
        assert!(p99 <= sum, "{scrape}");
    }
}

#[test]
fn signing_moves_the_counters_and_issuers_show_their_expiry() {
    let server = Server::dev();
    server.write("sys/mounts/pki", json!({"type": "pki"}));
    let root = server.write(
        "pki/root/generate/internal",
        json!({"common_name": "Soon Root", "ttl": "240h", "issuer_name": "soon"}),
    );
    assert_eq!(root.status, 200, "{:?}", root.json);
    let issuer_id = root
        .data("issuer_id")
        .as_str()
        .expect("issuer_id")
        .to_string();
    let not_after = root.data("expiration").as_i64().expect("expiration");
    server.write("pki/roles/web", json!({"allow_any_name": true}));
    let issued_line = format!(
        "vaultlet_pki_certificates_issued_total{{mount_point=\"pki/\",role=\"web\",issuer=\"{issuer_id}\",outcome=\"success\"}}"
    );
    let scrape = || text(&metrics(&server, "?format=prometheus", None));
    let before = series(&scrape(), &issued_line).unwrap_or(0.0);
    let handled = series(&scrape(), "vault_core_handle_request_count").expect("handle_request");
    let issue = server.write(
        "pki/issue/web",
        json!({"common_name": "a.example", "ttl": "1h"}),
    );
    assert_eq!(issue.status, 200, "{:?}", issue.json);
    let serial = issue
        .data("serial_number")
        .as_str()
        .expect("serial")
        .to_string();
    let refused = server.write(
        "pki/issue/web",
        json!({"common_name": "a.example", "ttl": "300h"}),
    );
    assert_eq!(refused.status, 400);
    // A role that does not exist is not a label value.
    assert_eq!(
        server
            .write("pki/issue/nobody", json!({"common_name": "x"}))
            .status,
        400
    );
    let revoked = server.write("pki/revoke", json!({ "serial_number": serial }));
    assert_eq!(revoked.status, 200, "{:?}", revoked.json);

    let after = scrape();
    assert_eq!(series(&after, &issued_line), Some(before + 1.0), "{after}");
    let failed = "vaultlet_pki_certificates_issued_total{mount_point=\"pki/\",role=\"web\",issuer=\"\",outcome=\"failure\"}";
    assert_eq!(series(&after, failed), Some(1.0));
    assert!(!after.contains("role=\"nobody\""));
    // Vault's stored-certificate gauges wait for config/auto-tidy's switches.
    assert!(!after.contains("vault_secrets_pki_"));
    assert_eq!(
        series(
            &after,
            "vaultlet_pki_certificates_revoked_total{mount_point=\"pki/\"}"
        ),
        Some(1.0)
    );
    assert!(series(&after, "vault_core_handle_request_count").expect("count") >= handled + 4.0);
    assert!(series(&after, "vault_route_update_pki__count").expect("route") >= 4.0);

    let labels = format!("{{mount_point=\"pki/\",issuer_id=\"{issuer_id}\",issuer_name=\"soon\"}}");
    assert_eq!(
        series(&after, &format!("vaultlet_pki_issuer_not_after{labels}")),
        Some(not_after as f64)
    );
    let left = series(
        &after,
        &format!("vaultlet_pki_issuer_seconds_to_expiry{labels}"),
    )
    .expect("seconds to expiry");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as f64;
    assert!((left - (not_after as f64 - now)).abs() <= 5.0, "{left}");
    let complete = |name: &str| {
        format!("vaultlet_pki_crl_{name}{{mount_point=\"pki/\",issuer_id=\"{issuer_id}\",issuer_name=\"soon\",crl=\"complete\"}}")
    };
    let next_update = series(&after, &complete("next_update")).expect("CRL next update");
    assert!(next_update > now, "{next_update}");
    assert!(series(&after, &complete("size_bytes")).expect("CRL size") > 0.0);
}

/// With `enable_delta`, the delta CRL's next update and size show next to
/// the complete CRL's, told apart by the `crl` label; a delta rebuild moves
/// only the delta's.
#[test]
fn the_delta_crl_shows_its_own_next_update_and_size() {
    let server = Server::dev();
    server.write("sys/mounts/pki", json!({"type": "pki"}));
    let root = server.write(
        "pki/root/generate/internal",
        json!({"common_name": "Delta Root", "ttl": "240h", "issuer_name": "delta"}),
    );
    let issuer_id = root
        .data("issuer_id")
        .as_str()
        .expect("issuer_id")
        .to_string();
    let config = server.write(
        "pki/config/crl",
        json!({"enable_delta": true, "auto_rebuild": true, "expiry": "48h"}),
    );
    assert_eq!(config.status, 200, "{:?}", config.json);
    let line = |name: &str, crl: &str| {
        format!("vaultlet_pki_crl_{name}{{mount_point=\"pki/\",issuer_id=\"{issuer_id}\",issuer_name=\"delta\",crl=\"{crl}\"}}")
    };
    let scrape = || text(&metrics(&server, "?format=prometheus", None));
    let first = scrape();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as f64;
    for crl in ["complete", "delta"] {
        let next = series(&first, &line("next_update", crl))
            .unwrap_or_else(|| panic!("{crl} next_update: {first}"));
        assert!(
            (next - (now + 48.0 * 3600.0)).abs() <= 10.0,
            "{crl}: {next}"
        );
        assert!(
            series(&first, &line("this_update", crl)).is_some(),
            "{crl} this_update"
        );
        assert!(
            series(&first, &line("size_bytes", crl)).expect("size") > 0.0,
            "{crl} size"
        );
    }
    // A delta rebuild after a revocation: the delta CRL grows and gets a
    // later next update; the complete CRL is untouched.
    server.write("pki/roles/web", json!({"allow_any_name": true}));
    let serial = server
        .write(
            "pki/issue/web",
            json!({"common_name": "a.example", "ttl": "1h"}),
        )
        .data("serial_number")
        .as_str()
        .expect("serial")
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        server
            .write("pki/revoke", json!({ "serial_number": serial }))
            .status,
        200
    );
    assert_eq!(server.read("pki/crl/rotate-delta").status, 200);
    let second = scrape();
    let value = |text: &str, name: &str, crl: &str| series(text, &line(name, crl)).expect("series");
    assert_eq!(
        value(&second, "next_update", "complete"),
        value(&first, "next_update", "complete")
    );
    assert!(value(&second, "next_update", "delta") > value(&first, "next_update", "delta"));
    assert!(value(&second, "size_bytes", "delta") > value(&first, "size_bytes", "delta"));
}

#[test]
fn a_lockout_is_counted_and_the_locked_user_shows() {
    let server = Server::dev();
    server.write("sys/auth/userpass", json!({"type": "userpass"}));
    let tune = server.write(
        "sys/auth/userpass/tune",
        json!({"user_lockout_config": {"lockout_threshold": "2", "lockout_duration": "10m"}}),
    );
    assert_eq!(tune.status, 204, "{:?}", tune.json);
    server.write(
        "auth/userpass/users/bob",
        json!({"password": "right-password"}),
    );
    let scrape = || text(&metrics(&server, "?format=prometheus", None));
    assert_eq!(
        series(&scrape(), "vaultlet_core_lockouts_total "),
        Some(0.0)
    );
    for _ in 0..3 {
        let login = server.call(
            "PUT",
            "auth/userpass/login/bob",
            "",
            Some(json!({"password": "wrong"})),
        );
        assert!(login.status >= 400, "{:?}", login.json);
    }
    let after = scrape();
    // Two failures lock bob once; the third attempt is refused, not counted.
    assert_eq!(
        series(&after, "vaultlet_core_lockouts_total "),
        Some(1.0),
        "{after}"
    );
    assert_eq!(series(&after, "vault_core_locked_users "), Some(1.0));
}

#[test]
fn vaults_stored_certificate_counts_follow_the_auto_tidy_switches() {
    let server = Server::dev();
    server.write("sys/mounts/pki", json!({"type": "pki"}));
    server.write(
        "pki/root/generate/internal",
        json!({"common_name": "Counted Root", "ttl": "24h"}),
    );
    server.write(
        "pki/roles/web",
        json!({"allow_any_name": true, "max_ttl": "1h"}),
    );
    let config = server.write(
        "pki/config/auto-tidy",
        json!({"maintain_stored_certificate_counts": true, "publish_stored_certificate_count_metrics": true}),
    );
    assert_eq!(config.status, 200, "{:?}", config.json);
    let issued = server.write("pki/issue/web", json!({"common_name": "a.example"}));
    let serial = issued
        .data("serial_number")
        .as_str()
        .expect("serial")
        .to_string();
    server.write("pki/revoke", json!({ "serial_number": serial }));
    let uuid = server
        .read("pki/tidy-status")
        .data("internal_backend_uuid")
        .as_str()
        .expect("uuid")
        .replace('-', "_");
    let scrape = text(&metrics(&server, "?format=prometheus", None));
    // The root and the leaf are stored; the leaf is revoked.
    assert_eq!(
        series(
            &scrape,
            &format!("vault_secrets_pki_{uuid}_total_certificates_stored ")
        ),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        series(
            &scrape,
            &format!("vault_secrets_pki_{uuid}_total_revoked_certificates_stored ")
        ),
        Some(1.0)
    );
    assert_eq!(
        series(
            &scrape,
            "vaultlet_pki_certificates_stored{mount_point=\"pki/\"}"
        ),
        Some(2.0)
    );
}

#[test]
fn a_tidy_run_shows_its_progress_in_vaults_tidy_series() {
    let server = Server::dev();
    server.write("sys/mounts/pki", json!({"type": "pki"}));
    server.write(
        "pki/root/generate/internal",
        json!({"common_name": "Tidied Root", "ttl": "24h"}),
    );
    server.write(
        "pki/roles/web",
        json!({"allow_any_name": true, "max_ttl": "1h"}),
    );
    let scrape = || text(&metrics(&server, "?format=prometheus", None));
    assert!(!scrape().contains("vault_secrets_pki_tidy_"));
    for name in ["short1.example", "short2.example"] {
        let issued = server.write("pki/issue/web", json!({"common_name": name, "ttl": "1s"}));
        assert_eq!(issued.status, 200, "{:?}", issued.json);
    }
    let kept = server.write(
        "pki/issue/web",
        json!({"common_name": "kept.example", "ttl": "1h"}),
    );
    let serial = kept.data("serial_number").as_str().expect("serial");
    let revoked = server.write("pki/revoke", json!({ "serial_number": serial }));
    assert_eq!(revoked.status, 200, "{:?}", revoked.json);
    let stored = server
        .list("pki/certs")
        .data("keys")
        .as_array()
        .expect("keys")
        .len();
    // Past their end and the safety buffer (whole seconds).
    std::thread::sleep(std::time::Duration::from_millis(3100));
    // A pause per entry keeps the run going long enough to watch it.
    let tidy = server.write(
        "pki/tidy",
        json!({"tidy_cert_store": true, "tidy_revoked_certs": true,
               "safety_buffer": "1s", "pause_duration": "1s"}),
    );
    assert_eq!(tidy.status, 202, "{:?}", tidy.json);
    let mount = "{mount_point=\"pki/\"} ";
    let value =
        |scrape: &str, name: &str| series(scrape, &format!("vault_secrets_pki_tidy_{name}{mount}"));
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64()
    };
    // The run counts the store before its first entry: poll for the total
    // (a loaded machine can scrape before the count is done).
    let counting = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let running = loop {
        let running = scrape();
        if value(&running, "cert_store_total_entries") == Some(stored as f64) {
            break running;
        }
        assert!(std::time::Instant::now() < counting, "no total: {running}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        server.read("pki/tidy-status").data("state"),
        &json!("Running")
    );
    let started = value(&running, "start_time_epoch").expect("start time");
    assert!((now() - started).abs() < 60.0, "{started}: {running}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.read("pki/tidy-status").data("state") != &json!("Finished") {
        assert!(std::time::Instant::now() < deadline, "tidy did not finish");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let done = scrape();
    let status = server.read("pki/tidy-status");
    assert_eq!(status.data("cert_store_deleted_count"), &json!(2));
    assert_eq!(status.data("revoked_cert_deleted_count"), &json!(0));
    let expected = [
        // None running: Vault sets the start time back to zero.
        ("start_time_epoch", 0.0),
        ("success", 1.0),
        ("duration_count", 1.0),
        ("cert_store_deleted_count", 2.0),
        ("cert_store_total_entries", stored as f64),
        ("cert_store_current_entry", (stored - 1) as f64),
        ("cert_store_total_entries_remaining", (stored - 2) as f64),
        ("revoked_cert_deleted_count", 0.0),
        ("revoked_cert_total_entries", 1.0),
        ("revoked_cert_current_entry", 0.0),
        ("revoked_cert_total_entries_remaining", 1.0),
        ("revoked_cert_entries_incorrect_issuers", 0.0),
        ("revoked_cert_entries_fixed_issuers", 0.0),
    ];
    for (name, want) in expected {
        assert_eq!(value(&done, name), Some(want), "{name}: {done}");
    }
    // Outcomes show once one happened, as Vault's counters.
    assert_eq!(value(&done, "failure"), None);
}

/// A server keeping its data in `dir`, reporting the costly gauges every
/// second; initialized and unsealed, with its unseal key.
fn durable_with_fast_gauges(dir: &std::path::Path) -> (Server, String) {
    let hcl = format!(
        "{}storage \"raft\" {{\n  path = \"{}\"\n}}\ntelemetry {{\n  disable_hostname = true\n  usage_gauge_period = \"1s\"\n}}\n",
        listener_config("").replace("storage \"inmem\" {}\n", ""),
        dir.join("data").display()
    );
    let mut server = Server::with_config(dir, &hcl);
    let init = server.call(
        "PUT",
        "sys/init",
        "",
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    );
    let key = init.json["keys"][0].as_str().expect("key").to_string();
    server.root_token = init.json["root_token"].as_str().expect("root").to_string();
    let unseal = server.call("PUT", "sys/unseal", "", Some(json!({ "key": key })));
    assert_eq!(unseal.json["sealed"], false);
    (server, key)
}

/// The sum of every series whose line starts with `prefix`.
fn total(exposition: &str, prefix: &str) -> f64 {
    exposition
        .lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn token_leases_show_in_vaults_expire_series() {
    let dir = temp_dir("metrics-expire");
    let (server, key) = durable_with_fast_gauges(&dir);
    let root = server.root_token.clone();
    let scrape = |server: &Server| {
        // Past the usage gauge period, so that the lease count is new.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        text(&metrics(server, "?format=prometheus", Some(&root)))
    };
    let fresh = scrape(&server);
    // The root token of initialization never expires: no lease.
    assert_eq!(
        series(&fresh, "vault_expire_num_leases "),
        Some(0.0),
        "{fresh}"
    );
    assert!(!fresh.contains("vault_expire_register_auth"), "{fresh}");
    assert!(!fresh.contains("vault_expire_leases_by_expiration"));

    let create = |ttl: &str| {
        let made = server.write(
            "auth/token/create",
            json!({ "ttl": ttl, "policies": ["default"] }),
        );
        assert_eq!(made.status, 200, "{:?}", made.json);
        made.client_token()
    };
    let kept = create("1h");
    let revoked = create("2h");
    let expiring = create("1s");
    let renewed = server.write("auth/token/renew", json!({ "token": kept }));
    assert_eq!(renewed.status, 200, "{:?}", renewed.json);
    let revoke = server.write("auth/token/revoke", json!({ "token": revoked }));
    assert_eq!(revoke.status, 204, "{:?}", revoke.json);
    std::thread::sleep(std::time::Duration::from_millis(1000));

    let leases = scrape(&server);
    let count = |scrape: &str, name: &str| series(scrape, &format!("vault_expire_{name}_count "));
    // The expired token is no longer a lease, though not yet swept.
    assert_eq!(
        series(&leases, "vault_expire_num_leases "),
        Some(1.0),
        "{leases}"
    );
    assert_eq!(total(&leases, "vault_expire_leases_by_expiration{"), 1.0);
    assert!(leases.contains("vault_expire_leases_by_expiration{cluster=\""));
    assert!(leases.contains(":00:00 +0000 UTC\"}"), "{leases}");
    assert_eq!(count(&leases, "register_auth"), Some(3.0));
    assert_eq!(count(&leases, "renew_token"), Some(1.0));
    assert_eq!(count(&leases, "revoke"), Some(1.0));
    assert_eq!(count(&leases, "revoke_by_token"), Some(1.0));
    assert!(!leases.contains("vault_expire_lease_expiration"));

    // Presenting the expired token revokes it as an expiry.
    let refused = server.call("GET", "auth/token/lookup-self", &expiring, None);
    assert_eq!(refused.status, 403);
    let expired = scrape(&server);
    assert_eq!(
        total(&expired, "vault_expire_lease_expiration{"),
        1.0,
        "{expired}"
    );
    assert!(expired.contains("vault_expire_lease_expiration{cluster=\""));
    assert!(expired.contains("namespace=\"root\"} 1"));
    assert_eq!(count(&expired, "revoke"), Some(2.0));

    // Disabling an auth method revokes its logins by prefix.
    server.write("sys/auth/userpass", json!({"type": "userpass"}));
    server.write("auth/userpass/users/ann", json!({"password": "pw"}));
    let login = server.call(
        "PUT",
        "auth/userpass/login/ann",
        "",
        Some(json!({"password": "pw"})),
    );
    assert_eq!(login.status, 200, "{:?}", login.json);
    let logged_in = scrape(&server);
    assert_eq!(series(&logged_in, "vault_expire_num_leases "), Some(2.0));
    assert_eq!(count(&logged_in, "register_auth"), Some(4.0));
    assert_eq!(server.delete("sys/auth/userpass").status, 204);
    let disabled = scrape(&server);
    assert_eq!(count(&disabled, "revoke_prefix"), Some(1.0), "{disabled}");
    assert_eq!(count(&disabled, "revoke_by_token"), Some(3.0));
    assert_eq!(series(&disabled, "vault_expire_num_leases "), Some(1.0));

    // After a restart the count comes from the stored tokens again.
    server.stop();
    let mut again = Server::with_config(
        &dir,
        &std::fs::read_to_string(dir.join("server.hcl")).expect("config"),
    );
    again.root_token = root.clone();
    let unseal = again.call("PUT", "sys/unseal", "", Some(json!({ "key": key })));
    assert_eq!(unseal.json["sealed"], false);
    let restarted = scrape(&again);
    assert_eq!(
        series(&restarted, "vault_expire_num_leases "),
        Some(1.0),
        "{restarted}"
    );
    assert!(!restarted.contains("vault_expire_register_auth"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The machine's host name as a Prometheus name part (what is not a
/// letter, digit or `_` becomes `_`).
fn host_name_part() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("host name")
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `disable_hostname = false` (Vault's default) puts the host name after
/// the service prefix of every gauge, in both forms; counters and timers
/// keep their names, as go-metrics does.
#[test]
fn gauges_carry_the_host_name_unless_disabled() {
    let server = configured(
        "metrics-hostname",
        &format!(
            "{}telemetry {{ disable_hostname = false }}\n",
            listener_config("")
        ),
    );
    let token = server.root_token.clone();
    let scrape = text(&metrics(&server, "?format=prometheus", Some(&token)));
    let host = host_name_part();
    assert_eq!(
        series(&scrape, &format!("vault_{host}_core_unsealed{{")),
        Some(1.0),
        "{scrape}"
    );
    assert!(!scrape.contains("\nvault_core_unsealed{"), "{scrape}");
    assert!(
        series(&scrape, "vault_core_handle_request_count ").is_some(),
        "{scrape}"
    );
    let json_form = metrics(&server, "", Some(&token)).json;
    let raw_host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
    let gauge_names: Vec<&str> = json_form["Gauges"]
        .as_array()
        .expect("gauges")
        .iter()
        .filter_map(|g| g["Name"].as_str())
        .collect();
    assert!(
        gauge_names.contains(&format!("vault.{}.core.unsealed", raw_host.trim()).as_str()),
        "{gauge_names:?}"
    );
    assert!(!gauge_names.contains(&"vault.core.unsealed"));
}

/// Stored-certificate counts list the certificate store, so they are
/// recomputed once per `usage_gauge_period`, and never with `"none"`.
#[test]
fn stored_certificate_gauges_follow_the_usage_gauge_period() {
    let scrape_with = |name: &str, period: &str| {
        let server = configured(
            name,
            &format!(
                "{}telemetry {{\n  disable_hostname = true\n  usage_gauge_period = \"{period}\"\n}}\n",
                listener_config("")
            ),
        );
        let token = server.root_token.clone();
        server.call(
            "POST",
            "sys/mounts/pki",
            &token,
            Some(json!({"type": "pki"})),
        );
        server.call(
            "POST",
            "pki/root/generate/internal",
            &token,
            Some(json!({"common_name": "Usage Root", "ttl": "24h"})),
        );
        server.call(
            "POST",
            "pki/roles/web",
            &token,
            Some(json!({"allow_any_name": true})),
        );
        (server, token)
    };
    let stored = "vaultlet_pki_certificates_stored{mount_point=\"pki/\"}";
    let (server, token) = scrape_with("metrics-usage-period", "3s");
    let scrape = || text(&metrics(&server, "?format=prometheus", Some(&token)));
    let started = std::time::Instant::now();
    assert_eq!(series(&scrape(), stored), Some(1.0), "the root");
    let issued = server.call(
        "POST",
        "pki/issue/web",
        &token,
        Some(json!({"common_name": "a.example", "ttl": "1h"})),
    );
    assert_eq!(issued.status, 200, "{:?}", issued.json);
    if started.elapsed() < std::time::Duration::from_millis(2500) {
        assert_eq!(
            series(&scrape(), stored),
            Some(1.0),
            "still the cached count"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(3200).saturating_sub(started.elapsed()));
    assert_eq!(series(&scrape(), stored), Some(2.0), "recounted");

    let (off, off_token) = scrape_with("metrics-usage-none", "none");
    let off_scrape = text(&metrics(&off, "?format=prometheus", Some(&off_token)));
    assert!(
        !off_scrape.contains("vaultlet_pki_certificates_stored"),
        "{off_scrape}"
    );
    assert!(
        off_scrape.contains("vaultlet_pki_issuer_not_after{"),
        "{off_scrape}"
    );
}

/// `vault_token_creation` carries Vault's labels, and the audit timers
/// move with an audit device (each audited request is timed) next to
/// their failure counters.
#[test]
fn token_creation_and_audit_series_have_vaults_names_and_labels() {
    let server = Server::dev();
    let created = server.write(
        "auth/token/create",
        json!({"ttl": "2h", "policies": ["default"]}),
    );
    assert_eq!(created.status, 200, "{:?}", created.json);
    let scrape = || text(&metrics(&server, "?format=prometheus", None));
    let first = scrape();
    assert_eq!(
        series(
            &first,
            "vault_token_creation{auth_method=\"token\",creation_ttl=\"2h\",mount_point=\"auth/token/\",namespace=\"root\",token_type=\"service\"}"
        ),
        Some(1.0),
        "{first}"
    );
    assert_eq!(
        series(&first, "vault_audit_log_request_count "),
        Some(0.0),
        "{first}"
    );

    let dir = temp_dir("metrics-audit");
    let log = dir.join("audit.log");
    let enabled = server.write(
        "sys/audit/file",
        json!({"type": "file", "options": {"file_path": log.to_string_lossy()}}),
    );
    assert_eq!(enabled.status, 204, "{:?}", enabled.json);
    for _ in 0..3 {
        assert_eq!(server.read("sys/mounts").status, 200);
    }
    let audited = scrape();
    assert!(
        series(&audited, "vault_audit_log_request_count ").expect("count") >= 3.0,
        "{audited}"
    );
    assert!(series(&audited, "vault_audit_log_response_count ").expect("count") >= 3.0);
    assert_eq!(
        series(&audited, "vault_audit_log_request_failure "),
        Some(0.0)
    );
}
