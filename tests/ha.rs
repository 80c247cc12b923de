//! Several vaultlet processes on one PostgreSQL database with
//! `ha_enabled = "true"` (started by `tests/postgres/run`, which sets
//! `VAULTLET_TEST_POSTGRES_URL`; ignored by a plain `cargo test`): one
//! active, standbys that forward to it over the cluster port (keeping the
//! client's address), failover after kill -9, fencing of a paused former
//! active, and `sys/step-down`.
//!
//! Waits are bounded polls; the failover times are printed, not asserted.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, LISTEN};
use serde_json::{json, Value};

/// How long any one state change may take before the test fails.
const BOUND: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

fn postgres_url() -> String {
    std::env::var("VAULTLET_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("VAULTLET_TEST_POSTGRES_URL is not set: run these tests through tests/postgres/run")
    })
}

/// The cluster's shared settings: one database table pair, one static seal.
struct Cluster {
    dir: std::path::PathBuf,
    table: String,
    root_token: String,
}

impl Cluster {
    fn new(name: &str) -> Cluster {
        Cluster {
            dir: common::temp_dir(name),
            table: common::unique_name(name),
            root_token: String::new(),
        }
    }

    /// One more node (its own config file, the same store and seal).
    fn node(&self, n: usize) -> Server {
        let dir = self.dir.join(format!("node{n}"));
        std::fs::create_dir_all(&dir).expect("node dir");
        let hcl = format!(
            "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\n\
             storage \"postgresql\" {{\n  connection_url = \"{}\"\n  table = \"{}\"\n  ha_table = \"{}_ha\"\n  ha_enabled = \"true\"\n  max_parallel = \"8\"\n}}\n\
             seal \"static\" {{\n  current_key = \"{}\"\n}}\n\
             telemetry {{\n  disable_hostname = true\n  prometheus_retention_time = \"1m\"\n}}\n",
            postgres_url(),
            self.table,
            self.table,
            "5e".repeat(32)
        );
        let mut server = Server::with_config(&dir, &hcl);
        server.root_token.clone_from(&self.root_token);
        server
    }

    /// The first node: it takes the lock and initializes the store.
    fn first(&mut self) -> Server {
        let mut server = self.node(0);
        let init = poll(|| {
            let reply = server.send("PUT", "sys/init", None, Some(b"{}".to_vec()));
            (reply.status == 200).then_some(reply)
        });
        self.root_token = init.json["root_token"].as_str().expect("root token").into();
        server.root_token.clone_from(&self.root_token);
        wait_active(&server);
        server
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `probe` until it answers, within [`BOUND`].
fn poll<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "no change within {BOUND:?}");
        std::thread::sleep(POLL);
    }
}

/// A client that shows redirects instead of following them.
fn raw_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn health(server: &Server) -> (u16, Value) {
    let reply = server.send("GET", "sys/health", None, None);
    (reply.status, reply.json)
}

fn leader(server: &Server) -> Value {
    server.send("GET", "sys/leader", None, None).json
}

fn wait_active(server: &Server) {
    poll(|| (health(server).0 == 200).then_some(()));
}

/// Waits until `server` is a standby that knows `active` as the leader.
fn wait_standby_of(server: &Server, active: &Server) {
    let address = format!("http://{}", active.addr);
    poll(|| {
        let leader = leader(server);
        (leader["is_self"] == false && leader["leader_address"] == address.as_str()).then_some(())
    });
}

fn ok(reply: common::Reply) -> common::Reply {
    assert!(reply.status < 300, "{} {:?}", reply.status, reply.json);
    reply
}

/// A request for the active node sent to `server`: served (a standby
/// forwards it), or 503 (Vault's error shape, Retry-After) while no active
/// node is known; never another 5xx.
fn check_answer_through(server: &Server) -> u16 {
    let response = raw_client()
        .get(server.url("sys/mounts?x=1"))
        .header("X-Vault-Token", &server.root_token)
        .send()
        .expect("request");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    match status {
        503 => {
            assert!(retry_after.is_some(), "503 without Retry-After");
            let body: Value = response.json().expect("JSON body");
            assert_eq!(
                body,
                json!({"errors": ["local node not active but active cluster node not found"]})
            );
        }
        200 => {
            let body: Value = response.json().expect("JSON body");
            assert!(body["data"]["sys/"].is_object(), "{body}");
        }
        other => panic!("a node answered {other} during failover"),
    }
    status
}

