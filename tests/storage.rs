//! Storage conformance: the same specification runs on every store (memory,
//! redb, PostgreSQL), with the memory store's answers as the model where a
//! sequence of operations is replayed.
//!
//! The PostgreSQL cases need a server: `tests/postgres/run` starts one and
//! sets `VAULTLET_TEST_POSTGRES_URL` (and `..._TLS_URL`, verify-full over
//! rustls); they are ignored by a plain `cargo test` and fail when run
//! without the variable.

use std::collections::BTreeMap;
use std::sync::Arc;

use vaultlet::storage::{
    BatchOp, MemoryStorage, PostgresSettings, PostgresStorage, RedbStorage, Storage, StorageError,
};

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|k| k.to_string()).collect()
}

/// Reads, writes, overwrites and deletes, with binary values.
async fn reads_what_was_written(store: &dyn Storage) {
    assert_eq!(store.get("missing").await.expect("get"), None);
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    store.put("a/b", all_bytes.clone()).await.expect("put");
    assert_eq!(store.get("a/b").await.expect("get"), Some(all_bytes));
    store.put("a/b", b"second".to_vec()).await.expect("put");
    assert_eq!(
        store.get("a/b").await.expect("get"),
        Some(b"second".to_vec())
    );
    store.put("empty", Vec::new()).await.expect("put");
    assert_eq!(store.get("empty").await.expect("get"), Some(Vec::new()));
    let big = vec![0xa5; 1 << 20];
    store.put("big/value", big.clone()).await.expect("put");
    assert_eq!(store.get("big/value").await.expect("get"), Some(big));
    store.delete("a/b").await.expect("delete");
    assert_eq!(store.get("a/b").await.expect("get"), None);
    store.delete("a/b").await.expect("deleting a missing key");
    store.delete("empty").await.expect("delete");
    store.delete("big/value").await.expect("delete");
}

/// Vault's LIST: direct children, sub-folders with a trailing `/`, sorted
/// bytewise, each once; keys with LIKE and regex characters are plain.
async fn lists_children(store: &dyn Storage) {
    for key in [
        "l/x",
        "l/y/1",
        "l/y/2/deep",
        "l/z",
        "l/%_\\/q",
        "l/Ünï code",
        "l/B",
        "lx/other",
        "top",
    ] {
        store.put(key, b"v".to_vec()).await.expect("put");
    }
    assert_eq!(
        store.list("l/").await.expect("list"),
        keys(&["%_\\/", "B", "x", "y/", "z", "Ünï code"])
    );
    assert_eq!(store.list("l/y/").await.expect("list"), keys(&["1", "2/"]));
    assert_eq!(store.list("l/%_\\/").await.expect("list"), keys(&["q"]));
    assert_eq!(store.list("nothing/").await.expect("list"), keys(&[]));
    let root = store.list("").await.expect("list root");
    assert_eq!(root, keys(&["l/", "lx/", "top"]));
    // A prefix that ends inside a name lists what follows it.
    assert_eq!(store.list("l/y/2").await.expect("list"), keys(&["/"]));
    assert_eq!(store.list("l").await.expect("list"), keys(&["/", "x/"]));
}

/// Every page agrees with the full list: a seek after each child (and
/// after names between children) with several limits.
async fn pages_agree_with_the_list(store: &dyn Storage) {
    for i in 0..30 {
        store
            .put(&format!("p/k{i:02}"), b"v".to_vec())
            .await
            .expect("put");
        if i % 4 == 0 {
            store
                .put(&format!("p/k{i:02}/sub/{i}"), b"v".to_vec())
                .await
                .expect("put");
        }
    }
    let full = store.list("p/").await.expect("list");
    assert_eq!(full.len(), 30 + 8);
    let mut seeks = vec![String::new(), "k".into(), "k05a".into(), "zzz".into()];
    seeks.extend(full.iter().cloned());
    for after in &seeks {
        for limit in [0, 1, 3, 100] {
            let mut expected: Vec<String> = full.iter().filter(|k| *k > after).cloned().collect();
            if limit > 0 {
                expected.truncate(limit);
            }
            let page = store.list_page("p/", after, limit).await.expect("page");
            assert_eq!(page, expected, "after {after:?} limit {limit}");
        }
    }
    // Walking page by page visits every child once.
    let mut walked = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.list_page("p/", &after, 7).await.expect("page");
        let Some(last) = page.last().cloned() else {
            break;
        };
        walked.extend(page);
        after = last;
    }
    assert_eq!(walked, full);
}

