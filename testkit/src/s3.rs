//! A real S3-compatible server for tests: versitygw (posix backend) on a free
//! loopback port, over a temp dir, with random root keys and one bucket.
//! Unlike in-memory fakes it checks SigV4 for real: a tampered signature, an
//! expired URL and another signed type or length are refused.
//!
//! ```no_run
//! let s3 = utd_testkit::s3::VersityGw::start()?;
//! println!("S3 at {} bucket {}", s3.endpoint(), s3.bucket());
//! // dropped here: the process is killed and reaped, the dir removed
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use rusty_s3::{Bucket, Credentials, S3Action as _, UrlStyle};

use crate::ports::free_tcp_port;

/// The versitygw release scripts/setup.sh installs.
pub const VERSITYGW_VERSION: &str = "v1.8.0";
/// The bucket every test server has.
pub const BUCKET: &str = "utd-uploads";
/// The region of its signatures.
pub const REGION: &str = "us-east-1";
/// How long a fresh server may take to accept a CreateBucket.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Fresh ports on "address already in use", this many times in total.
const START_ATTEMPTS: usize = 3;

/// Where the versitygw binary is: `$UTD_VERSITYGW_BIN`, else the path
/// scripts/setup.sh installs to (`$UTD_CACHE/bin`, default
/// `~/.cache/utd-stream/bin`).
pub fn versitygw_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("UTD_VERSITYGW_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!(
                "UTD_VERSITYGW_BIN points to {}, which does not exist: run scripts/setup.sh versitygw",
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
    let path = cache.join(format!("bin/versitygw-{VERSITYGW_VERSION}"));
    if !path.is_file() {
        bail!(
            "versitygw {VERSITYGW_VERSION} is not installed at {}: run scripts/setup.sh versitygw",
            path.display()
        );
    }
    Ok(path)
}

/// A running versitygw; killed, reaped and its data removed on drop.
pub struct VersityGw {
    child: Child,
    port: u16,
    access_key: String,
    secret_key: String,
    log_path: PathBuf,
    // Keeps the data and the log until the server is gone.
    dir: tempfile::TempDir,
}

impl VersityGw {
    /// Starts a server and creates [`BUCKET`]. Like livekit-server, the child
    /// dies with the spawning thread: start it from the test's own thread.
    pub fn start() -> Result<Self> {
        let binary = versitygw_binary()?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&binary) {
                Ok(server) => return Ok(server),
                Err((error, taken)) if taken => last_error = Some(error),
                Err((error, _)) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("versitygw did not start")))
    }

    fn try_start(binary: &Path) -> std::result::Result<Self, (anyhow::Error, bool)> {
        let fail = |e: anyhow::Error| (e, false);
        let port = free_tcp_port().map_err(fail)?;
        let dir = tempfile::Builder::new()
            .prefix("utd-versitygw-")
            .tempdir()
            .context("creating a temp dir for versitygw")
            .map_err(fail)?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)
            .context("creating the versitygw data dir")
            .map_err(fail)?;
        let log_path = dir.path().join("versitygw.log");
        let access_key = format!("AK{}", random_hex(8));
        let secret_key = random_hex(20);
        let child =
            spawn(binary, port, &data, &log_path, &access_key, &secret_key).map_err(fail)?;
        let mut server = VersityGw {
            child,
            port,
            access_key,
            secret_key,
            log_path,
            dir,
        };
        match server.create_bucket() {
            Ok(()) => Ok(server),
            Err(e) => {
                let taken = server.log().contains("address already in use");
                Err((
                    e.context(format!("versitygw log:\n{}", server.log())),
                    taken,
                ))
            }
        }
    }

    /// Polls until the server answers a signed CreateBucket with 200.
    fn create_bucket(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = self
            .rusty_bucket()?
            .create_bucket(&self.credentials())
            .sign(Duration::from_secs(300));
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("versitygw exited with {status}");
            }
            match http_request("PUT", &url, self.port) {
                Ok(200) => return Ok(()),
                Ok(status) if Instant::now() >= deadline => {
                    bail!("CreateBucket answered {status}")
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context("versitygw never answered"))
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        REGION
    }

    /// The root access key.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The root secret key.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The root credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(self.access_key.clone(), self.secret_key.clone())
    }

    /// The bucket, path-style, for signing requests in tests.
    pub fn rusty_bucket(&self) -> Result<Bucket> {
        Ok(Bucket::new(
            self.endpoint().parse()?,
            UrlStyle::Path,
            BUCKET,
            REGION,
        )?)
    }

    /// Where an object of the bucket lives on disk (posix backend).
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.dir.path().join("data").join(BUCKET).join(key)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for VersityGw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(
    binary: &Path,
    port: u16,
    data: &Path,
    log_path: &Path,
    access_key: &str,
    secret_key: &str,
) -> Result<Child> {
    let log = File::options()
        .create(true)
        .append(true)
        .open(log_path)
        .context("opening the versitygw log file")?;
    let mut command = Command::new(binary);
    command
        .args(["--port", &format!("127.0.0.1:{port}"), "posix"])
        .arg(data)
        .env("ROOT_ACCESS_KEY", access_key)
        .env("ROOT_SECRET_KEY", secret_key)
        .env("VGW_REGION", REGION)
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("duplicating the log file handle")?)
        .stderr(log);
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe calls (prctl, getppid) and builds an error from a raw
    // errno without allocating.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    command
        .spawn()
        .with_context(|| format!("spawning {}", binary.display()))
}

/// A bodiless HTTP/1.1 request on loopback; returns the status code. Plain
/// std I/O so that `start` needs no async runtime.
fn http_request(method: &str, url: &url::Url, port: u16) -> Result<u16> {
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    let text = std::str::from_utf8(&head)?;
    text.get(9..12)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP status line: {text:?}"))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
