//! Several vaultlet processes on one PostgreSQL database with
//! `ha_enabled = "true"` (started by `tests/postgres/run`, which sets
//! `VAULTLET_TEST_POSTGRES_URL`; ignored by a plain `cargo test`): one
//! active, standbys that forward to it over the cluster port (keeping the
//! client's address), failover after kill -9, fencing of a paused former
//! active, `sys/step-down`, and standbys that sign `no_store` certificates
//! themselves with the active's latest state (the store's change notices
//! and sync markers, then three nodes end to end).
//!
//! Waits are bounded polls; the failover times are printed, not asserted.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::postgres::postgres_url;
use common::{Server, LISTEN};
use serde_json::{json, Value};

/// How long any one state change may take before the test fails.
const BOUND: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

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
            "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n  telemetry {{\n    unauthenticated_metrics_access = true\n  }}\n}}\n\
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
        Err(StorageError::ReadOnly)
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
        matches!(refused, Err(StorageError::ReadOnly)),
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

/// A snapshot through a standby (forwarded to the active) and restored
/// there: the active writes it under its lock, and after a step-down the
/// other node, now active, serves the restored store.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn a_snapshot_restored_through_a_standby_holds_after_a_handover() {
    const SNAPSHOT: &str = "sys/storage/raft/snapshot";
    let mut cluster = Cluster::new("ha_snapshot");
    let first = cluster.first();
    let second = cluster.node(1);
    wait_standby_of(&second, &first);
    ok(first.write("sys/mounts/kv", json!({"type": "kv"})));
    ok(first.write("kv/a", json!({"v": "1"})));

    let taken = ok(second.read(SNAPSHOT));
    assert!(vaultlet::storage::snapshot::decode(&taken.raw).is_ok());
    ok(first.write("kv/a", json!({"v": "2"})));
    ok(first.write("sys/rotate", json!({})));
    ok(first.write("kv/b", json!({"v": "3"})));

    let restored = second.send("POST", SNAPSHOT, Some(&cluster.root_token), Some(taken.raw));
    assert_eq!(restored.status, 204, "{:?}", restored.json);
    assert_eq!(ok(first.read("kv/a")).data("v"), "1");
    assert_eq!(first.read("kv/b").status, 404);

    ok(first.call("PUT", "sys/step-down", &cluster.root_token, None));
    wait_active(&second);
    assert_eq!(ok(second.read("kv/a")).data("v"), "1");
    assert_eq!(second.read("kv/b").status, 404);
    ok(second.write("kv/c", json!({"v": "4"})));
    assert_eq!(
        ok(first.read("kv/c")).data("v"),
        "4",
        "through the new active"
    );
}

