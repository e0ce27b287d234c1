//! A real livekit-server process on free loopback ports, stopped on drop.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::ports::{free_tcp_port, free_udp_port};

/// The version scripts/setup.sh installs; the cache path carries it.
pub const LIVEKIT_SERVER_VERSION: &str = "v1.13.5";

/// API key every test server accepts (the `--keys` pair).
pub const API_KEY: &str = "devkey";
/// Secret paired with [`API_KEY`]. Test-only, never used outside loopback.
pub const API_SECRET: &str = "secret";

/// How long livekit-server gets to answer its health check. A cold start on a
/// loaded 2-core CI machine takes ~1 s; the margin covers a busy `cargo test`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Another process may grab a port between our probe and the server's bind;
/// when the log says so, retry on fresh ports this many times in total.
const START_ATTEMPTS: usize = 3;

/// Where the livekit-server binary is: `$UTD_LIVEKIT_SERVER_BIN`, else the
/// path scripts/setup.sh installs to (`$UTD_CACHE/bin`, default
/// `~/.cache/utd-stream/bin`).
pub fn livekit_server_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("UTD_LIVEKIT_SERVER_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!(
                "UTD_LIVEKIT_SERVER_BIN points to {}, which does not exist: run scripts/setup.sh livekit",
                path.display()
            );
        }
        return Ok(path);
    }
    let cache = match std::env::var_os("UTD_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").context("neither UTD_CACHE nor HOME is set")?;
            PathBuf::from(home).join(".cache/utd-stream")
        }
    };
    let path = cache.join(format!("bin/livekit-server-{LIVEKIT_SERVER_VERSION}"));
    if !path.is_file() {
        bail!(
            "livekit-server {LIVEKIT_SERVER_VERSION} is not installed at {}: run scripts/setup.sh livekit",
            path.display()
        );
    }
    Ok(path)
}

/// Options for a [`LiveKitServer`]; start one with [`LiveKitServerBuilder::start`].
#[derive(Debug, Clone, Default)]
pub struct LiveKitServerBuilder {
    webhook_urls: Vec<String>,
}

impl LiveKitServerBuilder {
    /// Makes the server POST its webhooks (room_finished, participant_left,
    /// ...) to `url`, signed with [`API_KEY`]. May be called several times.
    pub fn with_webhook(mut self, url: impl Into<String>) -> Self {
        self.webhook_urls.push(url.into());
        self
    }

    /// Starts the server and waits until it answers `GET /` with 200.
    ///
    /// The process is killed when the returned value is dropped, and also by
    /// the kernel if the thread that started it dies first
    /// (`PR_SET_PDEATHSIG`), so start it from a thread that outlives it: the
    /// test's own thread or `main`, not a short-lived blocking-pool thread.
    pub fn start(self) -> Result<LiveKitServer> {
        let binary = livekit_server_binary()?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match self.try_start(&binary)? {
                Started::Ready(server) => return Ok(server),
                Started::PortTaken(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("livekit-server did not start")))
    }

    fn config_body(&self, http_port: u16, udp_port: u16) -> String {
        // JSON is valid YAML, and serialising by hand keeps quoting explicit.
        // tcp_port 0 and use_external_ip false: no TCP fallback listener and
        // no STUN lookup (these machines have no internet). Only loopback
        // candidates, so nothing listens on the machine's other interfaces.
        let webhook = if self.webhook_urls.is_empty() {
            String::new()
        } else {
            let urls: Vec<String> = self.webhook_urls.iter().map(|u| json_string(u)).collect();
            format!(
                r#","webhook":{{"api_key":{},"urls":[{}]}}"#,
                json_string(API_KEY),
                urls.join(",")
            )
        };
        format!(
            r#"{{"port":{http_port},"rtc":{{"tcp_port":0,"udp_port":{udp_port},"use_external_ip":false,"enable_loopback_candidate":true,"ips":{{"includes":["127.0.0.1/32"]}}}}{webhook}}}"#
        )
    }

    fn try_start(&self, binary: &Path) -> Result<Started> {
        let http_port = free_tcp_port()?;
        let udp_port = free_udp_port()?;
        let dir = tempfile::Builder::new()
            .prefix("utd-livekit-")
            .tempdir()
            .context("creating a temp dir for the livekit-server log")?;
        let log_path = dir.path().join("livekit-server.log");
        let config_body = self.config_body(http_port, udp_port);
        let child = spawn(binary, &config_body, &log_path)?;
        let mut server = LiveKitServer {
            child,
            http_port,
            udp_port,
            binary: binary.to_path_buf(),
            config_body,
            log_path,
            _dir: dir,
        };
        match server.wait_until_healthy() {
            Ok(()) => Ok(Started::Ready(server)),
            Err(error) => {
                let taken = server.log().contains("address already in use");
                // Dropping `server` kills and reaps the process.
                drop(server);
                if taken {
                    Ok(Started::PortTaken(error))
                } else {
                    Err(error)
                }
            }
        }
    }
}

