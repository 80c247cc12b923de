//! User lockout (Vault 1.13+): after `lockout_threshold` failed logins for
//! one alias (an AppRole role ID, a client certificate) on one auth mount,
//! further logins are refused for `lockout_duration`. Failures older than
//! `lockout_counter_reset` are forgotten. State is kept in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::util::gotime::now_unix;

/// Per-mount settings (`user_lockout_config` on `sys/auth/:path/tune`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutConfig {
    pub threshold: u32,
    pub duration: i64,
    pub counter_reset: i64,
    pub disabled: bool,
}

impl Default for LockoutConfig {
    /// Vault's defaults: 5 failures, 15 minutes, counter reset 15 minutes.
    fn default() -> Self {
        LockoutConfig {
            threshold: 5,
            duration: 900,
            counter_reset: 900,
            disabled: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last_failure: i64,
    locked_until: i64,
}

/// Failed-login bookkeeping keyed by (mount accessor, alias).
#[derive(Default)]
pub struct Lockout {
    entries: Mutex<HashMap<(String, String), Failures>>,
}

impl Lockout {
    /// Is this alias locked out right now?
    pub fn is_locked(&self, accessor: &str, alias: &str, config: &LockoutConfig) -> bool {
        if config.disabled {
            return false;
        }
        let now = now_unix();
        self.entries
            .lock()
            .ok()
            .and_then(|entries| {
                entries
                    .get(&(accessor.to_string(), alias.to_string()))
                    .copied()
            })
            .is_some_and(|f| f.locked_until > now)
    }

    /// Counts a failed login; `true` when it locks the alias out.
    pub fn record_failure(&self, accessor: &str, alias: &str, config: &LockoutConfig) -> bool {
        if config.disabled {
            return false;
        }
        let now = now_unix();
        let Ok(mut entries) = self.entries.lock() else {
            return false;
        };
        let entry = entries
            .entry((accessor.to_string(), alias.to_string()))
            .or_insert(Failures {
                count: 0,
                last_failure: now,
                locked_until: 0,
            });
        if now - entry.last_failure > config.counter_reset {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last_failure = now;
        let locks = entry.count >= config.threshold && entry.locked_until <= now;
        if entry.count >= config.threshold {
            entry.locked_until = now + config.duration;
        }
        locks
    }

    pub fn record_success(&self, accessor: &str, alias: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&(accessor.to_string(), alias.to_string()));
        }
    }

    pub fn unlock(&self, accessor: &str, alias: &str) {
        self.record_success(accessor, alias);
    }

    /// Currently locked aliases, by mount accessor.
    pub fn locked(&self) -> Vec<(String, Vec<String>)> {
        let now = now_unix();
        let Ok(entries) = self.entries.lock() else {
            return Vec::new();
        };
        let mut by_mount: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for ((accessor, alias), failures) in entries.iter() {
            if failures.locked_until > now {
                by_mount
                    .entry(accessor.clone())
                    .or_default()
                    .push(alias.clone());
            }
        }
        by_mount
            .into_iter()
            .map(|(accessor, mut aliases)| {
                aliases.sort();
                (accessor, aliases)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_locks_and_success_clears() {
        let lockout = Lockout::default();
        let config = LockoutConfig {
            threshold: 3,
            ..Default::default()
        };
        for _ in 0..2 {
            assert!(!lockout.record_failure("m", "a", &config));
        }
        assert!(!lockout.is_locked("m", "a", &config));
        assert!(lockout.record_failure("m", "a", &config));
        assert!(lockout.is_locked("m", "a", &config));
        assert!(!lockout.is_locked("m", "b", &config));
        assert_eq!(
            lockout.locked(),
            vec![("m".to_string(), vec!["a".to_string()])]
        );
        lockout.unlock("m", "a");
        assert!(!lockout.is_locked("m", "a", &config));
    }

    #[test]
    fn a_disabled_config_never_locks() {
        let lockout = Lockout::default();
        let config = LockoutConfig {
            threshold: 1,
            disabled: true,
            ..Default::default()
        };
        lockout.record_failure("m", "a", &config);
        assert!(!lockout.is_locked("m", "a", &config));
    }
}
