//! Scale: seed a stopped vaultlet's durable store with many certificates
//! (bench-only: written straight through the seal barrier in large batches,
//! since issuing a million certificates over the API would take minutes of
//! a shared machine), then measure LIST certs, CRL rebuild and tidy over
//! the API.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use serde_json::{json, Value};

use super::client::Api;
use super::Target;
use crate::core::seal::{Seal, SealKind};
use crate::storage::{BatchOp, RedbStorage, Storage, StorageView};

#[derive(clap::Args, Debug)]
pub struct SeedArgs {
    /// The durable store's directory (storage "raft" { path }).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The static seal key (64 hex characters).
    #[arg(long)]
    pub seal_key: String,
    /// UUID of the PKI mount (GET /v1/sys/mounts → uuid).
    #[arg(long)]
    pub mount_uuid: String,
    /// Certificates to write under certs/.
    #[arg(long, default_value_t = 1_000_000)]
    pub certs: u64,
    /// How many of them are expired (tidy removes them).
    #[arg(long, default_value_t = 100_000)]
    pub expired: u64,
    /// Revocation entries to write under revoked/.
    #[arg(long, default_value_t = 100_000)]
    pub revoked: u64,
    #[arg(long, default_value_t = 20_000)]
    pub batch: usize,
}

#[derive(clap::Args, Debug)]
pub struct MeasureArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub mount: String,
    /// Page size for LIST certs.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// Also run tidy (tidy_cert_store + tidy_revoked_certs, safety_buffer 1s).
    #[arg(long)]
    pub tidy: bool,
    /// `after` for the page from the middle of the key space (the seeded
    /// serials all start 41-, the next byte is spread).
    #[arg(long, default_value = "41:80")]
    pub mid_after: String,
    /// Skip the full (unpaged) LIST.
    #[arg(long)]
    pub no_full_list: bool,
}

fn template(expired: bool) -> Result<Vec<u8>, String> {
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(vec!["scale.example.com".to_string()])
        .map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc();
    if expired {
        params.not_before = now - time::Duration::days(30);
        params.not_after = now - time::Duration::days(10);
    } else {
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(365);
    }
    Ok(params
        .self_signed(&key)
        .map_err(|e| e.to_string())?
        .der()
        .to_vec())
}

/// A 16-byte serial in storage form (`aa-bb-…`), unique per `i`.
fn serial(tag: u8, i: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[0] = 0x40 | tag;
    bytes[8..].copy_from_slice(&i.to_be_bytes());
    // Spread keys like random serials do.
    bytes[1..8].copy_from_slice(&(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_be_bytes()[..7]);
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join("-")
}

pub async fn seed(args: SeedArgs) -> Result<(), String> {
    let key = hex::decode(args.seal_key.trim()).map_err(|e| format!("seal key: {e}"))?;
    let physical: Arc<dyn Storage> =
        Arc::new(RedbStorage::open(&args.data_dir).map_err(|e| e.to_string())?);
    let seal = Seal::new(physical, SealKind::Static { key });
    if !seal.auto_unseal().await.map_err(|e| e.to_string())? {
        return Err("store is not initialized (PUT /v1/sys/init first)".into());
    }
    let barrier: Arc<dyn Storage> = seal.barrier.clone();
    let view = StorageView::new(barrier, format!("logical/{}/", args.mount_uuid));
    let valid = template(false)?;
    let expired = template(true)?;
    let start = Instant::now();
    let mut ops = Vec::with_capacity(args.batch);
    for i in 0..args.certs {
        let der = if i < args.expired { &expired } else { &valid };
        ops.push(BatchOp::Put(format!("certs/{}", serial(1, i)), der.clone()));
        if ops.len() == args.batch {
            view.batch(std::mem::take(&mut ops))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let cert_b64 = base64::engine::general_purpose::STANDARD.encode(&valid);
    for i in 0..args.revoked {
        // Revoke valid certificates (from the end of the range).
        let s = serial(1, args.certs.saturating_sub(1 + i));
        let entry = json!({
            "serial_number": s.replace('-', ":"),
            "revocation_time": now,
            "issuer_id": "",
            "certificate": cert_b64,
        });
        ops.push(BatchOp::Put(
            format!("revoked/{s}"),
            serde_json::to_vec(&entry).map_err(|e| e.to_string())?,
        ));
        if ops.len() == args.batch {
            view.batch(std::mem::take(&mut ops))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    if !ops.is_empty() {
        view.batch(ops).await.map_err(|e| e.to_string())?;
    }
    println!(
        "{}",
        json!({"seeded_certs": args.certs, "expired": args.expired, "revoked": args.revoked,
               "seconds": start.elapsed().as_secs_f64()})
    );
    Ok(())
}

async fn timed<T>(
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<(T, f64), String> {
    let t = Instant::now();
    let v = f.await?;
    Ok((v, t.elapsed().as_secs_f64() * 1000.0))
}

fn key_count(v: &Value) -> usize {
    v["data"]["keys"].as_array().map(|a| a.len()).unwrap_or(0)
}

pub async fn measure(args: MeasureArgs) -> Result<(), String> {
    let api = Api::new(&args.target.addr, &args.target.token, args.target.insecure)?;
    let m = &args.mount;
    let mut out = serde_json::Map::new();
    let (first, ms) =
        timed(api.call("LIST", &format!("{m}/certs?limit={}", args.limit), None)).await?;
    out.insert("list_first_page_ms".into(), json!(ms));
    out.insert("list_first_page_keys".into(), json!(key_count(&first)));
    // A page from the middle of the key space.
    let (mid, ms) = timed(api.call(
        "LIST",
        &format!("{m}/certs?after={}&limit={}", args.mid_after, args.limit),
        None,
    ))
    .await?;
    out.insert("list_mid_page_ms".into(), json!(ms));
    out.insert("list_mid_page_keys".into(), json!(key_count(&mid)));
    if !args.no_full_list {
        let (all, ms) = timed(api.call("LIST", &format!("{m}/certs"), None)).await?;
        out.insert("list_full_ms".into(), json!(ms));
        out.insert("list_full_keys".into(), json!(key_count(&all)));
    }
    let (_, ms) = timed(api.get(&format!("{m}/crl/rotate"))).await?;
    out.insert("crl_rebuild_ms".into(), json!(ms));
    let crl = reqwest_len(&api, &format!("{m}/crl")).await.unwrap_or(0);
    out.insert("crl_bytes".into(), json!(crl));
    if args.tidy {
        let t = Instant::now();
        api.post(
            &format!("{m}/tidy"),
            json!({"tidy_cert_store": true, "tidy_revoked_certs": true, "safety_buffer": "1s"}),
        )
        .await?;
        let status = loop {
            let s = api.get(&format!("{m}/tidy-status")).await?;
            let state = s["data"]["state"].as_str().unwrap_or("").to_string();
            if state != "Running" {
                break s;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        out.insert("tidy_ms".into(), json!(t.elapsed().as_secs_f64() * 1000.0));
        out.insert("tidy_state".into(), status["data"]["state"].clone());
        out.insert(
            "tidy_cert_store_deleted".into(),
            status["data"]["cert_store_deleted_count"].clone(),
        );
        out.insert(
            "tidy_revoked_deleted".into(),
            status["data"]["revoked_cert_deleted_count"].clone(),
        );
    }
    println!("{}", Value::Object(out));
    Ok(())
}

async fn reqwest_len(api: &Api, path: &str) -> Option<usize> {
    let resp = reqwest::get(format!("{}/v1/{path}", api.base)).await.ok()?;
    Some(resp.bytes().await.ok()?.len())
}