/// Spawns livekit-server with `config_body`, logging to `log_path` (appended).
fn spawn(binary: &Path, config_body: &str, log_path: &Path) -> Result<Child> {
    // A file, not a pipe: the server logs a lot in --dev mode and nobody
    // drains a pipe during a test, which would eventually block it.
    let log = File::options()
        .create(true)
        .append(true)
        .open(log_path)
        .context("opening the livekit-server log file")?;
    let mut command = Command::new(binary);
    command
        .args(["--dev", "--bind", "127.0.0.1", "--node-ip", "127.0.0.1"])
        .args(["--keys", &format!("{API_KEY}: {API_SECRET}")])
        .args(["--config-body", config_body])
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("duplicating the log file handle")?)
        .stderr(log);
    die_with_parent(&mut command);
    command
        .spawn()
        .with_context(|| format!("spawning {}", binary.display()))
}

enum Started {
    Ready(LiveKitServer),
    PortTaken(anyhow::Error),
}

/// Makes the kernel SIGKILL the child when the spawning thread dies, so a test
/// binary that is killed (or aborts on a double panic) leaves no server behind.
pub(crate) fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe calls (prctl, getppid) and builds an error from a raw
    // errno without allocating.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect; then nobody
            // would ever kill us.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A running livekit-server on 127.0.0.1. Killed and reaped on drop.
#[derive(Debug)]
pub struct LiveKitServer {
    child: Child,
    http_port: u16,
    udp_port: u16,
    binary: PathBuf,
    config_body: String,
    log_path: PathBuf,
    // Holds the log file's directory; removed on drop.
    _dir: tempfile::TempDir,
}

impl LiveKitServer {
    /// Starts a server with default options; see [`LiveKitServerBuilder::start`].
    pub fn start() -> Result<Self> {
        Self::builder().start()
    }

    /// Options for a server (e.g. a webhook URL).
    pub fn builder() -> LiveKitServerBuilder {
        LiveKitServerBuilder::default()
    }

    /// The signalling URL clients join with, e.g. `ws://127.0.0.1:41235`.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.http_port)
    }

    /// The HTTP base URL of the server API (RoomService), same port as `ws_url`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The API key the server accepts.
    pub fn api_key(&self) -> &str {
        API_KEY
    }

    /// The secret paired with [`Self::api_key`].
    pub fn api_secret(&self) -> &str {
        API_SECRET
    }

    /// The HTTP/WebSocket port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The single UDP port used for WebRTC media.
    pub fn udp_port(&self) -> u16 {
        self.udp_port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server logged so far (for failure messages).
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            // A lossy read is fine: this is diagnostics only.
            let mut bytes = Vec::new();
            if file.read_to_end(&mut bytes).is_ok() {
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
        text
    }

    /// Kills the server (SIGKILL: connected clients see their sockets drop,
    /// as in a crash). The ports stay reserved for [`Self::restart`].
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same ports and configuration (after
    /// [`Self::kill`], or killing it first) and waits until it is healthy.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.child = spawn(&self.binary, &self.config_body, &self.log_path)?;
        self.wait_until_healthy()
    }

    /// True when the server answers `GET /` with 200 right now.
    pub fn is_healthy(&self) -> bool {
        http_ok(self.http_port)
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn wait_until_healthy(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            // livekit-server exits with status 0 on startup errors (bad
            // config, port in use), so any exit before it is healthy is a
            // failure whatever the status says.
            if let Some(status) = self.child.try_wait().context("polling livekit-server")? {
                bail!(
                    "livekit-server exited during startup ({status}); its log:\n{}",
                    self.log_tail()
                );
            }
            if http_ok(self.http_port) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "livekit-server did not answer GET {}/ with 200 within {:?}; its log:\n{}",
                    self.http_url(),
                    STARTUP_TIMEOUT,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for LiveKitServer {
    fn drop(&mut self) {
        // SIGKILL, not SIGTERM: a graceful shutdown waits for participants to
        // leave, and tests want the port back now. Errors mean it already
        // exited; wait() then reaps it so no zombie is left.
        self.kill();
    }
}

/// True when `GET http://127.0.0.1:<port>/` answers 200.
fn http_ok(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(2));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok()
        && (head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
}
