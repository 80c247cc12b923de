//! The accept loop: each connection (plain or TLS) is served by hyper with
//! its peer address and TLS client certificates attached to every request
//! (AppRole CIDR checks and cert auth need them), and connections are
//! drained on shutdown.
//!
//! Slow or idle clients cannot exhaust the server ([`Limits`]): at most
//! `max_connections` connections are served at once, and an idle one gives
//! its slot to a new connection when none is free ([`super::slots`]); a
//! connection must deliver each request head within the header timeout (the
//! first one too, whatever the protocol: the HTTP/1 vs HTTP/2 sniffing and
//! the TLS handshake are bounded as well), and a request body must arrive
//! within the read timeout. A request head is held to Go's limits, as Vault
//! serves it: 1 MiB (plus Go's 4 KiB of slack) and 500 header fields.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::slots::{Slot, Slots};
use crate::http::BodyReadTimeout;
use crate::logical::Connection;

/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest HTTP/2 header block accepted (Go's `MaxHeaderBytes`).
const MAX_HEADER_LIST_SIZE: u32 = 1 << 20;
/// The most header fields a request may have, as Go's server allows.
const MAX_HEADER_FIELDS: usize = 500;

/// Per-listener limits against slow and idle clients (the listener
/// stanza's `http_read_header_timeout`, `http_read_timeout` and
/// `max_connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to send a request head (and, before the
    /// first one, to finish the TLS handshake). Also closes idle
    /// keep-alive HTTP/1 connections.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request body, from its head.
    pub body_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // hyper's HTTP/1 header timer also runs on idle keep-alive
            // connections, so this is their idle timeout too: 30s (as
            // before) rather than Vault's 10s read-header timeout.
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

/// How a listener's connections are secured.
#[derive(Clone)]
pub enum Tls {
    Off,
    /// The listener's configuration (its certificate reloads in place).
    On(TlsAcceptor),
    /// Chosen for each connection; while there is none the connection is
    /// closed at once (the cluster port of a node without the cluster
    /// certificate yet).
    PerConnection(Arc<dyn Fn() -> Option<TlsAcceptor> + Send + Sync>),
}

pub async fn serve(
    listener: TcpListener,
    tls: Tls,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // hyper's own bound on what it buffers; the exact limit is the
        // HTTP layer's (hyper may read past this before it parses).
        .max_buf_size(crate::http::MAX_HEAD_BYTES)
        .max_headers(MAX_HEADER_FIELDS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_LIST_SIZE)
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let slots = Slots::new(limits.max_connections);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        // Only when every slot is busy does the accept loop wait here (and
        // further connections in the kernel's backlog).
        let slot = tokio::select! {
            slot = slots.acquire() => slot,
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            remote_addr: Some(peer),
            ..Default::default()
        };
        let (app, builder) = (app.clone(), builder.clone());
        let acceptor = match &tls {
            Tls::Off => None,
            Tls::On(acceptor) => Some(acceptor.clone()),
            Tls::PerConnection(choose) => match choose() {
                Some(acceptor) => Some(acceptor),
                None => continue,
            },
        };
        let Some(acceptor) = acceptor else {
            connections.spawn(serve_connection(
                stream, connection, app, builder, slot, limits,
            ));
            continue;
        };
        connections.spawn(async move {
            let handshake =
                tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream));
            let stream = tokio::select! {
                handshake = handshake => match handshake {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => return tracing::debug!(%peer, %err, "TLS handshake failed"),
                    Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                },
                () = slot.reclaimed() => return,
            };
            let peer_certificates: Vec<Vec<u8>> = stream
                .get_ref()
                .1
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.to_vec()).collect())
                .unwrap_or_default();
            let connection = Connection {
                tls: true,
                peer_certificates: Arc::new(peer_certificates),
                ..connection
            };
            serve_connection(stream, connection, app, builder, slot, limits).await;
        });
    }
    drop(listener);
    slots.reclaim_all();
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_TIMEOUT, drained).await.is_err() {
        tracing::warn!("connections still open after the drain timeout");
    }
}

/// Serves one connection, attaching `connection` to each of its requests,
/// until it ends or its slot is reclaimed (then it closes gracefully).
async fn serve_connection<I>(
    io: I,
    connection: Connection,
    app: Router,
    builder: Arc<Builder<TokioExecutor>>,
    slot: Slot,
    limits: Limits,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // hyper's HTTP/1 header timeout starts only once it has decided the
    // connection is HTTP/1; until a first request head arrives, this
    // deadline covers the protocol sniffing (and HTTP/2) as well.
    let first_request = Arc::new(AtomicBool::new(false));
    let io = FirstRequestDeadline {
        io,
        deadline: Box::pin(tokio::time::sleep(limits.header_read_timeout)),
        seen: first_request.clone(),
    };
    let slot = Arc::new(slot);
    let requests = slot.clone();
    let app = tower::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = requests.request();
        first_request.store(true, Ordering::Relaxed);
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(connection.clone());
        let body = DeadlineBody {
            inner: body,
            deadline: Deadline::Due(tokio::time::Instant::now() + limits.body_read_timeout),
        };
        let answer = app.clone().oneshot(hyper::Request::from_parts(
            parts,
            axum::body::Body::new(body),
        ));
        async move {
            let response = answer.await;
            drop(busy);
            response
        }
    });
    let conn =
        builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(app));
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = slot.reclaimed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = ended {
        tracing::debug!(%err, "connection ended with an error");
    }
}

/// A connection's IO that fails reads once `deadline` passes, unless a
/// request head has been received by then.
struct FirstRequestDeadline<I> {
    io: I,
    deadline: Pin<Box<Sleep>>,
    seen: Arc<AtomicBool>,
}

impl<I: AsyncRead + Unpin> AsyncRead for FirstRequestDeadline<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.seen.load(Ordering::Relaxed) && self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no request received before the header read timeout",
            )));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for FirstRequestDeadline<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A request body that fails with [`BodyReadTimeout`] once its deadline
/// passes before the client has sent all of it.
struct DeadlineBody {
    inner: Incoming,
    deadline: Deadline,
}

/// A body's deadline. Its timer is made only once the body keeps the
/// request waiting: most bodies arrive with their head and need none.
enum Deadline {
    Due(tokio::time::Instant),
    Armed(Pin<Box<Sleep>>),
}

impl Deadline {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Deadline::Due(at) = *self {
            *self = Deadline::Armed(Box::pin(tokio::time::sleep_until(at)));
        }
        match self {
            Deadline::Armed(sleep) => sleep.as_mut().poll(cx),
            Deadline::Due(_) => Poll::Pending,
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyReadTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let limits = Limits::default();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(30));
        assert_eq!(limits.body_read_timeout, Duration::from_secs(30));
        assert!(limits.max_connections >= 1024);
    }
}
