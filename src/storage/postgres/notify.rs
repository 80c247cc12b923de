//! Change notices between the nodes of a cluster: every write transaction
//! of the active sends `NOTIFY` with the keys it changed, which PostgreSQL
//! delivers to every listener when (and only if) the transaction commits;
//! each standby listens on a connection of its own and drops what it
//! cached of those keys. A listening connection that breaks loses notices,
//! so the standby is told to trust nothing until it listens again.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use super::layout::quote;
use crate::storage::ha::{Change, ChangeFeed, SyncRequests};
use crate::storage::BatchOp;

/// PostgreSQL refuses notice payloads of 8000 bytes or more: a batch whose
/// keys do not fit says "everything" instead.
const MAX_PAYLOAD: usize = 7900;
const EVERYTHING: &str = "*";

/// How long a standby waits before listening again after a failure.
const RETRY: Duration = Duration::from_millis(200);

/// The channel of one table (channel names are at most 63 bytes, table
/// names may be as long: a hash of the name keeps them apart).
pub(super) fn channel(table: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = table.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("vaultlet_changes_{hash:016x}")
}

/// What a batch's notice says.
pub(super) fn payload(ops: &[BatchOp]) -> String {
    let mut text = String::new();
    for op in ops {
        let key = match op {
            BatchOp::Put(key, _) | BatchOp::Delete(key) => key,
        };
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(key);
        if text.len() >= MAX_PAYLOAD {
            return EVERYTHING.into();
        }
    }
    text
}

/// The notice of a change too wide to name (a snapshot restored).
pub(super) fn everything() -> String {
    EVERYTHING.into()
}

fn parse(payload: &str) -> Change {
    if payload == EVERYTHING {
        return Change::Everything;
    }
    Change::Keys(payload.split('\n').map(str::to_string).collect())
}

/// Listens on `channel` for the life of the feed, reconnecting after any
/// failure. Sync markers travel as notices on a channel of this node's
/// own: PostgreSQL delivers notices in commit order, so a marker sent
/// after a write committed arrives after that write's notice.
pub(super) fn listen(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    channel: String,
) -> ChangeFeed {
    let mut config = config;
    // Named after its channel in `pg_stat_activity`.
    config.application_name(&channel);
    let (changes, receiver) = mpsc::unbounded_channel();
    let (sync_sender, mut syncs) = mpsc::unbounded_channel();
    let channels = Channels {
        changes: channel,
        sync: format!(
            "vaultlet_sync_{}",
            crate::util::ids::uuid().replace('-', "")
        ),
    };
    tokio::spawn(async move {
        while !changes.is_closed() {
            let listened = listen_once(&config, tls.clone(), &channels, &changes, &mut syncs);
            if let Err(err) = listened.await {
                tracing::warn!(%err, "lost the change notices of the active node");
            }
            if changes.send(Change::Lost).is_err() {
                return;
            }
            tokio::time::sleep(RETRY).await;
        }
    });
    ChangeFeed {
        changes: receiver,
        sync: SyncRequests::new(sync_sender),
    }
}

struct Channels {
    changes: String,
    sync: String,
}

/// One listening connection, until it breaks.
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    channels: &Channels,
    changes: &mpsc::UnboundedSender<Change>,
    syncs: &mut mpsc::UnboundedReceiver<u64>,
) -> Result<(), String> {
    let (client, mut connection) = config.connect(tls).await.map_err(|e| e.to_string())?;
    let (notices, mut received) = mpsc::unbounded_channel();
    let sync_channel = channels.sync.clone();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(notice))) => {
                    let change = if notice.channel() == sync_channel {
                        match notice.payload().parse() {
                            Ok(number) => Change::Synced(number),
                            Err(_) => continue,
                        }
                    } else {
                        parse(notice.payload())
                    };
                    if notices.send(change).is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err.to_string()),
                None => return Err("the connection closed".to_string()),
            }
        }
    });
    let result = relay(&client, channels, changes, syncs, &mut received).await;
    driver.abort();
    result
}

/// Listens, then passes notices on and sends the sync markers asked for,
/// until the connection breaks (`Err`) or no one follows any more.
async fn relay(
    client: &tokio_postgres::Client,
    channels: &Channels,
    changes: &mpsc::UnboundedSender<Change>,
    syncs: &mut mpsc::UnboundedReceiver<u64>,
    received: &mut mpsc::UnboundedReceiver<Change>,
) -> Result<(), String> {
    client
        .batch_execute(&format!(
            "LISTEN {}; LISTEN {}",
            quote(&channels.changes),
            quote(&channels.sync)
        ))
        .await
        .map_err(|e| e.to_string())?;
    // Anything may have changed while no one listened.
    if changes.send(Change::Listening).is_err() {
        return Ok(());
    }
    loop {
        tokio::select! {
            change = received.recv() => {
                let Some(change) = change else {
                    return Err("the connection closed".to_string());
                };
                if changes.send(change).is_err() {
                    return Ok(());
                }
            }
            number = syncs.recv() => {
                let Some(mut number) = number else {
                    return Ok(());
                };
                // One marker answers every ask made so far.
                while let Ok(later) = syncs.try_recv() {
                    number = number.max(later);
                }
                client
                    .execute("SELECT pg_notify($1, $2)", &[&channels.sync, &number.to_string()])
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_the_keys_of_its_batch() {
        let ops = vec![
            BatchOp::Put("sys/policy/a".into(), vec![1]),
            BatchOp::Delete("sys/token/id/x".into()),
        ];
        let text = payload(&ops);
        assert_eq!(
            parse(&text),
            Change::Keys(vec!["sys/policy/a".into(), "sys/token/id/x".into()])
        );
    }

    #[test]
    fn a_batch_too_large_to_name_says_everything() {
        let ops: Vec<BatchOp> = (0..1000)
            .map(|i| BatchOp::Delete(format!("logical/some-mount/certs/{i:020}")))
            .collect();
        assert_eq!(parse(&payload(&ops)), Change::Everything);
    }

    #[test]
    fn channels_are_short_and_per_table() {
        let long = "t".repeat(63);
        assert!(channel(&long).len() <= 63);
        assert_ne!(channel("a"), channel("b"));
        assert_eq!(channel("a"), channel("a"));
    }
}
