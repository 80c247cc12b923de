//! `vaultlet-bench`: a load generator for any Vault-API server (vaultlet,
//! Vault, OpenBao). It sets up its own PKI mount, roles and AppRole at
//! random paths on the target, so the same command measures every server,
//! then runs each scenario with N concurrent clients for T seconds and
//! reports requests/s, latency percentiles and errors (text or JSON).
//!
//! Also: the in-process crypto baseline (`crypto`), a readiness probe that
//! times startup (`wait-healthy`), and the scale setup and measurements
//! (`scale-seed`, `scale`).

pub mod acme;
pub mod client;
pub mod crypto;
pub mod scale;
pub mod scenarios;
pub mod stats;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use client::{Api, Call};
use stats::ScenarioResult;

#[derive(Parser, Debug)]
#[command(name = "vaultlet-bench", about = "Benchmark any Vault-API server")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// Server address (VAULT_ADDR).
    #[arg(long, env = "VAULT_ADDR", default_value = "http://127.0.0.1:8200")]
    pub addr: String,
    /// Token with rights to mount engines and auth methods (VAULT_TOKEN).
    #[arg(long, env = "VAULT_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Skip TLS verification for https targets.
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenarios against a target.
    Run(RunArgs),
    /// Measure the in-process crypto limit of this machine.
    Crypto {
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Wait until GET /v1/sys/health answers (200, or any status with
    /// --any-status); print milliseconds since --since-ns (CLOCK_REALTIME ns).
    WaitHealthy {
        #[arg(long, env = "VAULT_ADDR", default_value = "http://127.0.0.1:8200")]
        addr: String,
        #[arg(long)]
        since_ns: Option<u128>,
        #[arg(long)]
        any_status: bool,
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
    },
    /// Bench-only: write certificates straight into a stopped vaultlet's
    /// durable store (through the seal barrier), under a PKI mount.
    ScaleSeed(scale::SeedArgs),
    /// Measure LIST certs (paged and full), CRL rebuild and tidy on a mount.
    Scale(scale::MeasureArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: Target,
    /// Label of the target in the output.
    #[arg(long, default_value = "target")]
    pub label: String,
    /// Comma-separated scenarios: sign, sign-intermediate, issue-ec256,
    /// issue-rsa2048, approle-login, transit-encrypt (aes256-gcm96, 1 KiB),
    /// transit-sign (ecdsa-p256), health, acme (orders over http-01 with a
    /// responder on --acme-http-port) (or "all").
    #[arg(long, default_value = "sign")]
    pub scenarios: String,
    /// no_store for the issuance scenarios: on, off or both.
    #[arg(long, default_value = "both")]
    pub no_store: String,
    /// Concurrent clients (one connection each).
    #[arg(short = 'c', long, default_value_t = 32)]
    pub concurrency: usize,
    /// Measured seconds per scenario.
    #[arg(short = 'd', long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured warm-up seconds before each scenario.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Send exactly this many measured requests per scenario instead of
    /// running for `--duration`: a fixed amount of work, so that the
    /// server's CPU time and instruction count per request can be read off
    /// a counter (`perf stat -p`) on a machine too busy for wall clock.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Server pid: report its peak RSS (VmHWM) per scenario, reset before each.
    #[arg(long)]
    pub pid: Option<u32>,
    /// JSON lines output (one object per scenario).
    #[arg(long)]
    pub json: bool,
    /// Port of the acme scenario's http-01 responder on 127.0.0.1 (servers
    /// validate on 80, which needs root or CAP_NET_BIND_SERVICE).
    #[arg(long, default_value_t = 80)]
    pub acme_http_port: u16,
    /// Keep the mount and auth method afterwards.
    #[arg(long)]
    pub keep: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => runtime().block_on(run(args)),
        Command::Crypto {
            seconds,
            threads,
            json,
        } => {
            let threads = threads.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
            let b = crypto::measure(threads, seconds);
            if json {
                println!("{}", serde_json::to_string(&b).unwrap_or_default());
            } else {
                println!(
                    "crypto limit ({} threads): P-256 verify+sign {:.0}/s, P-256 keygen+sign {:.0}/s, RSA-2048 keygen+sign {:.1}/s",
                    b.threads, b.p256_sign_verify_per_s, b.p256_keygen_sign_per_s, b.rsa2048_keygen_sign_per_s
                );
            }
            Ok(())
        }
        Command::WaitHealthy {
            addr,
            since_ns,
            any_status,
            timeout,
        } => runtime().block_on(wait_healthy(&addr, since_ns, any_status, timeout)),
        Command::ScaleSeed(args) => runtime().block_on(scale::seed(args)),
        Command::Scale(args) => runtime().block_on(scale::measure(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vaultlet-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The client runs on one thread: the load generator shares the machine
/// with the server, and one thread drives far more than a signer serves.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn wait_healthy(
    addr: &str,
    since_ns: Option<u128>,
    any_status: bool,
    timeout: f64,
) -> Result<(), String> {
    let start = since_ns.unwrap_or_else(now_ns);
    let deadline = Instant::now() + Duration::from_secs_f64(timeout);
    // Plain HTTP is probed with a bare socket: building an HTTPS client
    // (loading the system roots) would cost more than the server's startup.
    let authority = addr
        .strip_prefix("http://")
        .map(|r| r.split('/').next().unwrap_or(r).to_string());
    let api = match authority {
        Some(_) => None,
        None => Some(Api::new(addr, "", true)?),
    };
    loop {
        let status = match (&authority, &api) {
            (Some(authority), _) => probe_status(authority).await,
            (None, Some(api)) => match api.get("sys/health").await {
                Ok(_) => Some(200),
                Err(e) if !e.contains("error sending request") => Some(0),
                Err(_) => None,
            },
            _ => None,
        };
        match status {
            Some(200) => break,
            Some(_) if any_status => break,
            _ => {}
        }
        if Instant::now() > deadline {
            return Err(format!("{addr} not healthy after {timeout} s"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed_ms = (now_ns().saturating_sub(start)) as f64 / 1e6;
    println!("{elapsed_ms:.1}");
    Ok(())
}

/// The status code of `GET /v1/sys/health`, or None if nothing answers.
async fn probe_status(authority: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
    let request =
        format!("GET /v1/sys/health HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut buf = [0u8; 32];
    let mut n = 0;
    while n < 12 {
        let r = stream.read(&mut buf[n..]).await.ok()?;
        if r == 0 {
            return None;
        }
        n += r;
    }
    std::str::from_utf8(&buf[9..12]).ok()?.parse().ok()
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// VmHWM of `pid` in MB, then reset it (`clear_refs` 5) for the next scenario.
fn peak_rss_mb(pid: u32, reset: bool) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    if reset {
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
    Some(kb / 1024.0)
}

async fn run(args: RunArgs) -> Result<(), String> {
    let api = Api::new(&args.target.addr, &args.target.token, args.target.insecure)?;
    let names: Vec<String> = if args.scenarios == "all" {
        scenarios::ALL.iter().map(|s| s.to_string()).collect()
    } else {
        args.scenarios
            .split(',')
            .map(|s| s.trim().to_string())
            .collect()
    };
    let store_modes: Vec<bool> = match args.no_store.as_str() {
        "on" | "true" => vec![true],
        "off" | "false" => vec![false],
        "both" => vec![true, false],
        other => return Err(format!("--no-store must be on, off or both, not {other:?}")),
    };
    let fixture =
        scenarios::Fixture::create(&api, names.iter().any(|n| n == "approle-login")).await?;
    if !args.json {
        println!("{}", stats::text_header());
    }
    let mut failure = None;
    'outer: for name in &names {
        let modes: Vec<Option<bool>> = if scenarios::has_store_variant(name) {
            store_modes.iter().map(|&m| Some(m)).collect()
        } else {
            vec![None]
        };
        if name == "acme" {
            if let Some(pid) = args.pid {
                peak_rss_mb(pid, true);
            }
            match acme_scenario(&api, &fixture, &args).await {
                Ok(result) => print_result(
                    &result,
                    args.pid.and_then(|p| peak_rss_mb(p, false)),
                    args.json,
                ),
                Err(e) => {
                    failure = Some(e);
                    break 'outer;
                }
            }
            continue;
        }
        for mode in modes {
            let calls = match fixture.calls(&api, name, mode.unwrap_or(true)).await {
                Ok(c) => c,
                Err(e) => {
                    failure = Some(e);
                    break 'outer;
                }
            };
            if let Some(pid) = args.pid {
                peak_rss_mb(pid, true);
            }
            let (lat, errors, first_error, secs) = load(
                &api,
                Arc::new(calls),
                args.concurrency,
                Duration::from_secs_f64(args.warmup),
                Budget::new(args.duration, args.requests),
            )
            .await;
            let result = stats::summarize(
                &args.label,
                name,
                mode,
                args.concurrency,
                secs,
                lat,
                errors,
                first_error,
            );
            print_result(
                &result,
                args.pid.and_then(|p| peak_rss_mb(p, false)),
                args.json,
            );
        }
    }
    if !args.keep {
        fixture.remove(&api).await;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn print_result(r: &ScenarioResult, peak_rss: Option<f64>, json: bool) {
    if json {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        if let Some(rss) = peak_rss {
            v["peak_rss_mb"] = serde_json::json!(rss);
        }
        println!("{v}");
    } else {
        let mut line = stats::text_line(r);
        if let Some(rss) = peak_rss {
            line.push_str(&format!("  peak RSS {rss:.1} MB"));
        }
        println!("{line}");
    }
}

/// How much a scenario measures: a span of time, or a number of requests.
enum Budget {
    Duration(Duration),
    /// Requests not yet started, shared by the workers.
    Requests(Arc<std::sync::atomic::AtomicU64>),
}

impl Budget {
    fn new(seconds: f64, requests: Option<u64>) -> Budget {
        match requests {
            Some(n) => Budget::Requests(Arc::new(std::sync::atomic::AtomicU64::new(n))),
            None => Budget::Duration(Duration::from_secs_f64(seconds)),
        }
    }

    /// Takes one request from a request budget; false once it is spent.
    fn take(left: &std::sync::atomic::AtomicU64) -> bool {
        use std::sync::atomic::Ordering;
        left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// The acme scenario: ACME enabled on the fixture's mount, one account,
/// the responder, then `concurrency` clients each placing orders back to
/// back (warm-up and measurement windows as in [`load`]).
async fn acme_scenario(
    api: &Api,
    fixture: &scenarios::Fixture,
    args: &RunArgs,
) -> Result<ScenarioResult, String> {
    let directory = fixture.enable_acme(api).await?;
    let http = api.http();
    let account = Arc::new(acme::Account::register(&http, &directory).await?);
    let _responder =
        acme::Responder::start(args.acme_http_port, account.thumbprint.clone()).await?;
    let csrs: Arc<Vec<String>> = Arc::new((0..64).map(|_| acme::csr()).collect::<Result<_, _>>()?);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.duration);
    let pid = args.pid;
    let cpu_in_window = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = pid.and_then(acme::cpu_ms);
        tokio::time::sleep_until(end.into()).await;
        Some(pid.and_then(acme::cpu_ms)? - before?)
    });
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let (account, csrs, http) = (account.clone(), csrs.clone(), http.clone());
        workers.push(tokio::spawn(async move {
            let mut costs = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            let mut i = w;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let result = account.order(&http, &csrs[i % csrs.len()]).await;
                i += 1;
                if t0 < measure_from || Instant::now() > end {
                    continue;
                }
                match result {
                    Ok(cost) => costs.push(cost),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (costs, errors, first_error)
        }));
    }
    let mut costs = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for w in workers {
        if let Ok((c, e, fe)) = w.await {
            costs.extend(c);
            errors += e;
            if first_error.is_none() {
                first_error = fe;
            }
        }
    }
    let wall = costs
        .iter()
        .map(|c| c.wall.as_micros().min(u32::MAX as u128) as u32)
        .collect();
    let mut result = stats::summarize(
        &args.label,
        "acme",
        None,
        args.concurrency,
        args.duration,
        wall,
        errors,
        first_error,
    );
    let server_cpu_ms = cpu_in_window.await.ok().flatten();
    result.acme = Some(acme::AcmeCosts::of(&costs, server_cpu_ms));
    Ok(result)
}

/// Runs `concurrency` workers, each on its own connection, cycling through
/// `calls`, for `warmup` and then the budget (a duration or a number of
/// requests); records only requests that started after the warm-up and
/// finished before the end.
async fn load(
    api: &Api,
    calls: Arc<Vec<Call>>,
    concurrency: usize,
    warmup: Duration,
    budget: Budget,
) -> (Vec<u32>, u64, Option<String>, f64) {
    let start = Instant::now();
    let measure_from = start + warmup;
    // A request budget has no time limit: `end` lies beyond any run.
    let (end, left) = match &budget {
        Budget::Duration(d) => (measure_from + *d, None),
        Budget::Requests(left) => (
            measure_from + Duration::from_secs(86_400 * 365),
            Some(left.clone()),
        ),
    };
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let api = api.clone();
        let calls = calls.clone();
        let left = left.clone();
        workers.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(1 << 14);
            let mut errors = 0u64;
            let mut first_error = None;
            let mut i = w;
            let mut conn = None;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                if conn.is_none() {
                    match api.connect().await {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            if t0 >= measure_from {
                                errors += 1;
                                first_error.get_or_insert(e);
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    }
                }
                if let Some(left) = left.as_deref() {
                    if t0 >= measure_from && !Budget::take(left) {
                        break;
                    }
                }
                let call = &calls[i % calls.len()];
                i += 1;
                let result = match conn.as_mut() {
                    Some(c) => c.send(call).await,
                    None => continue,
                };
                let t1 = Instant::now();
                if let Err(e) = &result {
                    if !e.starts_with(|c: char| c.is_ascii_digit()) {
                        conn = None; // transport error: reconnect
                    }
                }
                if t0 < measure_from || t1 > end {
                    continue;
                }
                match result {
                    Ok(()) => lat.push((t1 - t0).as_micros().min(u32::MAX as u128) as u32),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for w in workers {
        if let Ok((lat, e, fe)) = w.await {
            all.extend(lat);
            errors += e;
            if first_error.is_none() {
                first_error = fe;
            }
        }
    }
    let seconds = match budget {
        Budget::Duration(d) => d.as_secs_f64(),
        Budget::Requests(_) => measure_from.elapsed().as_secs_f64(),
    };
    (all, errors, first_error, seconds)
}
