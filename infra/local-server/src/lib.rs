//! The local server: every route of the route table on one hyper server, in one process, on the
//! embedded store (or DynamoDB). Tests start it on a free port and stop it when done.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use shared::http::Request;
use shared::App;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Largest request body accepted; OAuth and flow requests are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// A running server; dropping it without `stop` leaves it running until the runtime ends.
pub struct Server {
    pub addr: SocketAddr,
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
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(conn) => conn,
                        Err(err) => {
                            tracing::warn!(error = %err, "accept failed");
                            continue;
                        }
                    },
                    _ = stopped.changed() => break,
                };
                let app = app.clone();
                let mut conn_stopped = stopped.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve(app.clone(), peer, req));
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = conn_stopped.changed() => conn.as_mut().graceful_shutdown(),
                    }
                });
            }
        });
        Ok(Self { addr, stop, task })
    }

    /// The base URL clients use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, closes connections, and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn serve(
    app: Arc<App>,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => {
            let mut tooling = hyper::Response::new(Full::new(Bytes::from_static(
                b"{\"error\":\"invalid_request\",\"error_description\":\"The request body is too large.\"}",
            )));
            *tooling.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(tooling);
        }
    };
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        source_ip: Some(peer.ip()),
        request_id: None,
    };
    let response = shared::routes::dispatch(&app, request).await;
    let (parts, body) = response.into_parts();
    Ok(hyper::Response::from_parts(parts, Full::new(Bytes::from(body))))
}