fn signal(server: &Server, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(server.pid().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Three nodes: exactly one active, the others standbys that say so and
/// forward; kill -9 of the active and one of the standbys serves, issuing
/// certificates, within a lock lifetime and a retry.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn one_of_three_is_active_and_a_standby_takes_over_after_kill_9() {
    let mut cluster = Cluster::new("ha_failover");
    let first = cluster.first();
    first.pki_with_web_role("HA Root", "example.com");
    let standbys = [cluster.node(1), cluster.node(2)];
    for standby in &standbys {
        wait_standby_of(standby, &first);
    }

    let actives = [&first, &standbys[0], &standbys[1]]
        .iter()
        .filter(|node| leader(node)["is_self"] == true)
        .count();
    assert_eq!(actives, 1);
    let active_leader = leader(&first);
    assert_eq!(active_leader["ha_enabled"], true);
    assert_eq!(
        active_leader["leader_address"],
        format!("http://{}", first.addr)
    );
    assert_ne!(active_leader["active_time"], "0001-01-01T00:00:00Z");
    let standby_leader = leader(&standbys[0]);
    assert_eq!(standby_leader["active_time"], "0001-01-01T00:00:00Z");
    assert_eq!(standby_leader["performance_standby"], false);

    let (status, body) = health(&standbys[0]);
    assert_eq!(status, 429);
    assert_eq!(
        (&body["sealed"], &body["standby"]),
        (&json!(false), &json!(true))
    );
    let ok_standby = standbys[0].send("GET", "sys/health?standbyok=true", None, None);
    assert_eq!(ok_standby.status, 200);
    let custom = standbys[0].send("GET", "sys/health?standbycode=299", None, None);
    assert_eq!(custom.status, 299);
    let sealed = standbys[0].send("GET", "sys/seal-status", None, None);
    assert_eq!(sealed.json["sealed"], false);
    assert_eq!(check_answer_through(&standbys[0]), 200);
    assert_eq!(
        ok(first.write("pki/issue/web", json!({"common_name":"a.example.com"}))).status,
        200
    );

    first.kill();
    let killed = Instant::now();
    let new_active = poll(|| {
        standbys.iter().position(|node| {
            check_answer_through(node);
            health(node).0 == 200
        })
    });
    let failover = killed.elapsed();
    println!("failover after kill -9: {} ms", failover.as_millis());
    let active = &standbys[new_active];
    let other = &standbys[1 - new_active];
    let issued = ok(active.write("pki/issue/web", json!({"common_name":"b.example.com"})));
    assert!(issued.data("certificate").as_str().is_some());
    wait_standby_of(other, active);
    assert_eq!(check_answer_through(other), 200);
}

/// A paused active (SIGSTOP) loses the lock to a standby; once resumed it
/// cannot commit a write, and it becomes a standby of the new active.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn a_paused_active_cannot_write_after_a_standby_took_over() {
    let mut cluster = Cluster::new("ha_fence");
    let first = cluster.first();
    ok(first.write(
        "sys/mounts/kv",
        json!({"type":"kv","options":{"version":"1"}}),
    ));
    ok(first.write("kv/before", json!({"value":"acknowledged"})));
    let second = cluster.node(1);
    wait_standby_of(&second, &first);

    signal(&first, "STOP");
    let stopped = Instant::now();
    wait_active(&second);
    println!(
        "takeover from a paused active: {} ms",
        stopped.elapsed().as_millis()
    );

    // Queued while the old active is paused, served when it resumes.
    let url = first.url("kv/after");
    let token = cluster.root_token.clone();
    let late_write = std::thread::spawn(move || {
        raw_client()
            .put(url)
            .header("X-Vault-Token", token)
            .body(r#"{"value":"from a former active"}"#)
            .send()
            .map(|r| r.status().as_u16())
    });
    std::thread::sleep(Duration::from_millis(200));
    signal(&first, "CONT");
    let status = late_write.join().expect("thread").expect("answer");
    println!("the resumed former active answered {status} to a write");
    // Refused (its own commit is fenced), or forwarded to the new active
    // once it knows it is a standby: never lost once acknowledged.
    let landed = match status {
        503 => false,
        204 => true,
        other => panic!("a former active answered {other} to a write"),
    };
    wait_standby_of(&first, &second);
    let after = second.read("kv/after");
    assert_eq!(after.status, if landed { 200 } else { 404 });
    assert_eq!(
        ok(second.read("kv/before")).data("value"),
        &json!("acknowledged")
    );
    ok(second.write("kv/after", json!({"value":"from the active"})));
}

/// `sys/step-down` (root-protected) moves the active role to a standby.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn step_down_hands_the_active_role_to_a_standby() {
    let mut cluster = Cluster::new("ha_step_down");
    let first = cluster.first();
    let second = cluster.node(1);
    wait_standby_of(&second, &first);

    let anonymous = first.send("PUT", "sys/step-down", None, None);
    assert_eq!(anonymous.status, 403);
    ok(first.write(
        "sys/policies/acl/ops",
        json!({"policy":"path \"sys/*\" { capabilities = [\"update\"] }"}),
    ));
    let ops = ok(first.write("auth/token/create", json!({"policies":["ops"]}))).client_token();
    let refused = first.call("PUT", "sys/step-down", &ops, None);
    assert_eq!(refused.status, 403);

    // Written under a keyring term the standby did not unseal with.
    ok(first.write("sys/rotate", json!({})));
    ok(first.write(
        "sys/mounts/kv",
        json!({"type":"kv","options":{"version":"1"}}),
    ));
    ok(first.write("kv/rotated", json!({"value":"new term"})));

    let stepped = first.call("PUT", "sys/step-down", &cluster.root_token, None);
    assert_eq!(stepped.status, 204);
    let started = Instant::now();
    wait_active(&second);
    println!("step-down handover: {} ms", started.elapsed().as_millis());
    wait_standby_of(&first, &second);
    assert_eq!(health(&first).0, 429);
    assert_eq!(
        ok(second.read("kv/rotated")).data("value"),
        &json!("new term")
    );
    // The new active's metrics show its role, its lock term (later than
    // the first node's) and one leadership acquired.
    let scrape = second.call(
        "GET",
        "sys/metrics?format=prometheus",
        &cluster.root_token,
        None,
    );
    let scrape = String::from_utf8_lossy(&scrape.raw).into_owned();
    let value = |prefix: &str| {
        scrape
            .lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{prefix}: {scrape}"))
    };
    assert_eq!(value("vault_core_active{"), 1.0, "{scrape}");
    assert_eq!(value("vaultlet_core_standby{"), 0.0, "{scrape}");
    assert_eq!(value("vaultlet_core_leadership_acquired{"), 1.0, "{scrape}");
    assert!(value("vaultlet_core_ha_lock_term{") >= 2.0, "{scrape}");
}

