//! Free loopback ports, so parallel tests and parallel CI runs don't collide.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};

use anyhow::{Context, Result};

/// A TCP port on 127.0.0.1 that was free a moment ago. The kernel hands out
/// ephemeral ports round-robin, so it is unlikely to be reused before the
/// caller binds it; callers still retry when a bind fails.
pub fn free_tcp_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("probing for a free TCP port")?;
    Ok(listener.local_addr()?.port())
}

/// A UDP port on 127.0.0.1 that was free a moment ago (see [`free_tcp_port`]).
pub fn free_udp_port() -> Result<u16> {
    let socket =
        UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("probing for a free UDP port")?;
    Ok(socket.local_addr()?.port())
}
