//! Anti-replay nonces: random, single-use, valid 90 seconds (Vault's
//! lifetime), kept in memory on this server only, and bounded: when the
//! store is full the oldest nonce goes first.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

const LIFETIME: Duration = Duration::from_secs(90);
const CAPACITY: usize = 100_000;

#[derive(Default)]
pub struct Nonces {
    inner: Mutex<Store>,
}

#[derive(Default)]
struct Store {
    live: HashSet<String>,
    /// Issue order (so expiry order): the oldest first.
    queue: VecDeque<(Instant, String)>,
}

impl Store {
    fn prune(&mut self, now: Instant) {
        while let Some((issued, _)) = self.queue.front() {
            if now.duration_since(*issued) < LIFETIME && self.live.len() < CAPACITY {
                break;
            }
            if let Some((_, nonce)) = self.queue.pop_front() {
                self.live.remove(&nonce);
            }
        }
    }
}

impl Nonces {
    /// A fresh nonce.
    pub fn issue(&self) -> String {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).unwrap_or_default();
        let nonce = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut store = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        store.prune(now);
        store.live.insert(nonce.clone());
        store.queue.push_back((now, nonce.clone()));
        nonce
    }

    /// Spends `nonce`: true the first time, within its lifetime.
    pub fn redeem(&self, nonce: &str) -> bool {
        let mut store = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        store.prune(Instant::now());
        store.live.remove(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_spent_once() {
        let nonces = Nonces::default();
        let n = nonces.issue();
        assert!(nonces.redeem(&n));
        assert!(!nonces.redeem(&n));
        assert!(!nonces.redeem("never-issued"));
    }

    #[test]
    fn the_store_is_bounded() {
        let nonces = Nonces::default();
        let first = nonces.issue();
        for _ in 0..CAPACITY {
            nonces.issue();
        }
        assert!(!nonces.redeem(&first));
        let len = nonces.inner.lock().map(|s| s.live.len()).unwrap_or(0);
        assert!(len <= CAPACITY);
    }
}