/// A batch applies all its writes, in order.
async fn batches_apply_in_order(store: &dyn Storage) {
    store.put("b/old", b"1".to_vec()).await.expect("put");
    store
        .batch(vec![
            BatchOp::Put("b/new".into(), b"1".into()),
            BatchOp::Put("b/new".into(), b"2".into()),
            BatchOp::Delete("b/old".into()),
            BatchOp::Put("b/gone".into(), b"x".into()),
            BatchOp::Delete("b/gone".into()),
        ])
        .await
        .expect("batch");
    assert_eq!(store.get("b/new").await.expect("get"), Some(b"2".to_vec()));
    assert_eq!(store.get("b/old").await.expect("get"), None);
    assert_eq!(store.get("b/gone").await.expect("get"), None);
    assert_eq!(store.list("b/").await.expect("list"), keys(&["new"]));
    store.batch(Vec::new()).await.expect("an empty batch");
}

/// Concurrent writers: every acknowledged write is there.
async fn concurrent_writes_all_land(store: Arc<dyn Storage>) {
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                store
                    .put(&format!("c/{writer}/{i:02}"), vec![writer as u8, i as u8])
                    .await
                    .expect("put");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    for writer in 0..8u8 {
        let listed = store.list(&format!("c/{writer}/")).await.expect("list");
        assert_eq!(listed.len(), 25);
        for i in 0..25u8 {
            assert_eq!(
                store.get(&format!("c/{writer}/{i:02}")).await.expect("get"),
                Some(vec![writer, i])
            );
        }
    }
}

/// A long pseudo-random sequence of writes, replayed on the store and on a
/// model map; every LIST and GET agrees with the model.
async fn agrees_with_a_model(store: &dyn Storage) {
    let mut model: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let segments = ["a", "b", "a b", "a/", "ä", "_", "%"];
    for round in 0..300 {
        let depth = 1 + next(3) as usize;
        let key = format!(
            "m/{}",
            (0..depth)
                .map(|_| segments[next(segments.len() as u64) as usize].trim_end_matches('/'))
                .collect::<Vec<_>>()
                .join("/")
        );
        if next(4) == 0 {
            store.delete(&key).await.expect("delete");
            model.remove(&key);
        } else {
            let value = format!("{round}").into_bytes();
            store.put(&key, value.clone()).await.expect("put");
            model.insert(key, value);
        }
    }
    let reference = MemoryStorage::default();
    reference
        .batch(
            model
                .iter()
                .map(|(k, v)| BatchOp::Put(k.clone(), v.clone()))
                .collect(),
        )
        .await
        .expect("model");
    let mut folders = vec!["m/".to_string()];
    while let Some(folder) = folders.pop() {
        let listed = store.list(&folder).await.expect("list");
        assert_eq!(
            listed,
            reference.list(&folder).await.expect("list"),
            "{folder}"
        );
        for child in listed {
            let full = format!("{folder}{child}");
            if child.ends_with('/') {
                folders.push(full);
            } else {
                assert_eq!(
                    store.get(&full).await.expect("get").as_ref(),
                    model.get(&full),
                    "{full}"
                );
            }
        }
    }
}

/// Every record, read key by key (the reference a snapshot must match).
async fn walk(store: &dyn Storage) -> BTreeMap<String, Vec<u8>> {
    let mut all = BTreeMap::new();
    for key in vaultlet::storage::copy::all_keys(store)
        .await
        .expect("walk")
    {
        let value = store.get(&key).await.expect("get").expect("listed key");
        all.insert(key, value);
    }
    all
}

