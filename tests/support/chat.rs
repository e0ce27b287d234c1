//! Chat test set-up: the in-process engine with uploads on a real versitygw,
//! signed-in users with their `client.chat(storeDirectory)`, recorders of
//! the chat observables that tests wait on (never fixed sleeps), and a relay
//! that loses the engine's replies to chosen requests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use utd_engine::admin_client::AppCredentials;
use utd_engine::config::S3Config;
use utd_stream::chat::exported::{
    UTDChat, UTDConversationListListener, UTDTimeline, UTDTimelineListener, UTDTypersListener,
};
use utd_stream::chat::types::{UTDConversationList, UTDTimelineItem, UTDTimelineSnapshot};
use utd_stream::{UTDStreamClient, UTDSubscription};
use utd_testkit::s3::VersityGw;

use super::{within, Engine};

/// How long any one expected change may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// The engine with uploads configured on a fresh versitygw, and one app.
pub struct ChatStack {
    /// The engine (restartable on the same port and database).
    pub engine: Engine,
    /// The app every user of the test belongs to.
    pub app: AppCredentials,
    // Dropped after the engine: the store outlives its users.
    _s3: Option<VersityGw>,
}

impl ChatStack {
    /// An engine whose uploads go to a new versitygw, and an app on `plan`.
    /// versitygw is started from the calling (test) thread: it dies with
    /// the thread that spawned it.
    pub async fn start(plan: &str) -> ChatStack {
        let s3 = VersityGw::start().expect("versitygw starts (scripts/setup.sh versitygw)");
        let s3_config = S3Config {
            endpoint: s3.endpoint(),
            bucket: s3.bucket().to_owned(),
            region: s3.region().to_owned(),
            access_key: s3.access_key().to_owned(),
            secret_key: s3.secret_key().to_owned(),
        };
        let engine = Engine::start_with(|config| config.s3 = Some(s3_config)).await;
        let app = engine.app(plan).await;
        ChatStack {
            engine,
            app,
            _s3: Some(s3),
        }
    }

    /// An engine without uploads (chat only), and an app on `plan`.
    pub async fn without_uploads(plan: &str) -> ChatStack {
        let engine = Engine::start().await;
        let app = engine.app(plan).await;
        ChatStack {
            engine,
            app,
            _s3: None,
        }
    }

    /// A signed-in, connected device of `identity` with its chat over
    /// `store` (a directory that outlives the device, for restarts).
    pub async fn device(&self, identity: &str, device_id: &str, store: &Path) -> Device {
        Device::open(
            &self.engine.url(),
            &self.app,
            identity,
            device_id,
            store,
            true,
        )
        .await
    }
}

/// One signed-in device with its chat and its conversation-list recorder.
pub struct Device {
    /// The client.
    pub client: Arc<UTDStreamClient>,
    /// `client.chat(store)`.
    pub chat: Arc<UTDChat>,
    /// Every conversation list the chat published to its listener.
    pub lists: Arc<Seen<UTDConversationList>>,
    _subscription: Arc<UTDSubscription>,
}

impl Device {
    /// Signs `identity` in at `base_url` (connecting its WebSocket when
    /// `connect`), starts its chat over `store` and observes the list.
    pub async fn open(
        base_url: &str,
        app: &AppCredentials,
        identity: &str,
        device_id: &str,
        store: &Path,
        connect: bool,
    ) -> Device {
        let client = UTDStreamClient::new(
            app.app_id.clone(),
            app.app_key.clone(),
            base_url.into(),
            None,
        )
        .expect("client");
        client
            .clone()
            .authenticate(identity.into(), None, Some(device_id.into()))
            .await
            .expect("authenticate");
        if connect {
            client.clone().connect().await.expect("connect");
        }
        let chat = client
            .chat(Some(store.to_string_lossy().into_owned()))
            .expect("chat");
        let lists = Arc::new(Seen::default());
        let subscription = chat.observe_conversations(lists.clone());
        Device {
            client,
            chat,
            lists,
            _subscription: subscription,
        }
    }