/// How many certificates `node` itself issued for `role` on `mount`, with
/// `outcome`, as its own `sys/metrics` counts them (each node answers its
/// metrics itself: `unauthenticated_metrics_access`). A request a standby
/// forwards is counted by the active only.
fn counted(node: &Server, mount: &str, role: &str, outcome: &str) -> u64 {
    let text = raw_client()
        .get(node.url("sys/metrics?format=prometheus"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    let labels = [
        format!("mount_point=\"{mount}\""),
        format!("role=\"{role}\""),
        format!("outcome=\"{outcome}\""),
    ];
    text.lines()
        .filter(|line| line.starts_with("vaultlet_pki_certificates_issued_total{"))
        .filter(|line| labels.iter().all(|label| line.contains(label.as_str())))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn issue(node: &Server, token: &str, path: &str, name: &str) -> common::Reply {
    node.call("PUT", path, token, Some(json!({"common_name": name})))
}

/// A token that may issue from every role of `pki/` and `pki2/`.
fn signer_token(active: &Server) -> String {
    ok(active.write(
        "sys/policy/signer",
        json!({"policy": "path \"pki/issue/*\" { capabilities = [\"update\"] }\npath \"pki2/issue/*\" { capabilities = [\"update\"] }"}),
    ));
    ok(active.write("auth/token/create", json!({"policies": ["signer"]}))).client_token()
}

/// Waits until `standby` issues from `pki/` role `web` by itself.
fn wait_signing_itself(standby: &Server, token: &str) {
    poll(|| {
        let before = counted(standby, "pki/", "web", "success");
        ok(issue(standby, token, "pki/issue/web", "warm.example.com"));
        (counted(standby, "pki/", "web", "success") == before + 1).then_some(())
    });
}

/// Three nodes. The standbys issue `no_store` certificates themselves
/// (their own metrics count them, the active's do not) and send a stored
/// role's issuance to the active; each change on the active (a role, a
/// revoked token, a policy, a mount) holds on every standby for the very
/// next request, sent once the change's answer is back.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn standbys_sign_no_store_certificates_with_the_actives_latest_state() {
    let mut cluster = Cluster::new("ha_standby_sign");
    let first = cluster.first();
    first.pki_with_web_role("HA Root", "example.com");
    let web = |domain: &str| json!({"allowed_domains": domain, "allow_subdomains": true, "ttl": "1h", "no_store": true});
    ok(first.write("pki/roles/web", web("example.com")));
    ok(first.write(
        "pki/roles/stored",
        json!({"allowed_domains": "example.com", "allow_subdomains": true, "ttl": "1h"}),
    ));
    let token = signer_token(&first);
    let standbys = [cluster.node(1), cluster.node(2)];
    for standby in &standbys {
        wait_standby_of(standby, &first);
        wait_signing_itself(standby, &token);
    }

    // Served by the standbys themselves, checked by the standby's token
    // and the active's CA.
    let pem = |node: &Server| String::from_utf8(ok(node.send("GET", "pki/ca/pem", None, None)).raw);
    let ca = pem(&first).expect("PEM");
    let on_active = counted(&first, "pki/", "web", "success");
    for standby in &standbys {
        let before = counted(standby, "pki/", "web", "success");
        for n in 0..5 {
            let issued = ok(issue(
                standby,
                &token,
                "pki/issue/web",
                &format!("s{n}.example.com"),
            ));
            assert_eq!(
                issued.data("issuing_ca").as_str().map(str::trim),
                Some(ca.trim())
            );
        }
        assert_eq!(counted(standby, "pki/", "web", "success"), before + 5);
        assert_eq!(pem(standby).expect("PEM"), ca);
        let crl = standby.send("GET", "pki/crl/pem", None, None);
        assert_eq!(crl.status, 200);
    }
    assert_eq!(counted(&first, "pki/", "web", "success"), on_active);

    // A stored certificate is the active's to issue and keep.
    let stored = ok(issue(
        &standbys[0],
        &token,
        "pki/issue/stored",
        "kept.example.com",
    ));
    assert_eq!(counted(&standbys[0], "pki/", "stored", "success"), 0);
    assert_eq!(counted(&first, "pki/", "stored", "success"), 1);
    let serial = stored
        .data("serial_number")
        .as_str()
        .expect("serial")
        .to_string();
    ok(first.read(&format!("pki/cert/{serial}")));

    // So is a wrapped answer (the wrapping token is stored), and a token
    // with a use count (each use is a write).
    let wrapped = standbys[0].send_with_headers(
        "PUT",
        "pki/issue/web",
        Some(&token),
        &[("X-Vault-Wrap-TTL", "60")],
        Some(br#"{"common_name":"wrapped.example.com"}"#.to_vec()),
    );
    assert_eq!(wrapped.status, 200);
    assert!(
        wrapped.json["wrap_info"]["token"].is_string(),
        "{:?}",
        wrapped.json
    );
    let limited = ok(first.write(
        "auth/token/create",
        json!({"policies": ["signer"], "num_uses": 2}),
    ))
    .client_token();
    ok(issue(
        &standbys[0],
        &limited,
        "pki/issue/web",
        "limited.example.com",
    ));
    ok(issue(
        &standbys[1],
        &limited,
        "pki/issue/web",
        "limited.example.com",
    ));
    let used_up = issue(
        &standbys[0],
        &limited,
        "pki/issue/web",
        "limited.example.com",
    );
    assert_eq!(used_up.status, 403);
    assert_eq!(counted(&first, "pki/", "web", "success"), on_active + 3);
    for standby in &standbys {
        let mine = counted(standby, "pki/", "web", "success");
        ok(issue(standby, &token, "pki/issue/web", "mine.example.com"));
        assert_eq!(counted(standby, "pki/", "web", "success"), mine + 1);
    }

    // A role change on the active holds for the next request on each
    // standby, every time.
    for round in 0..10 {
        let (allowed, refused) = if round % 2 == 0 {
            ("example.org", "example.com")
        } else {
            ("example.com", "example.org")
        };
        ok(first.write("pki/roles/web", web(allowed)));
        for standby in &standbys {
            let before = counted(standby, "pki/", "web", "success");
            let stale = issue(
                standby,
                &token,
                "pki/issue/web",
                &format!("r{round}.{refused}"),
            );
            assert_eq!(stale.status, 400, "round {round}: {:?}", stale.errors());
            ok(issue(
                standby,
                &token,
                "pki/issue/web",
                &format!("r{round}.{allowed}"),
            ));
            assert_eq!(counted(standby, "pki/", "web", "success"), before + 1);
        }
    }
    ok(first.write("pki/roles/web", web("example.com")));

    // A token revoked on the active is refused by every standby at once.
    for _ in 0..5 {
        let doomed =
            ok(first.write("auth/token/create", json!({"policies": ["signer"]}))).client_token();
        for standby in &standbys {
            ok(issue(
                standby,
                &doomed,
                "pki/issue/web",
                "doomed.example.com",
            ));
        }
        ok(first.write("auth/token/revoke", json!({"token": doomed})));
        for standby in &standbys {
            let refused = issue(standby, &doomed, "pki/issue/web", "doomed.example.com");
            assert_eq!(refused.status, 403, "{:?}", refused.json);
        }
    }

    // So is a policy that no longer grants the path, and one that grants
    // it again.
    ok(first.write(
        "sys/policy/signer",
        json!({"policy": "path \"pki/issue/*\" { capabilities = [\"read\"] }"}),
    ));
    for standby in &standbys {
        assert_eq!(
            issue(standby, &token, "pki/issue/web", "p.example.com").status,
            403
        );
    }
    signer_token(&first);
    for standby in &standbys {
        ok(issue(standby, &token, "pki/issue/web", "p.example.com"));
    }

    // A mount made on the active serves on the standbys (by themselves
    // once their view has reloaded); once gone it is gone everywhere.
    ok(first.write("sys/mounts/pki2", json!({"type": "pki"})));
    ok(first.write(
        "pki2/root/generate/internal",
        json!({"common_name": "Second Root", "key_type": "ec", "ttl": "8760h"}),
    ));
    ok(first.write("pki2/roles/edge", web("example.net")));
    for standby in &standbys {
        ok(issue(standby, &token, "pki2/issue/edge", "e.example.net"));
        poll(|| {
            let before = counted(standby, "pki2/", "edge", "success");
            ok(issue(standby, &token, "pki2/issue/edge", "e.example.net"));
            (counted(standby, "pki2/", "edge", "success") == before + 1).then_some(())
        });
    }
    ok(first.delete("sys/mounts/pki2"));
    for standby in &standbys {
        let gone = issue(standby, &token, "pki2/issue/edge", "e.example.net");
        assert!(
            gone.status == 403 || gone.status == 404,
            "{} {:?}",
            gone.status,
            gone.json
        );
    }

    // Every node's listening connection cut off: the standbys answer all
    // the same (forwarding until they listen again), still honour a
    // revocation at once, and sign by themselves again.
    assert_eq!(cut_listeners(&cluster.table), 3);
    let doomed =
        ok(first.write("auth/token/create", json!({"policies": ["signer"]}))).client_token();
    ok(first.write("auth/token/revoke", json!({"token": doomed})));
    for standby in &standbys {
        ok(issue(standby, &token, "pki/issue/web", "cut.example.com"));
        assert_eq!(
            issue(standby, &doomed, "pki/issue/web", "cut.example.com").status,
            403
        );
        wait_signing_itself(standby, &token);
    }
}

/// Ends the listening connections of the nodes sharing `table` (each shows
/// the table's change channel as its `application_name`); how many ended.
fn cut_listeners(table: &str) -> u64 {
    use vaultlet::storage::{PostgresSettings, PostgresStorage};
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut settings = PostgresSettings::new(postgres_url());
        settings.table = table.to_string();
        settings.ha_table = format!("{table}_ha");
        settings.ha_enabled = true;
        settings.skip_create_table = true;
        let store = PostgresStorage::open(&settings).await.expect("open");
        let channel = store.changes_channel().expect("ha").to_string();
        let (admin, connection) = tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&channel],
            )
            .await
            .expect("terminate")
            .get::<_, i64>(0)
            .try_into()
            .expect("count")
    })
}