/// A snapshot is one moment of the store: writes made while it is being
/// read do not show in it; it stops quietly when its reader goes away;
/// `replace_all` leaves exactly the records it is given.
async fn snapshots_and_replace_all(store: Arc<dyn Storage>) {
    store.put("snap/a", b"before".to_vec()).await.expect("put");
    store.put("snap/b/c", vec![0, 255]).await.expect("put");
    store.put("snap/empty", Vec::new()).await.expect("put");
    let expected = walk(store.as_ref()).await;

    let (into, mut records) = tokio::sync::mpsc::channel(1);
    let reading = {
        let store = store.clone();
        tokio::spawn(async move { store.snapshot(into).await })
    };
    let mut taken = BTreeMap::new();
    let (key, value) = records.recv().await.expect("a first record");
    taken.insert(key, value);
    // The read has begun: these must not show in it.
    store.put("snap/a", b"after".to_vec()).await.expect("put");
    store
        .put("snap/zzz-new", b"new".to_vec())
        .await
        .expect("put");
    store.delete("snap/b/c").await.expect("delete");
    while let Some((key, value)) = records.recv().await {
        assert!(
            taken.insert(key.clone(), value).is_none(),
            "{key} sent twice"
        );
    }
    reading.await.expect("join").expect("snapshot");
    assert_eq!(taken, expected);

    let (into, mut records) = tokio::sync::mpsc::channel(1);
    let reading = {
        let store = store.clone();
        tokio::spawn(async move { store.snapshot(into).await })
    };
    records.recv().await.expect("a record");
    drop(records);
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), reading).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "a snapshot whose reader left must end quietly"
    );

    let replacement: BTreeMap<String, Vec<u8>> = [
        ("core/x".to_string(), b"1".to_vec()),
        ("logical/u/y/z".to_string(), vec![7; 3000]),
        ("seal/keyring".to_string(), Vec::new()),
    ]
    .into();
    store
        .replace_all(replacement.clone())
        .await
        .expect("replace_all");
    assert_eq!(walk(store.as_ref()).await, replacement);
    assert_eq!(
        store.list("").await.expect("list"),
        keys(&["core/", "logical/", "seal/"])
    );
    store
        .replace_all(BTreeMap::new())
        .await
        .expect("replace_all");
    assert!(walk(store.as_ref()).await.is_empty());
}

async fn conforms(store: Arc<dyn Storage>) {
    reads_what_was_written(store.as_ref()).await;
    lists_children(store.as_ref()).await;
    pages_agree_with_the_list(store.as_ref()).await;
    batches_apply_in_order(store.as_ref()).await;
    concurrent_writes_all_land(store.clone()).await;
    agrees_with_a_model(store.as_ref()).await;
    snapshots_and_replace_all(store.clone()).await;
}