/// The store's own fence, without a server: once another node took the
/// lock, a write by the former holder (which has not noticed) is refused
/// in its transaction and leaves nothing behind; the new holder writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
async fn the_store_refuses_a_write_by_a_former_lock_holder() {
    use vaultlet::storage::ha::Advertisement;
    use vaultlet::storage::{PostgresSettings, PostgresStorage, Storage, StorageError};

    let table = common::unique_name("fence");
    let mut settings = PostgresSettings::new(postgres_url());
    settings.table.clone_from(&table);
    settings.ha_table = format!("{table}_ha");
    settings.ha_enabled = true;
    settings.ha_lock_ttl = Duration::from_millis(300);
    let open = || async {
        let store = PostgresStorage::open(&settings).await.expect("open");
        let lock = store.ha_lock().expect("ha lock");
        (store, lock)
    };
    let (old, old_lock) = open().await;
    let (new, new_lock) = open().await;
    let here = Advertisement::default();

    assert!(matches!(
        new.put("k/standby", b"x".to_vec()).await,
        Err(StorageError::Unavailable(_))
    ));
    let first = old_lock
        .acquire(&here)
        .await
        .expect("acquire")
        .expect("free");
    assert!(new_lock.acquire(&here).await.expect("acquire").is_none());
    old.put("k/before", b"1".to_vec())
        .await
        .expect("holder writes");

    // The old holder stops renewing; the other takes over once it expires.
    let deadline = Instant::now() + BOUND;
    let second = loop {
        if let Some(term) = new_lock.acquire(&here).await.expect("acquire") {
            break term;
        }
        assert!(Instant::now() < deadline, "the lock never expired");
        tokio::time::sleep(POLL).await;
    };
    assert!(second > first);
    let refused = old.put("k/after", b"2".to_vec()).await;
    assert!(
        matches!(refused, Err(StorageError::Unavailable(_))),
        "{refused:?}"
    );
    assert_eq!(new.get("k/after").await.expect("get"), None);
    assert!(!old_lock.renew(first).await.expect("renew"));
    new.put("k/after", b"3".to_vec())
        .await
        .expect("new holder writes");
    assert_eq!(new.get("k/before").await.expect("get"), Some(b"1".to_vec()));
}