/// While the active is paused (SIGSTOP), both standbys keep issuing
/// `no_store` certificates themselves until one of them takes over; the
/// other keeps issuing after.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn standbys_keep_signing_while_the_active_is_paused() {
    let mut cluster = Cluster::new("ha_standby_pause");
    let first = cluster.first();
    first.pki_with_web_role("HA Root", "example.com");
    ok(first.write(
        "pki/roles/web",
        json!({"allowed_domains": "example.com", "allow_subdomains": true, "ttl": "1h", "no_store": true}),
    ));
    let token = signer_token(&first);
    let standbys = [cluster.node(1), cluster.node(2)];
    for standby in &standbys {
        wait_standby_of(standby, &first);
        wait_signing_itself(standby, &token);
    }

    signal(&first, "STOP");
    let stopped = Instant::now();
    let mut signed_while_paused = 0;
    let new_active = loop {
        if let Some(active) = standbys.iter().position(|node| health(node).0 == 200) {
            break active;
        }
        for standby in &standbys {
            let before = counted(standby, "pki/", "web", "success");
            ok(issue(
                standby,
                &token,
                "pki/issue/web",
                "paused.example.com",
            ));
            assert_eq!(counted(standby, "pki/", "web", "success"), before + 1);
            signed_while_paused += 1;
        }
        assert!(stopped.elapsed() < BOUND, "no takeover");
    };
    println!(
        "standbys issued {signed_while_paused} certificates themselves in the {} ms before a takeover",
        stopped.elapsed().as_millis()
    );
    assert!(signed_while_paused > 0);
    let other = &standbys[1 - new_active];
    for _ in 0..10 {
        ok(issue(other, &token, "pki/issue/web", "after.example.com"));
    }
    signal(&first, "CONT");
    wait_standby_of(other, &standbys[new_active]);
    wait_signing_itself(other, &token);
}

