//! A round-robin TCP balancer on loopback: each accepted connection goes to
//! the next backend, as a load balancer in front of engine nodes would send
//! it, so one URL spreads a test's clients (HTTP and WebSocket) over nodes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running balancer; stops accepting when dropped (open connections end
/// with their peers).
pub struct Balancer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Balancer {
    /// Binds `addr` (port 0: a free one); backends come later
    /// ([`Balancer::serve`]), so the engines can be told the balancer's URL
    /// as their public one.
    pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the balancer on {addr}"))?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    }

    /// Serves `listener`, sending connection n to backend n mod len.
    pub fn serve(listener: TcpListener, backends: Vec<SocketAddr>) -> Balancer {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let next = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let backend = backends[n % backends.len()];
                tokio::spawn(relay(client, backend));
            }
        });
        Balancer { addr, accept }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn relay(mut client: TcpStream, backend: SocketAddr) {
    // A stopped backend refuses: the client sees its connection close, as
    // behind a real balancer with a dead node.
    let Ok(mut server) = TcpStream::connect(backend).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
