//! Moving a mount to another path (`sys/remount`), as Vault does: the move
//! is checked, then runs in the background and is reported under a
//! migration ID (`sys/remount/status/:migration_id`). The mount keeps its
//! entry (accessor, UUID, configuration), backend and storage, which is
//! keyed by the UUID: nothing is copied, so nothing can be lost. Moving an
//! auth method revokes the tokens it issued, as Vault revokes the old
//! mount's leases.
//!
//! Requests do not see a mount half-moved: the mount leaves routing first,
//! the move waits for the requests in flight on it, and a request routed
//! to the old path before that finds no route once the move is done
//! ([`Mounted::enter`]).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use super::mounts::{MountClass, Mounted};
use super::Core;
use crate::logical::{Error, Result};
use crate::util::ids;

/// How long `sys/remount` waits for its move before answering: a small
/// mount has moved by the time the client asks for its status; a large
/// one (an auth method with many tokens to revoke) goes on in the
/// background.
const ANSWER_WAIT: Duration = Duration::from_secs(1);

/// How many migrations `sys/remount/status` remembers.
const REMEMBERED: usize = 1024;

/// Mount paths that cannot be moved, nor moved onto (Vault's
/// `protectedMounts`).
const PROTECTED: &[&str] = &["audit/", "auth/", "sys/", "cubbyhole/", "identity/"];

/// Auth mount paths that cannot be moved, nor moved onto.
const PROTECTED_AUTH: &[&str] = &["auth/token"];

const AUTH_PREFIX: &str = "auth/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationStatus {
    InProgress,
    Success,
    Failure,
}

impl MigrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStatus::InProgress => "in-progress",
            MigrationStatus::Success => "success",
            MigrationStatus::Failure => "failure",
        }
    }
}

/// One move, as `sys/remount/status` reports it.
#[derive(Debug, Clone)]
pub struct MigrationInfo {
    /// Routing prefixes (`kv/`, `auth/approle/`).
    pub source_mount: String,
    pub target_mount: String,
    pub status: MigrationStatus,
}

impl MigrationInfo {
    pub fn to_json(&self) -> Value {
        json!({
            "source_mount": self.source_mount,
            "target_mount": self.target_mount,
            "status": self.status.as_str(),
        })
    }
}

/// The migrations started since the server started (Vault keeps them in
/// memory too), the latest [`REMEMBERED`] of them.
#[derive(Default)]
pub struct Migrations {
    entries: Mutex<VecDeque<(String, MigrationInfo)>>,
}

impl Migrations {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, MigrationInfo)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start(&self, source_mount: String, target_mount: String) -> String {
        let id = ids::uuid();
        let mut entries = self.lock();
        if entries.len() >= REMEMBERED {
            entries.pop_front();
        }
        entries.push_back((
            id.clone(),
            MigrationInfo {
                source_mount,
                target_mount,
                status: MigrationStatus::InProgress,
            },
        ));
        id
    }

    fn finish(&self, id: &str, status: MigrationStatus) {
        if let Some((_, info)) = self.lock().iter_mut().find(|(known, _)| known == id) {
            info.status = status;
        }
    }

    pub fn get(&self, id: &str) -> Option<MigrationInfo> {
        self.lock()
            .iter()
            .find(|(known, _)| known == id)
            .map(|(_, info)| info.clone())
    }
}

/// A move that passed Vault's checks: routing prefixes with a trailing `/`.
#[derive(Debug, PartialEq, Eq)]
struct Move {
    from: String,
    to: String,
}

