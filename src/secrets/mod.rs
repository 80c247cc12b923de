//! Secrets engines.
pub mod cubbyhole;
pub mod identity;
pub mod kv;
pub mod pki;
pub mod transit;