    /// The id of this user's direct conversation with `peer`.
    pub async fn direct_with(&self, peer: &str) -> String {
        self.chat
            .clone()
            .direct_conversation(peer.into())
            .await
            .expect("direct")
            .conversation_id
    }

    /// The timeline of `conversation_id` with a recorder of its snapshots.
    pub async fn timeline(&self, conversation_id: &str) -> Watched {
        let timeline = self
            .chat
            .clone()
            .timeline(conversation_id.into())
            .await
            .expect("timeline");
        Watched::new(timeline)
    }

    /// Waits until the list shows `conversation_id` with `unread` unread
    /// messages; returns the list.
    pub async fn wait_unread(&self, conversation_id: &str, unread: u64) -> UTDConversationList {
        self.lists
            .wait(
                &format!("{conversation_id} shows {unread} unread"),
                |list| {
                    list.conversations
                        .iter()
                        .any(|c| c.conversation_id == conversation_id && c.unread_count == unread)
                },
            )
            .await
    }

    /// Releases the client as an app being killed would: tasks stop, the
    /// store directory stays.
    pub fn kill(self) {
        self.client.dispose();
    }
}

/// A timeline and the snapshots its listener got.
pub struct Watched {
    /// The timeline.
    pub timeline: Arc<UTDTimeline>,
    /// Every snapshot delivered, the current one first.
    pub seen: Arc<Seen<UTDTimelineSnapshot>>,
    _subscription: Arc<UTDSubscription>,
}

impl Watched {
    /// Observes `timeline`.
    pub fn new(timeline: Arc<UTDTimeline>) -> Watched {
        let seen = Arc::new(Seen::default());
        let subscription = timeline.observe(seen.clone());
        Watched {
            timeline,
            seen,
            _subscription: subscription,
        }
    }

    /// Waits until the latest snapshot satisfies `probe`.
    pub async fn wait(
        &self,
        what: &str,
        probe: impl Fn(&UTDTimelineSnapshot) -> bool,
    ) -> UTDTimelineSnapshot {
        self.seen.wait(what, probe).await
    }

    /// Waits until the row `key` is on the engine (sent, with its `seq`).
    pub async fn wait_sent(&self, key: &str) -> UTDTimelineItem {
        let snapshot = self
            .wait(&format!("{key} sent"), |s| {
                s.items.iter().any(|i| i.key == key && i.seq.is_some())
            })
            .await;
        item(&snapshot, key)
    }

    /// Waits until the timeline shows exactly `texts` (engine messages and
    /// echoes), in this order.
    pub async fn wait_texts(&self, texts: &[&str]) -> UTDTimelineSnapshot {
        self.wait(&format!("the timeline shows {texts:?}"), |s| {
            s.items
                .iter()
                .map(|i| i.text.as_str())
                .eq(texts.iter().copied())
        })
        .await
    }
}

/// The row `key` of a snapshot.
pub fn item(snapshot: &UTDTimelineSnapshot, key: &str) -> UTDTimelineItem {
    snapshot
        .items
        .iter()
        .find(|i| i.key == key)
        .cloned()
        .unwrap_or_else(|| panic!("no row {key} in {snapshot:#?}"))
}

/// The engine `seq`s of a snapshot, in row order.
pub fn seqs(snapshot: &UTDTimelineSnapshot) -> Vec<u64> {
    snapshot.items.iter().filter_map(|i| i.seq).collect()
}

/// Values a listener received, with a way to wait for the latest one to
/// satisfy a condition.
pub struct Seen<T> {
    values: Mutex<Vec<T>>,
    changed: Notify,
}

impl<T> Default for Seen<T> {
    fn default() -> Self {
        Self {
            values: Mutex::new(Vec::new()),
            changed: Notify::new(),
        }
    }
}

impl<T: Clone> Seen<T> {
    fn record(&self, value: T) {
        self.values.lock().expect("seen lock").push(value);
        self.changed.notify_waiters();
    }

    /// Every value received so far, oldest first.
    pub fn all(&self) -> Vec<T> {
        self.values.lock().expect("seen lock").clone()
    }

    /// The latest value received.
    pub fn last(&self) -> Option<T> {
        self.values.lock().expect("seen lock").last().cloned()
    }