impl Move {
    /// Vault's checks of `from` and `to`, in Vault's order and words.
    fn check(from: &str, to: &str) -> Result<Move> {
        if from.is_empty() || to.is_empty() {
            return Err(Error::bad_request(
                "both 'from' and 'to' path must be specified as a string",
            ));
        }
        for (name, path) in [("from", from), ("to", to)] {
            if path.starts_with(' ') || path.ends_with(' ') {
                return Err(Error::BadRequest(format!(
                    "'{name}' path cannot contain trailing whitespace"
                )));
            }
        }
        let (from, to) = (sanitize(from), sanitize(to));
        if to.is_empty() {
            return Err(Error::bad_request("invalid destination mount path \"/\""));
        }
        check_clean(&to)
            .map_err(|e| Error::BadRequest(format!("invalid destination mount: {e}")))?;
        if from.starts_with(AUTH_PREFIX) {
            if !to.starts_with(AUTH_PREFIX) {
                return Err(Error::BadRequest(format!(
                    "cannot remount auth mount to non-auth mount {to:?}"
                )));
            }
            if PROTECTED_AUTH.iter().any(|p| from.starts_with(p)) {
                return Err(Error::BadRequest(format!("cannot remount {from:?}")));
            }
            if PROTECTED_AUTH.iter().any(|p| to.starts_with(p)) {
                return Err(Error::BadRequest(format!(
                    "cannot remount to destination {to:?}"
                )));
            }
        } else {
            for protected in PROTECTED {
                if from.starts_with(protected) {
                    return Err(Error::BadRequest(format!("cannot remount {from:?}")));
                }
                if to.starts_with(protected) {
                    return Err(Error::BadRequest(format!(
                        "cannot remount to destination {to}"
                    )));
                }
            }
        }
        Ok(Move { from, to })
    }

    fn class(&self) -> MountClass {
        if self.from.starts_with(AUTH_PREFIX) {
            MountClass::Auth
        } else {
            MountClass::Secret
        }
    }

    /// A routing prefix as a path in its table (`auth/x/` → `x/`).
    fn table_path<'a>(&self, prefix: &'a str) -> &'a str {
        match self.class() {
            MountClass::Auth => prefix.strip_prefix(AUTH_PREFIX).unwrap_or(prefix),
            MountClass::Secret => prefix,
        }
    }
}

/// Vault's `sanitizePath`: a trailing `/`, no leading one.
fn sanitize(path: &str) -> String {
    let mut path = path.to_string();
    if !path.ends_with('/') {
        path.push('/');
    }
    match path.strip_prefix('/') {
        Some(rest) => rest.to_string(),
        None => path,
    }
}

/// Vault's `validateMountPath`: the path as Go's `path.Clean` would write
/// it (keeping its trailing `/`), printable characters only.
fn check_clean(path: &str) -> std::result::Result<(), String> {
    let mut cleaned = go_path_clean(path);
    if path.ends_with('/') {
        cleaned.push('/');
    }
    if path != cleaned {
        return Err(format!(
            "path '{path}' does not match cleaned path '{cleaned}'"
        ));
    }
    if path
        .chars()
        .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
    {
        return Err("path cannot contain non-printable characters".into());
    }
    Ok(())
}

/// Go's `path.Clean`: no empty or `.` segments, `..` resolved, no
/// trailing `/`; `.` for an empty result.
fn go_path_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." if segments.last().is_some_and(|s| *s != "..") => {
                segments.pop();
            }
            ".." if rooted => {}
            other => segments.push(other),
        }
    }
    let joined = segments.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

impl Core {
    /// `sys/remount`: checks the move as Vault does, starts it in the
    /// background and returns its migration ID.
    pub async fn start_remount(&self, from: &str, to: &str) -> Result<String> {
        let planned = Move::check(from, to)?;
        if self.mounts.route(&planned.from).is_none() {
            return Err(Error::BadRequest(format!(
                "no matching mount at {:?}",
                planned.from
            )));
        }
        if let Some(existing) = self.mounts.conflict(&planned.to) {
            return Err(Error::BadRequest(format!(
                "path already in use at {existing:?}"
            )));
        }
        let core = self
            .self_ref
            .upgrade()
            .ok_or_else(|| Error::internal("core is shutting down"))?;
        let id = self
            .migrations
            .start(planned.from.clone(), planned.to.clone());
        let migration_id = id.clone();
        let task = tokio::spawn(async move {
            let status = match core.run_move(&planned).await {
                Ok(()) => {
                    tracing::info!(%migration_id, from = %planned.from, to = %planned.to, "mount moved");
                    MigrationStatus::Success
                }
                Err(err) => {
                    tracing::error!(%migration_id, from = %planned.from, to = %planned.to, %err, "mount move failed");
                    MigrationStatus::Failure
                }
            };
            core.migrations.finish(&migration_id, status);
        });
        // The move goes on whether or not it is done by then.
        let _ = tokio::time::timeout(ANSWER_WAIT, task).await;
        Ok(id)
    }

