//! A real PostgreSQL 15 and a real Redis on free loopback ports, for the
//! engine's multi-node mode: throwaway data in a temporary directory, each
//! process killed (and its data deleted) when its handle is dropped, and by
//! the kernel if the test process dies first.
//!
//! PostgreSQL comes with the machine image (`/usr/lib/postgresql/15/bin`, or
//! `UTD_POSTGRES_BIN_DIR`); `redis-server` from Debian (`scripts/setup.sh
//! apt`). PostgreSQL refuses to run as root: as root the cluster belongs to
//! the `postgres` user.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::ports::free_tcp_port;

/// How long a server may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The folder of PostgreSQL's binaries.
pub fn postgres_bin_dir() -> PathBuf {
    std::env::var_os("UTD_POSTGRES_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// A running PostgreSQL server (user `utd`, trust authentication on
/// 127.0.0.1, no fsync: test data only).
pub struct Postgres {
    child: Child,
    port: u16,
    // Deleted on drop, after the server stopped.
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Creates a cluster in a temporary directory and starts it.
    pub fn start() -> Result<Postgres> {
        let bin = postgres_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("utd-postgres-")
            .tempdir()
            .context("temporary directory for PostgreSQL")?;
        let owner = server_user()?;
        if let Some((uid, gid)) = owner {
            chown(dir.path(), uid, gid)?;
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "utd", "--no-sync", "-E", "UTF8"])
            .args(["--locale", "C"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_user(&mut initdb, owner);
        let out = initdb
            .output()
            .with_context(|| format!("running {}", bin.join("initdb").display()))?;
        if !out.status.success() {
            bail!(
                "initdb failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let port = free_tcp_port()?;
        let log = std::fs::File::create(dir.path().join("postgres.log"))?;
        if let Some((uid, gid)) = owner {
            chown(&dir.path().join("postgres.log"), uid, gid)?;
        }
        let mut command = Command::new(bin.join("postgres"));
        command
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"])
            // Many short-lived test engines, each with its own database.
            .args(["-c", "max_connections=500", "-c", "shared_buffers=64MB"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(log);
        as_user(&mut command, owner);
        crate::livekit::die_with_parent(&mut command);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", bin.join("postgres").display()))?;
        let mut server = Postgres {
            child,
            port,
            _dir: dir,
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    /// `postgres://utd@127.0.0.1:PORT/postgres` (the maintenance database;
    /// see [`crate::database`] for a database per engine).
    pub fn url(&self) -> String {
        format!("postgres://utd@127.0.0.1:{}/postgres", self.port)
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("postgres exited during startup ({status})");
            }
            if accepts_queries(&self.url()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("postgres did not accept connections within {STARTUP_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown (the data is thrown away next).
        // SAFETY: signalling our own child by pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGQUIT);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running Redis server (no persistence).
pub struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts `redis-server` (from `PATH`).
    pub fn start() -> Result<Redis> {
        let dir = tempfile::Builder::new()
            .prefix("utd-redis-")
            .tempdir()
            .context("temporary directory for Redis")?;
        let port = free_tcp_port()?;
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        crate::livekit::die_with_parent(&mut command);
        let child = command
            .spawn()
            .context("starting redis-server (scripts/setup.sh apt installs it)")?;
        let mut server = Redis {
            child,
            port,
            _dir: dir,
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: every client's connection drops, nothing is saved.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("redis-server exited during startup ({status})");
            }
            if redis_pong(self.port) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("redis-server did not answer PING within {STARTUP_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the server answers a query. On a thread of its own: the
/// synchronous client runs a runtime of its own, which cannot start on a
/// thread that drives async tasks (callers may be async tests).
fn accepts_queries(url: &str) -> bool {
    std::thread::scope(|s| {
        s.spawn(|| {
            postgres::Client::connect(url, postgres::NoTls)
                .and_then(|mut client| client.simple_query("SELECT 1"))
                .is_ok()
        })
        .join()
        .unwrap_or(false)
    })
}

fn redis_pong(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

/// The uid and gid PostgreSQL must run as: `postgres` when we are root.
fn server_user() -> Result<Option<(u32, u32)>> {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        return Ok(None);
    }
    let name = std::ffi::CString::new("postgres")?;
    // SAFETY: getpwnam returns a pointer into static storage or null; the
    // fields are copied out at once, on this thread.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        bail!("running as root, PostgreSQL needs a `postgres` user, and there is none");
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some((uid, gid)))
}

fn as_user(command: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}
