//! A loopback TCP relay that records every byte the SDK sends, to prove
//! what never appears on the wire (the server secret).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Relays `127.0.0.1:<port>` → `target`, recording client→server bytes.
pub struct WireTap {
    /// Where clients should connect.
    pub addr: SocketAddr,
    sent: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WireTap {
    /// Starts relaying to `target`.
    pub async fn start(target: SocketAddr) -> WireTap {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind tap");
        let addr = listener.local_addr().expect("tap addr");
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        relay(client, server, record).await;
                    }
                });
            }
        });
        WireTap { addr, sent, task }
    }

    /// Everything clients sent so far, lossily decoded.
    pub fn sent_text(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().expect("tap lock")).into_owned()
    }
}

impl Drop for WireTap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, record: Arc<Mutex<Vec<u8>>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let mut buf = [0u8; 8192];
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if let Ok(mut sent) = record.lock() {
                sent.extend_from_slice(&buf[..n]);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    tokio::join!(upstream, downstream);
}
