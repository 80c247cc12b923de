//! The real PostgreSQL server that `tests/postgres/run` starts, and a TCP
//! relay to it that a test can cut, for the tests of `storage "postgresql"`.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The test server's URL (`VAULTLET_TEST_POSTGRES_URL`, set by
/// `tests/postgres/run`).
pub fn postgres_url() -> String {
    std::env::var("VAULTLET_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("VAULTLET_TEST_POSTGRES_URL is not set: run these tests through tests/postgres/run")
    })
}

/// Runs `work` with a client of the test server, straight to it (no
/// relay), on a runtime of its own: the tests themselves are synchronous.
pub fn with_client<T, F, Fut>(work: F) -> T
where
    F: FnOnce(tokio_postgres::Client) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        work(client).await
    })
}

/// The test server's `host:port`.
pub fn database_address() -> String {
    let url = url::Url::parse(&postgres_url()).expect("URL");
    format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().unwrap_or(5432)
    )
}

/// A TCP relay to PostgreSQL that can be cut (every connection closed, new
/// ones closed at once) and restored; it remembers the local ports of its
/// connections to the server, to find their sessions in `pg_stat_activity`.
pub struct Relay {
    pub port: u16,
    open: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    upstream_ports: Arc<Mutex<Vec<u16>>>,
}

impl Relay {
    /// A relay on a new loopback port.
    pub fn start() -> Relay {
        Relay::start_on(TcpListener::bind("127.0.0.1:0").expect("relay bind"))
    }

    /// A relay accepting on `listener` (a port reserved earlier).
    pub fn start_on(listener: TcpListener) -> Relay {
        let port = listener.local_addr().expect("addr").port();
        let target = database_address();
        let open = Arc::new(AtomicBool::new(true));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let upstream_ports = Arc::new(Mutex::new(Vec::new()));
        let (flag, held, ports) = (open.clone(), streams.clone(), upstream_ports.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if !flag.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                if let Ok(local) = server.local_addr() {
                    ports.lock().expect("relay ports").push(local.port());
                }
                let mut list = held.lock().expect("relay lock");
                for stream in [&client, &server] {
                    if let Ok(copy) = stream.try_clone() {
                        list.push(copy);
                    }
                }
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        Relay {
            port,
            open,
            streams,
            upstream_ports,
        }
    }

    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for stream in self.streams.lock().expect("relay lock").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// The database URL with the relay's port in place of the server's.
    pub fn url(&self) -> String {
        let mut url = url::Url::parse(&postgres_url()).expect("URL");
        url.set_port(Some(self.port)).expect("port");
        url.to_string()
    }

    /// The local ports of the relay's connections to the server so far.
    pub fn upstream_ports(&self) -> Vec<u16> {
        self.upstream_ports.lock().expect("relay ports").clone()
    }
}

fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    });
}