#[tokio::test]
async fn memory_conforms() {
    conforms(Arc::new(MemoryStorage::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_conforms() {
    let dir = std::env::temp_dir().join(format!("vaultlet-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    conforms(Arc::new(RedbStorage::open(&dir).expect("open redb"))).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The test server's URL; a PostgreSQL test run without it fails.
fn postgres_url(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run the PostgreSQL tests through tests/postgres/run")
    })
}

/// A store on a fresh table of its own.
async fn postgres_store(variable: &str) -> (PostgresStorage, PostgresSettings) {
    let table = format!("conformance_{}", hex_id());
    // The application name tells this store's connections apart.
    let url = format!("{}&application_name={table}", postgres_url(variable));
    let mut settings = PostgresSettings::new(url);
    settings.table = table;
    settings.max_parallel = 4;
    let store = PostgresStorage::open(&settings)
        .await
        .expect("open PostgreSQL");
    (store, settings)
}

fn hex_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}_{nanos:x}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
async fn postgres_conforms() {
    let (store, _) = postgres_store("VAULTLET_TEST_POSTGRES_URL").await;
    conforms(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
async fn postgres_over_verified_tls_conforms() {
    let (store, _) = postgres_store("VAULTLET_TEST_POSTGRES_TLS_URL").await;
    reads_what_was_written(&store).await;
    let client = raw_client("VAULTLET_TEST_POSTGRES_URL").await;
    let tls_sessions: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE s.ssl AND a.datname = current_database()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(tls_sessions >= 1, "the store's connection is not TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
async fn postgres_refuses_a_server_it_cannot_verify() {
    // The TLS URL with the CA swapped for the system roots (which do not
    // hold the test CA): verify-full must refuse the handshake.
    let url = postgres_url("VAULTLET_TEST_POSTGRES_TLS_URL");
    let url = url.split("&sslrootcert=").next().expect("url").to_string();
    let mut settings = PostgresSettings::new(url);
    settings.table = format!("unverified_{}", hex_id());
    match PostgresStorage::open(&settings).await {
        Ok(_) => panic!("connected to a server whose certificate is not trusted"),
        Err(StorageError::Unavailable(why)) | Err(StorageError::Backend(why)) => {
            assert!(why.to_lowercase().contains("certificate"), "{why}");
        }
        Err(other) => panic!("{other}"),
    }
}

async fn raw_client(variable: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&postgres_url(variable), tokio_postgres::NoTls)
            .await
            .expect("connect");
    tokio::spawn(connection);
    client
}

/// The table has Vault's layout, rows are split as Vault splits keys, and
/// a batch that fails half-way leaves nothing behind (one transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
async fn postgres_uses_vaults_layout_and_atomic_batches() {
    let (store, settings) = postgres_store("VAULTLET_TEST_POSTGRES_URL").await;
    let client = raw_client("VAULTLET_TEST_POSTGRES_URL").await;
    let columns: Vec<(String, String)> = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_name = $1 ORDER BY ordinal_position",
            &[&settings.table],
        )
        .await
        .expect("columns")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = [
        ("parent_path", "text"),
        ("path", "text"),
        ("key", "text"),
        ("value", "bytea"),
    ];
    assert_eq!(
        columns,
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    let indexed: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(parent_path)%'",
            &[&settings.table],
        )
        .await
        .expect("indexes")
        .get(0);
    assert_eq!(indexed, 1, "no parent_path index");

    store.put("sys/a/b", b"v".to_vec()).await.expect("put");
    let row = client
        .query_one(
            &format!(
                "SELECT parent_path, path, key FROM \"{}\" WHERE key = 'b'",
                settings.table
            ),
            &[],
        )
        .await
        .expect("row");
    let split: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(split, ("/sys/".into(), "/sys/a/".into(), "b".into()));

    // PostgreSQL's text cannot hold NUL: the last write fails, so the
    // whole batch must be rolled back.
    let failed = store
        .batch(vec![
            BatchOp::Put("atomic/first".into(), b"1".into()),
            BatchOp::Delete("sys/a/b".into()),
            BatchOp::Put("atomic/bad\0key".into(), b"2".into()),
        ])
        .await;
    assert!(
        matches!(failed, Err(StorageError::Backend(_))),
        "{failed:?}"
    );
    assert_eq!(store.get("atomic/first").await.expect("get"), None);
    assert_eq!(
        store.get("sys/a/b").await.expect("get"),
        Some(b"v".to_vec())
    );

    // An existing table is used as it is; skip_create_table does not
    // create a missing one.
    let again = PostgresStorage::open(&settings).await.expect("reopen");
    assert_eq!(
        again.get("sys/a/b").await.expect("get"),
        Some(b"v".to_vec())
    );
    let mut skip = settings.clone();
    skip.table = format!("never_created_{}", hex_id());
    skip.skip_create_table = true;
    let uncreated = PostgresStorage::open(&skip).await.expect("open");
    assert!(matches!(
        uncreated.get("x").await,
        Err(StorageError::Backend(_))
    ));
}

/// Connections killed under the store (a database restart, a failover of
/// the connection): the store reports them as unavailable, never as a
/// failure of its own, and reconnects by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: tests/postgres/run"]
async fn postgres_reconnects_after_its_connections_are_killed() {
    let (store, settings) = postgres_store("VAULTLET_TEST_POSTGRES_URL").await;
    store.put("r/k", b"1".to_vec()).await.expect("put");
    let client = raw_client("VAULTLET_TEST_POSTGRES_URL").await;
    for round in 0..3 {
        let killed: i64 = client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = $1",
                &[&settings.table],
            )
            .await
            .expect("terminate")
            .get(0);
        assert!(killed >= 1, "round {round}: no connection to kill");
        let mut answered = None;
        for _ in 0..3 {
            match store.get("r/k").await {
                Ok(value) => {
                    answered = Some(value);
                    break;
                }
                Err(StorageError::Unavailable(_)) => {}
                Err(other) => panic!("round {round}: {other}"),
            }
        }
        assert_eq!(answered, Some(Some(b"1".to_vec())), "round {round}");
    }
}

/// No server at the address: unavailable, within the operation timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_postgres_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let settings = PostgresSettings::new(format!(
        "postgres://nobody@127.0.0.1:{port}/db?sslmode=disable"
    ));
    let started = std::time::Instant::now();
    let opened = PostgresStorage::open(&settings).await;
    assert!(
        matches!(opened, Err(StorageError::Unavailable(_))),
        "{:?}",
        opened.err()
    );
    assert!(started.elapsed() < vaultlet::storage::postgres::OPERATION_TIMEOUT * 2);
}
