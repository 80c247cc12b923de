//! A cache of values decoded from storage, kept until something writes.
//!
//! A reader that missed the cache loads from storage and then offers what
//! it read; a write that landed meanwhile may have made that stale, so
//! every write counts a generation and a read is kept only if none
//! happened since it began (the [`Generation`] taken before the read).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// Values by key (`()` for a cache of one value), at most `capacity` of
/// them: when full, a new key starts the cache over.
pub struct ReadCache<K, V> {
    state: Mutex<State<K, V>>,
    capacity: usize,
}

struct State<K, V> {
    entries: HashMap<K, V>,
    generation: u64,
}

/// The cache's write count when a storage read began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        ReadCache {
            state: Mutex::new(State {
                entries: HashMap::new(),
                generation: 0,
            }),
            capacity,
        }
    }

    /// Every operation leaves the map whole, so a panic elsewhere while
    /// the lock was held cannot have left it half-changed.
    fn lock(&self) -> MutexGuard<'_, State<K, V>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.lock().entries.get(key).cloned()
    }

    /// Taken before reading storage, for [`ReadCache::fill`].
    pub fn generation(&self) -> Generation {
        Generation(self.lock().generation)
    }

    /// Keeps a value read from storage, unless a write happened since the
    /// read began.
    pub fn fill(&self, read_began: Generation, key: K, value: V) {
        let mut state = self.lock();
        if state.generation == read_began.0 {
            self.insert(&mut state, key, value);
        }
    }

    /// Records a value just written to storage.
    pub fn store(&self, key: K, value: V) {
        let mut state = self.lock();
        state.generation += 1;
        self.insert(&mut state, key, value);
    }

    /// Drops a value just deleted from storage.
    pub fn forget<Q: Eq + Hash + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        let mut state = self.lock();
        state.generation += 1;
        state.entries.remove(key);
    }

    /// Drops everything, after a write the cache cannot follow key by key.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.entries.clear();
    }

    /// The cached value, or what `load` reads from storage (kept unless a
    /// write raced it).
    pub async fn get_or_load<Q, E, F>(&self, key: &Q, load: impl FnOnce() -> F) -> Result<V, E>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
        F: Future<Output = Result<V, E>>,
    {
        match self.get(key) {
            Some(value) => Ok(value),
            None => self.read_through(key, load, |v| Some(v)).await,
        }
    }

    /// As [`ReadCache::get_or_load`] for what storage may not hold: an
    /// absent value is not kept (so lookups of unknown keys cannot crowd
    /// out known ones).
    pub async fn get_or_load_some<Q, E, F>(
        &self,
        key: &Q,
        load: impl FnOnce() -> F,
    ) -> Result<Option<V>, E>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
        F: Future<Output = Result<Option<V>, E>>,
    {
        match self.get(key) {
            Some(value) => Ok(Some(value)),
            None => self.read_through(key, load, Option::as_ref).await,
        }
    }

    async fn read_through<Q, T, E, F>(
        &self,
        key: &Q,
        load: impl FnOnce() -> F,
        found: impl FnOnce(&T) -> Option<&V>,
    ) -> Result<T, E>
    where
        Q: ToOwned<Owned = K> + ?Sized,
        F: Future<Output = Result<T, E>>,
    {
        let read_began = self.generation();
        let value = load().await?;
        if let Some(found) = found(&value) {
            self.fill(read_began, key.to_owned(), found.clone());
        }
        Ok(value)
    }

    fn insert(&self, state: &mut State<K, V>, key: K, value: V) {
        if state.entries.len() >= self.capacity && !state.entries.contains_key(&key) {
            state.entries.clear();
        }
        state.entries.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = ReadCache::new(8);
        let read_began = cache.generation();
        cache.store("a", 2);
        cache.forget(&"a");
        cache.fill(read_began, "a", 1);
        assert_eq!(cache.get(&"a"), None);
        let read_began = cache.generation();
        cache.fill(read_began, "a", 3);
        assert_eq!(cache.get(&"a"), Some(3));
    }

    #[test]
    fn clearing_drops_everything_and_stales_reads_in_flight() {
        let cache = ReadCache::new(8);
        cache.store("a", 1);
        let read_began = cache.generation();
        cache.clear();
        cache.fill(read_began, "b", 2);
        assert_eq!((cache.get(&"a"), cache.get(&"b")), (None, None));
    }

    #[test]
    fn a_full_cache_starts_over_for_a_new_key() {
        let cache = ReadCache::new(2);
        cache.store(1, "one");
        cache.store(2, "two");
        cache.store(2, "deux");
        assert_eq!(cache.get(&1), Some("one"));
        cache.store(3, "three");
        assert_eq!((cache.get(&1), cache.get(&3)), (None, Some("three")));
    }

    #[tokio::test]
    async fn loads_keep_what_they_found_and_not_what_they_missed() {
        let cache: ReadCache<String, u32> = ReadCache::new(8);
        let missing = cache.get_or_load_some("a", || async { Ok::<_, ()>(None) });
        assert_eq!(missing.await, Ok(None));
        let loaded = cache.get_or_load_some("a", || async { Ok::<_, ()>(Some(1)) });
        assert_eq!(loaded.await, Ok(Some(1)));
        let cached = cache.get_or_load("a", || async { Ok::<_, ()>(2) }).await;
        assert_eq!(cached, Ok(1));
    }
}
