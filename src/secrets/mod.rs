//! Secrets engines.
pub mod pki;