/// A client bound to `ip` (a loopback address other than the nodes').
fn client_from(ip: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().expect("ip"))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `PUT url` with a JSON body from `client`: status and body.
fn put_from(client: &reqwest::blocking::Client, url: String, body: &Value) -> (u16, Value) {
    let response = client.put(url).json(body).send().expect("request");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// A standby serves its clients through the active: writes land, and the
/// active sees the client's own address (CIDR-bound secret IDs and tokens,
/// the audit log), not the standby's.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn a_standby_forwards_writes_and_the_client_address() {
    let mut cluster = Cluster::new("ha_forward");
    let first = cluster.first();
    let standby = cluster.node(1);
    wait_standby_of(&standby, &first);

    ok(standby.write(
        "sys/mounts/kv",
        json!({"type":"kv","options":{"version":"1"}}),
    ));
    ok(standby.write("kv/through", json!({"value":"via the standby"})));
    assert_eq!(
        ok(first.read("kv/through")).data("value"),
        &json!("via the standby")
    );
    assert_eq!(
        ok(standby.read("kv/through")).data("value"),
        &json!("via the standby")
    );
    assert_eq!(health(&standby).0, 429, "still a standby");

    let log = cluster.dir.join("audit.log");
    ok(standby.write(
        "sys/audit/file",
        json!({"type":"file","options":{"file_path": log.display().to_string()}}),
    ));
    ok(standby.write("sys/auth/approle", json!({"type":"approle"})));
    ok(standby.write("auth/approle/role/svc", json!({"token_policies":"default"})));
    let role_id = ok(standby.read("auth/approle/role/svc/role-id"))
        .data("role_id")
        .as_str()
        .expect("role_id")
        .to_string();
    let secret_id = |cidr: &str| {
        ok(standby.write(
            "auth/approle/role/svc/secret-id",
            json!({"cidr_list": cidr, "token_bound_cidrs": cidr}),
        ))
        .data("secret_id")
        .as_str()
        .expect("secret_id")
        .to_string()
    };
    let (near, far) = (secret_id("127.0.0.2/32"), secret_id("127.0.0.1/32"));

    // The nodes reach each other from 127.0.0.1; this client is 127.0.0.2.
    let client = client_from("127.0.0.2");
    let login = |secret_id: &str| {
        put_from(
            &client,
            standby.url("auth/approle/login"),
            &json!({"role_id": role_id, "secret_id": secret_id}),
        )
    };
    let (status, refused) = login(&far);
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["errors"][0],
        "source address \"127.0.0.2\" unauthorized through CIDR restrictions on the secret ID"
    );
    let (status, body) = login(&near);
    assert_eq!(status, 200, "{body}");
    let token = body["auth"]["client_token"].as_str().expect("token");
    let lookup = |client: &reqwest::blocking::Client, node: &Server| {
        client
            .get(node.url("auth/token/lookup-self"))
            .header("X-Vault-Token", token)
            .send()
            .expect("request")
            .status()
            .as_u16()
    };
    assert_eq!(lookup(&client, &standby), 200);
    assert_eq!(lookup(&client, &first), 200);
    assert_eq!(lookup(&client_from("127.0.0.1"), &standby), 403);

    let audited = std::fs::read_to_string(&log).expect("audit log");
    let login_entry = audited
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("audit JSON"))
        .find(|entry| {
            entry["type"] == "response" && entry["request"]["path"] == "auth/approle/login"
        })
        .expect("the login is audited");
    assert_eq!(login_entry["request"]["remote_address"], "127.0.0.2");
}

