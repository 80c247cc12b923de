//! vaultlet: a small, fast, Vault-compatible PKI server.
//!
//! The request pipeline mirrors Vault's: [`http`] decodes a request into a
//! [`logical::Request`]-to-be, [`core`] authenticates, authorizes and routes
//! it to a backend declared with [`logical::framework`] (the [`system`]
//! backend, token store, PKI, auth methods), which works on its own
//! [`storage::StorageView`]. [`util`] holds the small helpers every layer
//! shares.

pub mod auth;
pub mod bench;
pub mod cli;
pub mod core;
pub mod http;
pub mod logical;
pub mod secrets;
pub mod server;
pub mod storage;
pub mod system;
pub mod util;

/// The Vault version vaultlet reports (the API level it follows).
pub const VAULT_VERSION: &str = "1.19.0";
