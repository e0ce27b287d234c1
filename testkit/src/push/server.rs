//! The loopback listener both stand-ins run on: an accept loop serving an
//! axum router over hyper, every connection tracked so shutdown can close it
//! and free the port for a restart on the same port.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::Context;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a live connection gets to finish its in-flight requests once
/// shutdown starts, before it is dropped.
const DRAIN: Duration = Duration::from_millis(500);

/// Which HTTP versions a listener speaks.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Protocols {
    /// HTTP/2 with prior knowledge only, as APNs: an HTTP/1.1 request is not
    /// understood and its connection is closed.
    Http2Only,
    /// HTTP/1.1, and HTTP/2 with prior knowledge.
    Http1AndHttp2,
}

/// A running listener on 127.0.0.1. Dropping it stops it too (without
/// waiting); [`LoopbackServer::shutdown`] also waits until the port is free.
pub(crate) struct LoopbackServer {
    port: u16,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl LoopbackServer {
    /// Binds 127.0.0.1:`port` (0: any free port) and serves there the
    /// router `make_router` builds for the bound port.
    pub(crate) async fn start(
        port: u16,
        protocols: Protocols,
        what: &str,
        make_router: impl FnOnce(u16) -> axum::Router,
    ) -> anyhow::Result<LoopbackServer> {
        let listener = bind(port)
            .with_context(|| format!("binding the {what} stand-in to 127.0.0.1:{port}"))?;
        let port = listener.local_addr()?.port();
        let router = make_router(port);
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(accept_loop(
            listener,
            protocols,
            router,
            stop.clone(),
            tasks.clone(),
        ));
        Ok(LoopbackServer { port, stop, tasks })
    }

    /// The bound port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Stops accepting (the listener closes, so the port is free), asks live
    /// connections to finish (HTTP/2 GOAWAY, HTTP/1.1 close) and drops them
    /// after a short bound.
    pub(crate) async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(DRAIN * 4, self.tasks.wait()).await;
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    protocols: Protocols,
    router: axum::Router,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                let _ = stream.set_nodelay(true);
                tasks.spawn(serve_connection(
                    stream,
                    protocols,
                    router.clone(),
                    stop.clone(),
                ));
            }
            // Out of file descriptors and the like: back off, don't spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    // `listener` drops here: the port is free once this task ends.
}

async fn serve_connection(
    stream: TcpStream,
    protocols: Protocols,
    router: axum::Router,
    stop: CancellationToken,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if let Protocols::Http2Only = protocols {
        builder = builder.http2_only();
    }
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(connection);
    tokio::select! {
        // A client that breaks the protocol (an HTTP/1.1 request on the
        // HTTP/2-only listener) ends here with an error: the connection
        // closes, which is how the request is refused.
        _ = connection.as_mut() => {}
        _ = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, connection.as_mut()).await;
        }
    }
}

/// Binds with SO_REUSEADDR: a stand-in started on the port of a previous one
/// (or of a peer that was killed) must not wait out its TIME_WAIT sockets.
fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind((Ipv4Addr::LOCALHOST, port).into())?;
    socket.listen(1024)
}