    /// How many values were received.
    pub fn count(&self) -> usize {
        self.values.lock().expect("seen lock").len()
    }

    /// Waits (at most [`WAIT`]) until the latest value satisfies `probe`.
    pub async fn wait(&self, what: &str, probe: impl Fn(&T) -> bool) -> T {
        within(WAIT, what, async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                // Registered before looking, so a value recorded in between
                // still wakes this waiter.
                changed.as_mut().enable();
                if let Some(value) = self.last().filter(|v| probe(v)) {
                    return value;
                }
                changed.await;
            }
        })
        .await
    }
}

impl UTDConversationListListener for Seen<UTDConversationList> {
    fn on_conversations(&self, list: UTDConversationList) {
        self.record(list);
    }
}

impl UTDTimelineListener for Seen<UTDTimelineSnapshot> {
    fn on_timeline(&self, snapshot: UTDTimelineSnapshot) {
        self.record(snapshot);
    }
}

impl UTDTypersListener for Seen<Vec<String>> {
    fn on_typers(&self, typers: Vec<String>) {
        self.record(typers);
    }
}

/// A fresh directory for one device's chat store, kept by the test so a
/// "restarted" device finds its queue again.
pub fn store_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("utd-chat-store-")
        .tempdir()
        .expect("store dir")
}

/// Writes `bytes` to a new file in `dir`; returns its path.
pub fn file_with(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write file");
    path
}

/// A loopback relay to the engine that forwards everything, except that
/// the reply to a request whose request line contains all of a rule's
/// parts is lost: the request reaches the engine (which carries it out),
/// and the client's connection is closed when the reply starts.
pub struct LossyRelay {
    /// Where clients should point (`http://{addr}`).
    pub addr: SocketAddr,
    rules: Arc<Mutex<Vec<Rule>>>,
    lost: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

struct Rule {
    parts: Vec<String>,
    remaining: usize,
}

impl LossyRelay {
    /// Starts relaying to `target`.
    pub async fn start(target: SocketAddr) -> LossyRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let lost = Arc::new(AtomicUsize::new(0));
        let (task_rules, task_lost) = (rules.clone(), lost.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (rules, lost) = (task_rules.clone(), task_lost.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        relay(client, server, rules, lost).await;
                    }
                });
            }
        });
        LossyRelay {
            addr,
            rules,
            lost,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Loses the replies to the next `times` requests whose request line
    /// (e.g. `POST /api/v1/uploads/upl_…/complete HTTP/1.1`) contains
    /// every one of `parts`.
    pub fn lose_replies(&self, parts: &[&str], times: usize) {
        self.rules.lock().expect("rules").push(Rule {
            parts: parts.iter().map(|p| (*p).to_owned()).collect(),
            remaining: times,
        });
    }

    /// Stops losing replies.
    pub fn heal(&self) {
        self.rules.lock().expect("rules").clear();
    }

    /// How many replies were lost so far.
    pub fn lost(&self) -> usize {
        self.lost.load(Ordering::Acquire)
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn doomed_by(rules: &Mutex<Vec<Rule>>, chunk: &[u8]) -> bool {
    let text = String::from_utf8_lossy(chunk);
    let mut rules = rules.lock().expect("rules");
    // HTTP/1.1 without pipelining: a chunk that starts a request starts
    // with its request line.
    let Some(line) = text.lines().next() else {
        return false;
    };
    for rule in rules.iter_mut() {
        if rule.remaining > 0 && rule.parts.iter().all(|p| line.contains(p.as_str())) {
            rule.remaining -= 1;
            return true;
        }
    }
    false
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    rules: Arc<Mutex<Vec<Rule>>>,
    lost: Arc<AtomicUsize>,
) {
    let doomed = Arc::new(AtomicBool::new(false));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mark = doomed.clone();
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if doomed_by(&rules, &buf[..n]) {
                // Before the engine can answer: its reply will be dropped.
                mark.store(true, Ordering::Release);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if doomed.load(Ordering::Acquire) {
                lost.fetch_add(1, Ordering::AcqRel);
                return;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    // Either side ending closes both: a lost reply closes the connection.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
