//! `vaultlet-openapi [FILE]`: writes the OpenAPI document of one mount of
//! every type at its default path (default `api-spec/openapi.yaml` in the
//! repository), generated from the route declarations and
//! `api-spec/descriptions.json`. `tests/openapi.rs` fails while the
//! committed file differs from what this writes.

use std::path::PathBuf;
use std::process::ExitCode;

use vaultlet::system::openapi::reference::{Reference, FILE};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FILE));
    let reference = match Reference::build(vaultlet::http::RAW_ROUTES).await {
        Ok(reference) => reference,
        Err(e) => {
            eprintln!("vaultlet-openapi: {e}");
            return ExitCode::FAILURE;
        }
    };
    for problem in &reference.stale_prose {
        eprintln!("vaultlet-openapi: api-spec/descriptions.json: {problem}");
    }
    let written = reference
        .yaml()
        .map_err(|e| e.to_string())
        .and_then(|text| std::fs::write(&out, text).map_err(|e| e.to_string()));
    match written {
        Ok(()) => {
            let paths = reference.document["paths"]
                .as_object()
                .map_or(0, |p| p.len());
            eprintln!("vaultlet-openapi: {}: {paths} paths", out.display());
            if reference.stale_prose.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("vaultlet-openapi: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
