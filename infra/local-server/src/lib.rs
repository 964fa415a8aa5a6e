//! The local server: every route of the route table on one hyper server, in one process, on the
//! embedded store (or DynamoDB), over HTTP or HTTPS with client certificates ([`tls`]). Tests
//! start it on a free port and stop it when done.

pub mod tls;

pub use tls::Tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use shared::certificate::ClientCertificate;
use shared::http::Request;
use shared::App;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

/// Largest request body accepted; OAuth and flow requests are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// What the server puts up with from clients.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// How long a client may take to send a request's headers; a connection idle this long
    /// between requests is closed too.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body (then 408).
    pub body_timeout: Duration,
    /// Connections served at once; beyond, new ones wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { header_timeout: Duration::from_secs(10), body_timeout: Duration::from_secs(10), max_connections: 1024 }
    }
}

/// Longest pause after a failed `accept` (out of descriptors, say) before trying again.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// A running server; dropping it without `stop` leaves it running until the runtime ends.
pub struct Server {
    pub addr: SocketAddr,
    scheme: &'static str,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and serves until `stop`.
    pub async fn start(app: Arc<App>, addr: SocketAddr) -> std::io::Result<Self> {
        Self::serve(app, TcpListener::bind(addr).await?)
    }

    /// Serves on a bound listener (so a caller can learn the port before building the app).
    pub fn serve(app: Arc<App>, listener: TcpListener) -> std::io::Result<Self> {
        Self::serve_with(app, listener, Limits::default())
    }

    /// Serves with other limits (tests).
    pub fn serve_with(app: Arc<App>, listener: TcpListener, limits: Limits) -> std::io::Result<Self> {
        Self::serve_inner(app, listener, limits, None)
    }

    /// Serves HTTPS: every connection is asked for a client certificate, which goes on each of
    /// its requests (see [`tls`]).
    pub fn serve_tls(app: Arc<App>, listener: TcpListener, limits: Limits, tls: Arc<Tls>) -> std::io::Result<Self> {
        Self::serve_inner(app, listener, limits, Some(tls))
    }

    fn serve_inner(
        app: Arc<App>,
        listener: TcpListener,
        limits: Limits,
        tls: Option<Arc<Tls>>,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (stop, mut stopped) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let task = tokio::spawn(async move {
            let mut backoff = Duration::ZERO;
            let mut failures: u64 = 0;
            loop {
                let slot = tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    _ = stopped.changed() => break,
                };
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(conn) => {
                            backoff = Duration::ZERO;
                            conn
                        }
                        Err(err) => {
                            // Out of descriptors, most likely: wait, growing the pause, and say so
                            // once per run of failures rather than once per attempt.
                            failures += 1;
                            if failures.is_power_of_two() {
                                tracing::warn!(error = %err, failures, "accept failed; backing off");
                            }
                            backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_ACCEPT_BACKOFF);
                            tokio::time::sleep(backoff).await;
                            continue;
                        }
                    },
                    _ = stopped.changed() => break,
                };
                // Answers go out at once, not after the client's delayed ACK (Nagle).
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let conn_stopped = stopped.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let Some(tls) = tls else {
                        return connection(app, peer, limits, stream, None, conn_stopped).await;
                    };
                    // The handshake has the time a client has for its headers.
                    match tokio::time::timeout(limits.header_timeout, tls.accept(stream)).await {
                        Ok(Ok((stream, cert))) => connection(app, peer, limits, stream, cert, conn_stopped).await,
                        Ok(Err(err)) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { addr, scheme, stop, task })
    }

    /// The base URL clients use.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Stops accepting, closes connections, and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// One HTTP/1.1 connection (plain or TLS) until the client or `stop` closes it.
async fn connection<I>(
    app: Arc<App>,
    peer: SocketAddr,
    limits: Limits,
    stream: I,
    client_certificate: Option<ClientCertificate>,
    mut stopped: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| serve(app.clone(), peer, client_certificate.clone(), limits.body_timeout, req));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped.changed() => conn.as_mut().graceful_shutdown(),
    }
}

async fn serve(
    app: Arc<App>,
    peer: SocketAddr,
    client_certificate: Option<ClientCertificate>,
    body_timeout: Duration,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    // Most GETs have no body: no timer to arm for one.
    let read = if body.is_end_stream() {
        Ok(Ok(Vec::new()))
    } else {
        tokio::time::timeout(body_timeout, Limited::new(body, MAX_BODY).collect())
            .await
            .map(|collected| collected.map(|c| c.to_bytes().to_vec()))
    };
    let refused = |status: StatusCode, message: &str| {
        let default_env = &app.settings.default_environment_id;
        let response = shared::routes::edge_error(parts.uri.path(), default_env, status, message);
        let (head, body) = response.into_parts();
        Ok(hyper::Response::from_parts(head, Full::new(Bytes::from(body))))
    };
    let body = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return refused(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large (at most 64 KiB).");
        }
        Ok(Err(_)) => {
            return refused(StatusCode::BAD_REQUEST, "The request body could not be read (malformed framing).")
        }
        Err(_) => return refused(StatusCode::REQUEST_TIMEOUT, "The request body did not arrive in time."),
    };
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        source_ip: Some(peer.ip()),
        request_id: None,
        client_certificate,
    };
    let response = shared::routes::dispatch(&app, request).await;
    let (parts, body) = response.into_parts();
    Ok(hyper::Response::from_parts(parts, Full::new(Bytes::from(body))))
}