    async fn run_move(&self, planned: &Move) -> Result<()> {
        let class = planned.class();
        let mounted = self
            .mounts
            .taint(class, planned.table_path(&planned.from))
            .await?;
        let Some(mut closure) = mounted.close().await else {
            return Err(Error::BadRequest(format!(
                "mount {:?} has moved or gone",
                planned.from
            )));
        };
        match self.relocate(&mounted, planned).await {
            Ok(()) => {
                *closure = true;
                Ok(())
            }
            Err(err) => {
                self.mounts.untaint(&mounted).await;
                Err(err)
            }
        }
    }

    /// The move itself, with no request in flight on the mount.
    async fn relocate(&self, mounted: &Mounted, planned: &Move) -> Result<()> {
        if mounted.entry.class == MountClass::Auth {
            self.tokens.revoke_by_path_prefix(&mounted.prefix).await?;
        }
        self.mounts
            .relocate(mounted, planned.table_path(&planned.to))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(from: &str, to: &str) -> String {
        Move::check(from, to)
            .map(|m| format!("accepted {m:?}"))
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn paths_are_sanitized_like_vault() {
        assert_eq!(
            Move::check("/kv", "kv2").ok(),
            Some(Move {
                from: "kv/".into(),
                to: "kv2/".into()
            })
        );
        assert_eq!(
            Move::check("auth/a/", "auth/b").ok(),
            Some(Move {
                from: "auth/a/".into(),
                to: "auth/b/".into()
            })
        );
    }

    #[test]
    fn refusals_have_vaults_texts() {
        let cases = [
            (
                ("", "x"),
                "both 'from' and 'to' path must be specified as a string",
            ),
            (
                ("kv ", "x"),
                "'from' path cannot contain trailing whitespace",
            ),
            (("kv", " x"), "'to' path cannot contain trailing whitespace"),
            (("kv", "/"), "invalid destination mount path \"/\""),
            (
                ("kv", "a//b"),
                "invalid destination mount: path 'a//b/' does not match cleaned path 'a/b/'",
            ),
            (
                ("kv", "a/../b"),
                "invalid destination mount: path 'a/../b/' does not match cleaned path 'b/'",
            ),
            (
                ("kv", "x\ty"),
                "invalid destination mount: path cannot contain non-printable characters",
            ),
            (
                ("auth/a", "b"),
                "cannot remount auth mount to non-auth mount \"b/\"",
            ),
            (("auth/token", "auth/b"), "cannot remount \"auth/token/\""),
            (
                ("auth/a", "auth/token"),
                "cannot remount to destination \"auth/token/\"",
            ),
            (("sys", "x"), "cannot remount \"sys/\""),
            (("cubbyhole", "x"), "cannot remount \"cubbyhole/\""),
            (("identity", "x"), "cannot remount \"identity/\""),
            (("kv", "sys/x"), "cannot remount to destination sys/x/"),
            (("kv", "auth/x"), "cannot remount to destination auth/x/"),
            (("audit", "sys"), "cannot remount \"audit/\""),
        ];
        for ((from, to), text) in cases {
            assert_eq!(refusal(from, to), text, "{from} -> {to}");
        }
    }

    #[test]
    fn go_path_clean_matches_go() {
        for (path, cleaned) in [
            ("", "."),
            ("a/b/", "a/b"),
            ("a//b", "a/b"),
            ("./a", "a"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("/", "/"),
        ] {
            assert_eq!(go_path_clean(path), cleaned, "{path}");
        }
    }

    #[test]
    fn status_is_remembered_by_migration_id() {
        let migrations = Migrations::default();
        let id = migrations.start("kv/".into(), "kv2/".into());
        assert_eq!(
            migrations.get(&id).map(|m| m.status),
            Some(MigrationStatus::InProgress)
        );
        migrations.finish(&id, MigrationStatus::Success);
        let info = migrations.get(&id).expect("known");
        assert_eq!(
            info.to_json(),
            json!({"source_mount": "kv/", "target_mount": "kv2/", "status": "success"})
        );
        assert!(migrations.get("unknown").is_none());
    }
}