/// Only the cluster's nodes are heard on the cluster port, and only there
/// may a request speak for another client.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn forged_forwarded_requests_are_refused() {
    let mut cluster = Cluster::new("ha_forged");
    let first = cluster.first();
    let standby = cluster.node(1);
    wait_standby_of(&standby, &first);

    for node in [&first, &standby] {
        let forged = node.send_with_headers(
            "GET",
            "sys/mounts",
            Some(&cluster.root_token),
            &[("X-Vaultlet-Forwarded-For", "10.9.8.7:1234")],
            None,
        );
        assert_eq!(forged.status, 403);
        assert_eq!(
            forged.errors(),
            vec!["forwarded requests are only accepted from cluster nodes on the cluster port"]
        );
    }

    let cluster_addr = leader(&standby)["leader_cluster_address"]
        .as_str()
        .expect("cluster address")
        .to_string();
    assert!(
        cluster_addr.starts_with("https://127.0.0.1:"),
        "{cluster_addr}"
    );
    let url = format!("{cluster_addr}/v1/sys/mounts");
    let outsider = rcgen::generate_simple_self_signed(vec!["cluster.vaultlet.internal".into()])
        .expect("certificate");
    let identity = reqwest::Identity::from_pem(
        format!(
            "{}{}",
            outsider.cert.pem(),
            outsider.signing_key.serialize_pem()
        )
        .as_bytes(),
    )
    .expect("identity");
    let without_cert = reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let with_foreign_cert = reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .identity(identity)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    for client in [without_cert, with_foreign_cert] {
        let answer = client
            .get(&url)
            .header("X-Vault-Token", &cluster.root_token)
            .header("X-Vaultlet-Forwarded-For", "10.9.8.7:1234")
            .send();
        assert!(answer.is_err(), "the cluster port answered {answer:?}");
    }
}

/// `sys/ha-status` (asked of either node: a standby forwards it) lists
/// the active first, then each standby once it echoed, with Vault's fields.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn ha_status_lists_the_active_and_the_standbys_that_echoed() {
    let mut cluster = Cluster::new("ha_status");
    let first = cluster.first();
    let standby = cluster.node(1);
    wait_standby_of(&standby, &first);

    let anonymous = standby.send("GET", "sys/ha-status", None, None);
    assert_eq!(anonymous.status, 403);
    let nodes = poll(|| {
        let status = ok(standby.read("sys/ha-status"));
        assert_eq!(status.json["nodes"], status.json["data"]["nodes"]);
        let nodes = status.data("nodes").as_array().expect("nodes").clone();
        (nodes.len() == 2).then_some(nodes)
    });
    let cluster_address = |node: &Server| {
        leader(node)["leader_cluster_address"]
            .as_str()
            .expect("cluster address")
            .to_string()
    };
    let active = &nodes[0];
    assert_eq!(active["active_node"], true);
    assert_eq!(active["last_echo"], Value::Null);
    assert_eq!(active["api_address"], format!("http://{}", first.addr));
    assert_eq!(active["cluster_address"], cluster_address(&standby));
    let echoed = &nodes[1];
    assert_eq!(echoed["active_node"], false);
    assert_eq!(echoed["api_address"], format!("http://{}", standby.addr));
    assert_ne!(echoed["cluster_address"], active["cluster_address"]);
    let last_echo = echoed["last_echo"].as_str().expect("last_echo");
    assert!(
        time::OffsetDateTime::parse(last_echo, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{last_echo}"
    );
    for node in [active, echoed] {
        assert!(!node["hostname"].as_str().expect("hostname").is_empty());
        assert_eq!(
            node["version"],
            ok(first.read("sys/seal-status")).json["version"]
        );
    }
}
