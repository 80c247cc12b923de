//! The `sys/` backend: mounts, auth methods, policies, capabilities, audit
//! devices, the barrier's seal and keyring, user lockout, telemetry and
//! the UI mount lookups. It manipulates the core itself, so it holds a weak reference
//! to it (the core owns the mount table that owns this backend).

mod audit;
mod audit_headers;
mod capabilities;
mod decode_token;
mod ha_status;
mod keyring;
mod locked_users;
mod metrics;
mod mounts;
pub mod openapi;
mod policies;
mod rekey_backup;
mod remount;
mod snapshot;
mod tune;
mod ui_mounts;
mod version_history;
mod wrapping;

use std::sync::{Arc, Weak};

use crate::core::Core;
use crate::logical::framework::{Backend, Path};
use crate::logical::{Error, Result};

pub struct SystemBackend {
    core: Weak<Core>,
}

impl SystemBackend {
    pub fn new(core: Weak<Core>) -> Self {
        SystemBackend { core }
    }

    fn core(&self) -> Result<Arc<Core>> {
        self.core
            .upgrade()
            .ok_or_else(|| Error::internal("core is shutting down"))
    }
}

impl Backend for SystemBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[
        mounts::PATHS,
        remount::PATHS,
        policies::PATHS,
        capabilities::PATHS,
        ui_mounts::PATHS,
        openapi::PATHS,
        version_history::PATHS,
        keyring::PATHS,
        audit::PATHS,
        audit_headers::PATHS,
        locked_users::PATHS,
        metrics::PATHS,
        wrapping::PATHS,
        decode_token::PATHS,
        ha_status::PATHS,
        snapshot::PATHS,
        rekey_backup::PATHS,
    ];

    /// Vault's root-protected `sys/` paths (`PathsSpecial.Root` of its
    /// system backend, with OpenBao's `rotate/keyring` and `rotate/root`),
    /// whether or not vaultlet serves them: see
    /// <https://developer.hashicorp.com/vault/docs/concepts/policies#root-protected-api-endpoints>.
    /// The snapshot paths are not here, as in Vault: backup jobs are
    /// commonly granted `read` on `storage/raft/snapshot` alone.
    const ROOT_PATHS: &'static [&'static str] = &[
        "auth/*",
        "remount",
        "audit",
        "audit/*",
        "raw",
        "raw/*",
        "replication/primary/secondary-token",
        "replication/performance/primary/secondary-token",
        "replication/dr/primary/secondary-token",
        "replication/reindex",
        "replication/dr/reindex",
        "replication/performance/reindex",
        "rotate",
        "rotate/keyring",
        "rotate/root",
        "config/cors",
        "config/auditing/*",
        "config/ui/headers/*",
        "plugins/catalog/*",
        "plugins/runtimes/catalog/*",
        "revoke-prefix/*",
        "revoke-force/*",
        "leases/revoke-prefix/*",
        "leases/revoke-force/*",
        "leases/lookup/*",
        "storage/raft/snapshot-auto/config/*",
        "leases",
        "internal/inspect/*",
        "seal",
        "step-down",
    ];
}