/// The next change a feed brings, within [`BOUND`].
async fn next(
    changes: &mut tokio::sync::mpsc::UnboundedReceiver<vaultlet::storage::ha::Change>,
) -> vaultlet::storage::ha::Change {
    tokio::time::timeout(BOUND, changes.recv())
        .await
        .expect("a change in time")
        .expect("the feed runs")
}

/// The store's change notices without a server: a standby's feed hears
/// each committed write's keys, nothing of a refused one, a sync marker
/// after everything committed before it was asked for, and "everything"
/// for a batch too large to name; and a listening connection cut off is
/// reported and replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
async fn a_standby_hears_each_committed_write_before_a_later_sync_marker() {
    use vaultlet::storage::ha::{Advertisement, Change};
    use vaultlet::storage::{BatchOp, PostgresSettings, PostgresStorage, Storage};

    let table = common::unique_name("notify");
    let mut settings = PostgresSettings::new(postgres_url());
    settings.table.clone_from(&table);
    settings.ha_table = format!("{table}_ha");
    settings.ha_enabled = true;
    let active = PostgresStorage::open(&settings).await.expect("open");
    let standby = PostgresStorage::open(&settings).await.expect("open");
    let active_lock = active.ha_lock().expect("ha lock");
    let standby_lock = standby.ha_lock().expect("ha lock");
    active_lock
        .acquire(&Advertisement::default())
        .await
        .expect("acquire")
        .expect("free");
    let mut feed = standby_lock.watch();
    assert_eq!(next(&mut feed.changes).await, Change::Listening);

    active.put("a/1", b"1".to_vec()).await.expect("put");
    active
        .batch(vec![
            BatchOp::Put("a/2".into(), b"2".to_vec()),
            BatchOp::Delete("a/1".into()),
        ])
        .await
        .expect("batch");
    assert!(standby.put("a/3", b"3".to_vec()).await.is_err());
    let marker = feed.sync.request();
    assert_eq!(
        next(&mut feed.changes).await,
        Change::Keys(vec!["a/1".into()])
    );
    assert_eq!(
        next(&mut feed.changes).await,
        Change::Keys(vec!["a/2".into(), "a/1".into()])
    );
    assert_eq!(next(&mut feed.changes).await, Change::Synced(marker));

    let many = (0..1000)
        .map(|i| BatchOp::Put(format!("b/{i:040}"), vec![0]))
        .collect();
    active.batch(many).await.expect("batch");
    assert_eq!(next(&mut feed.changes).await, Change::Everything);

    // A listening connection cut off: the standby is told to trust
    // nothing, listens again by itself, and hears what comes next.
    let channel = standby.changes_channel().expect("ha").to_string();
    let (admin, connection) = tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let cut = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&channel],
        )
        .await
        .expect("terminate");
    assert_eq!(cut, 1);
    assert_eq!(next(&mut feed.changes).await, Change::Lost);
    assert_eq!(next(&mut feed.changes).await, Change::Listening);
    active.put("a/4", b"4".to_vec()).await.expect("put");
    assert_eq!(
        next(&mut feed.changes).await,
        Change::Keys(vec!["a/4".into()])
    );
}
