//! Audited request headers (`sys/config/auditing/request-headers`): the
//! request headers audit records include, each with or without HMAC like
//! other audited values. Header names are case-insensitive and kept
//! lowercased, as Vault keeps them.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::logical::{Error, Result};
use crate::storage::Storage;

const TABLE_KEY: &str = "core/audited-headers";

/// How one configured header is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderSettings {
    pub hmac: bool,
}

/// The configured headers, by lowercased name.
pub type HeaderTable = BTreeMap<String, HeaderSettings>;

/// One configured header as a request carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedHeader {
    pub hmac: bool,
    /// Every value, in the order the request sent them.
    pub values: Vec<String>,
}

/// The configured headers one request carried, by lowercased name.
pub type RequestHeaders = BTreeMap<String, AuditedHeader>;

/// Picks the configured headers out of a request's `(name, value)` pairs.
pub fn select<'a>(
    table: &HeaderTable,
    headers: impl IntoIterator<Item = (&'a str, String)>,
) -> RequestHeaders {
    let mut picked = RequestHeaders::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if let Some(settings) = table.get(&name) {
            picked
                .entry(name)
                .or_insert_with(|| AuditedHeader {
                    hmac: settings.hmac,
                    values: Vec::new(),
                })
                .values
                .push(value);
        }
    }
    picked
}

/// The stored configuration, with a snapshot for the request path.
pub struct AuditedHeaders {
    storage: Arc<dyn Storage>,
    table: RwLock<Arc<HeaderTable>>,
    /// Serializes changes (read-modify-write of the stored table).
    change: tokio::sync::Mutex<()>,
}

impl AuditedHeaders {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        AuditedHeaders {
            storage,
            table: RwLock::new(Arc::new(HeaderTable::new())),
            change: tokio::sync::Mutex::new(()),
        }
    }

    /// The configuration as it is now.
    pub fn table(&self) -> Arc<HeaderTable> {
        match self.table.read() {
            Ok(table) => table.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, table: HeaderTable) {
        let table = Arc::new(table);
        match self.table.write() {
            Ok(mut slot) => *slot = table,
            Err(poisoned) => *poisoned.into_inner() = table,
        }
    }

    /// Reads the stored configuration (at unseal).
    pub async fn load(&self) -> Result<()> {
        let table = match self.storage.get(TABLE_KEY).await? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::internal(format!("corrupt audited headers table: {e}")))?,
            None => HeaderTable::new(),
        };
        self.replace(table);
        Ok(())
    }

    /// Forgets the configuration (sealing).
    pub fn clear(&self) {
        self.replace(HeaderTable::new());
    }

    pub fn get(&self, name: &str) -> Option<HeaderSettings> {
        self.table().get(&name.to_ascii_lowercase()).copied()
    }

    /// Adds or replaces a header's settings.
    pub async fn set(&self, name: &str, settings: HeaderSettings) -> Result<()> {
        self.change(|table| {
            table.insert(name.to_ascii_lowercase(), settings);
        })
        .await
    }

    /// Stops recording a header (unknown names are a no-op).
    pub async fn remove(&self, name: &str) -> Result<()> {
        self.change(|table| {
            table.remove(&name.to_ascii_lowercase());
        })
        .await
    }

    async fn change(&self, edit: impl FnOnce(&mut HeaderTable)) -> Result<()> {
        let _guard = self.change.lock().await;
        let mut table = (*self.table()).clone();
        edit(&mut table);
        self.storage
            .put(TABLE_KEY, serde_json::to_vec(&table)?)
            .await?;
        self.replace(table);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_headers_are_picked_by_lowercased_name_with_every_value() {
        let table = HeaderTable::from([
            ("x-foo".to_string(), HeaderSettings { hmac: true }),
            ("x-bar".to_string(), HeaderSettings { hmac: false }),
        ]);
        let picked = select(
            &table,
            [
                ("X-Foo", "one".to_string()),
                ("x-other", "no".to_string()),
                ("x-foo", "two".to_string()),
                ("X-BAR", "plain".to_string()),
            ],
        );
        assert_eq!(
            picked,
            RequestHeaders::from([
                (
                    "x-bar".to_string(),
                    AuditedHeader {
                        hmac: false,
                        values: vec!["plain".into()]
                    }
                ),
                (
                    "x-foo".to_string(),
                    AuditedHeader {
                        hmac: true,
                        values: vec!["one".into(), "two".into()]
                    }
                ),
            ])
        );
    }
}
