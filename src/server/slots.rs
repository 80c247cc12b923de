//! Connection slots: at most `max_connections` connections are served at
//! once, and idle connections never keep a new one out.
//!
//! A connection is *busy* while one of its requests is being answered and
//! *idle* otherwise: before its first request (TLS handshake and request
//! head included), and between keep-alive requests. Idle connections cost
//! a client nothing to hold, so counting them against the cap would let one
//! client fill every slot with sockets that send nothing (or one request
//! each) and starve everyone else until the timeouts reclaim them. Instead,
//! when every slot is taken, a new connection takes the slot of the idle
//! connection that has been idle longest, which is closed gracefully (HTTP
//! lets a server close an idle keep-alive connection at any time; clients
//! reconnect). Only when every slot is busy does a new connection wait, and
//! busy slots are bounded by the read timeouts and the requests themselves.
//!
//! Reclaiming the longest-idle slot means a flood of new connections churns
//! through the flood itself: a client that connects and sends its request
//! at once is never the longest idle. A per-client-address cap would add
//! little to this and would wrongly throttle the many clients that share
//! one address behind a proxy or NAT.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

/// The slots of one listener.
pub struct Slots {
    capacity: usize,
    table: Mutex<Table>,
    /// Signalled when a slot may have become free or reclaimable.
    changed: Notify,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    /// Connections holding a slot (reclaimed ones no longer count).
    holders: HashMap<u64, Arc<Occupant>>,
}

/// What the slots know of one connection.
struct Occupant {
    /// Requests being answered.
    busy: AtomicUsize,
    /// When it last started or finished a request (or connected).
    last_active: Mutex<Instant>,
    reclaimed: AtomicBool,
    reclaim: Notify,
}

impl Occupant {
    fn is_idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }

    fn idle_since(&self) -> Instant {
        *self.last_active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn touch(&self) {
        *self.last_active.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
}

impl Slots {
    pub fn new(capacity: usize) -> Arc<Slots> {
        Arc::new(Slots {
            capacity: capacity.max(1),
            table: Mutex::new(Table::default()),
            changed: Notify::new(),
        })
    }

    /// A slot for a new connection: a free one, else the longest-idle
    /// connection's (which is asked to close), else the first that frees.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            let freed = self.changed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(slot) = self.try_acquire() {
                return slot;
            }
            freed.await;
        }
    }

    fn try_acquire(self: &Arc<Self>) -> Option<Slot> {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if table.holders.len() >= self.capacity {
            let (&id, _) = table
                .holders
                .iter()
                .filter(|(_, occupant)| occupant.is_idle())
                .min_by_key(|(_, occupant)| occupant.idle_since())?;
            if let Some(evicted) = table.holders.remove(&id) {
                evicted.reclaimed.store(true, Ordering::SeqCst);
                evicted.reclaim.notify_one();
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let occupant = Arc::new(Occupant {
            busy: AtomicUsize::new(0),
            last_active: Mutex::new(Instant::now()),
            reclaimed: AtomicBool::new(false),
            reclaim: Notify::new(),
        });
        table.holders.insert(id, occupant.clone());
        Some(Slot {
            slots: self.clone(),
            id,
            occupant,
        })
    }

    /// Asks every connection to close gracefully (shutdown); each finishes
    /// the requests it is answering first.
    pub fn reclaim_all(&self) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        for (_, occupant) in table.holders.drain() {
            occupant.reclaimed.store(true, Ordering::SeqCst);
            occupant.reclaim.notify_one();
        }
        self.changed.notify_waiters();
    }
}

/// One connection's slot, given back when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    id: u64,
    occupant: Arc<Occupant>,
}

impl Slot {
    /// Marks the connection busy until the guard is dropped.
    pub fn request(&self) -> Busy {
        self.occupant.busy.fetch_add(1, Ordering::SeqCst);
        self.occupant.touch();
        Busy {
            slots: self.slots.clone(),
            occupant: self.occupant.clone(),
        }
    }

    /// Resolves once the connection should close (its slot was reclaimed).
    pub async fn reclaimed(&self) {
        let notified = self.occupant.reclaim.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if !self.occupant.reclaimed.load(Ordering::SeqCst) {
            notified.await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.slots.table.lock().unwrap_or_else(|e| e.into_inner());
        if table
            .holders
            .get(&self.id)
            .is_some_and(|o| Arc::ptr_eq(o, &self.occupant))
        {
            table.holders.remove(&self.id);
        }
        drop(table);
        self.slots.changed.notify_waiters();
    }
}

/// A request being answered; the connection is idle again once every one
/// of these is dropped.
pub struct Busy {
    slots: Arc<Slots>,
    occupant: Arc<Occupant>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.occupant.touch();
        if self.occupant.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.slots.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::{Context, Poll};

    /// Whether `future` is ready on its first poll.
    fn ready_now<F: Future>(future: F) -> Option<F::Output> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        }
    }

    #[tokio::test]
    async fn a_full_table_reclaims_the_longest_idle_connection() {
        let slots = Slots::new(3);
        let oldest = slots.acquire().await;
        let busy_one = slots.acquire().await;
        let _busy = busy_one.request();
        let newer = slots.acquire().await;
        newer.request(); // used, and idle again: more recent than `oldest`

        let fourth = ready_now(slots.acquire()).expect("a slot at once");
        assert!(ready_now(oldest.reclaimed()).is_some());
        assert!(ready_now(newer.reclaimed()).is_none());
        assert!(ready_now(busy_one.reclaimed()).is_none());

        let _fifth = ready_now(slots.acquire()).expect("a slot at once");
        assert!(ready_now(newer.reclaimed()).is_some());
        assert!(ready_now(fourth.reclaimed()).is_none());
    }

    #[tokio::test]
    async fn busy_connections_are_never_reclaimed() {
        let slots = Slots::new(2);
        let first = slots.acquire().await;
        let second = slots.acquire().await;
        let busy_first = first.request();
        let _busy_second = second.request();
        let waiting = slots.acquire();
        tokio::pin!(waiting);
        assert!(ready_now(waiting.as_mut()).is_none());
        assert!(ready_now(first.reclaimed()).is_none());

        drop(busy_first);
        let _third = waiting.await;
        assert!(ready_now(first.reclaimed()).is_some());
        assert!(ready_now(second.reclaimed()).is_none());
    }

    #[tokio::test]
    async fn a_closed_connection_frees_its_slot() {
        let slots = Slots::new(1);
        let only = slots.acquire().await;
        let busy = only.request();
        let waiting = slots.acquire();
        tokio::pin!(waiting);
        assert!(ready_now(waiting.as_mut()).is_none());
        drop(busy);
        drop(only);
        let _next = waiting.await;
    }
}
