//! Bench: how fast chat is as apps see it, through the exported API
//! (`UTDStreamClient::chat`, `UTDChat::timeline`, `UTDTimeline`).
//!
//! - `send → in the other member's timeline`: the sender's `send(text)` is
//!   called on its open timeline; the clock stops when the receiver's
//!   timeline listener (`UTDTimeline::observe`) gets the first snapshot
//!   holding that message as the engine's (with its `seq`): the send queue's
//!   POST, the engine's transaction, the `chat.message` push over the
//!   receiver's WebSocket and the SDK merging it. One message at a time; the
//!   next one is sent once the sender's own timeline shows the previous one
//!   as sent (untimed), so runs do not overlap.
//!   Baseline: one bare signal WebSocket round trip on the receiver's client
//!   (`Signalling::round_trip`, the same `echo` the call bench times), in
//!   alternating order (before or after the message) so drift hits both
//!   alike.
//! - `timeline() → latest page`: a fresh client of the reader (signed in,
//!   `chat(None)`, its conversation list read: untimed) opens the timeline of
//!   a conversation with `--history N` messages; timed until `timeline()`
//!   returns, which is when the SDK has published the snapshot with the
//!   latest page (the first snapshot a listener could get is this one). The
//!   snapshot is checked to end at the newest message. Baseline: the same
//!   on a 100-message conversation, alternating which goes first. A fresh
//!   client each time, because a chat keeps a timeline open once loaded.
//!   The reader has read both conversations (as when reopening a chat one
//!   follows), so the load is the page, not an unread count over the
//!   history.
//!
//! Seeding (not timed in the table, printed below it): through the
//! engine's public HTTP API (`POST /api/v1/chat/conversations/{id}/messages`)
//! with several requests in flight, before any member of those
//! conversations is connected (so the engine computes no push and no unread
//! count per message). Chosen over writing rows into the engine's SQLite
//! file in one transaction because it keeps the engine's invariants (seq,
//! mod_seq, last activity) by construction and does not tie the bench to the
//! schema; 100 000 messages take well under two minutes in a release build.
//!
//! Everything runs in this process against the in-process reference engine
//! on a temporary SQLite file, with the rate limits raised out of the way; no
//! LiveKit (chat does not touch media).
//!
//! Prints, per metric: runs, median, p99 (nearest rank) and median ÷ its
//! baseline's median, then the seeding time and the wall time. Exits
//! non-zero on any failure.
//!
//! Run it with `scripts/bench.sh chat [--runs N] [--warmup N] [--history N]
//! [--loads N]` (release build), or `cargo run --example bench_chat --
//! --runs 5 --warmup 1 --history 2000` for a smoke run.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "bench_support/mod.rs"]
mod bench_support;

use bench_support::{print_header_without_livekit, within, BenchResult, Options, Stats};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use utd_engine::admin_client::{AdminClient, AppCredentials};
use utd_engine::{EngineConfig, Plan};
use utd_stream::chat::exported::{
    UTDChat, UTDConversationListListener, UTDTimeline, UTDTimelineListener,
};
use utd_stream::chat::types::{UTDConversationList, UTDTimelineSnapshot};
use utd_stream::{UTDStreamClient, UTDSubscription};

const USAGE: &str = "usage: bench_chat [--runs N] [--warmup N] [--history N] [--loads N]
  --runs N      measured messages (default 200)
  --warmup N    unmeasured messages first, and as many unmeasured timeline
                loads of each conversation (default 10)
  --history N   messages seeded into the large conversation (default 100000;
                the smoke run passes 2000)
  --loads N     measured timeline loads of each conversation (default 20)";

const SENDER: &str = "alice";
const RECEIVER: &str = "bob";
/// The member whose fresh clients open the seeded conversations.
const READER: &str = "reader";
/// The other member of each seeded conversation, who wrote its history.
const WRITER_LARGE: &str = "writer-large";
const WRITER_SMALL: &str = "writer-small";
/// Messages of the baseline conversation.
const SMALL_HISTORY: usize = 100;
/// Seeding requests in flight: enough to keep the engine's one SQLite
/// connection busy while HTTP parsing and auth overlap on the 2 cores.
const SEED_IN_FLIGHT: usize = 8;
/// Per seeding request, so a stuck engine fails the bench.
const SEED_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const METRIC_DELIVERY: &str = "send → in the other member's timeline";
const BASELINE_DELIVERY: &str = "  bare WebSocket round trip";

#[derive(Debug, Clone, Copy)]
struct Settings {
    runs: usize,
    warmup: usize,
    history: usize,
    loads: usize,
}

impl Settings {
    /// Parses the arguments; `None` when help was asked for.
    fn parse(args: impl Iterator<Item = String>) -> BenchResult<Option<Settings>> {
        let mut history = 100_000;
        let mut loads = 20;
        let Some(options) = Options::parse_with(
            args,
            200,
            10,
            USAGE,
            &mut [("--history", &mut history), ("--loads", &mut loads)],
        )?
        else {
            return Ok(None);
        };
        if history == 0 || loads == 0 {
            return Err(format!("--history and --loads must be at least 1\n{USAGE}").into());
        }
        Ok(Some(Settings {
            runs: options.runs,
            warmup: options.warmup,
            history,
            loads,
        }))
    }
}

fn main() -> ExitCode {
    let settings = match Settings::parse(std::env::args().skip(1)) {
        Ok(Some(settings)) => settings,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("[bench] FAILED: {e}");
            return ExitCode::FAILURE;
        }
    };
    bench_support::main_without_livekit(|config, started| bench(settings, config, started))
}

/// Starts the engine, seeds, measures, stops the engine, prints.
async fn bench(settings: Settings, config: EngineConfig, started: Instant) -> BenchResult<()> {
    let engine = utd_engine::start(config.clone()).await?;
    let url = engine.base_url();
    let result = async {
        // Pro: the plan with chat (free and signaling have none).
        let app = AdminClient::new(&url, &config.admin_token)
            .create_app("bench", Plan::Pro)
            .await?;
        let engine_api = EngineHttp::new(&url, &app)?;
        let seeded = seed(&engine_api, settings.history).await?;
        let delivery = measure_delivery(&app, &url, settings).await?;
        let loads = measure_loads(&app, &url, &seeded, settings).await?;
        BenchResult::Ok(Samples {
            delivery,
            loads,
            seeding: seeded.took,
        })
    }
    .await;
    engine.shutdown().await;
    result?.print(settings, started.elapsed());
    Ok(())
}

/// The engine's public HTTP API, bare (seeding only: what is measured goes
/// through the SDK).
struct EngineHttp {
    http: reqwest::Client,
    url: String,
    app_id: String,
    app_key: String,
}

impl EngineHttp {
    fn new(url: &str, app: &AppCredentials) -> BenchResult<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(SEED_REQUEST_TIMEOUT)
                .build()?,
            url: url.to_owned(),
            app_id: app.app_id.clone(),
            app_key: app.app_key.clone(),
        })
    }

    /// POSTs `body` to `path` (with `bearer` if given, else the app's
    /// credentials) and returns the reply; any non-2xx is an error with the
    /// engine's body.
    async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> BenchResult<Value> {
        let request = self.http.post(format!("{}{path}", self.url)).json(body);
        let request = match bearer {
            Some(token) => request.bearer_auth(token),
            None => request
                .header("X-UTD-App-Id", &self.app_id)
                .header("X-UTD-App-Key", &self.app_key),
        };
        let reply = request
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = reply.status();
        let text = reply
            .text()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("POST {path}: {status}: {text}").into());
        }
        Ok(serde_json::from_str(&text).map_err(|e| format!("POST {path}: {e}: {text}"))?)
    }

    /// A fresh user token of `identity`.
    async fn session(&self, identity: &str) -> BenchResult<String> {
        let reply = self
            .post(
                "/api/v1/auth/session",
                None,
                &json!({ "identity": identity }),
            )
            .await?;
        field(&reply, "user_token")
    }

    /// The direct conversation of `bearer`'s user and `peer`.
    async fn open_direct(&self, bearer: &str, peer: &str) -> BenchResult<String> {
        let reply = self
            .post(
                "/api/v1/chat/conversations/direct",
                Some(bearer),
                &json!({ "identity": peer }),
            )
            .await?;
        field(&reply, "conversation_id")
    }
}

fn field(value: &Value, name: &str) -> BenchResult<String> {
    value
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no {name:?} in {value}").into())
}

/// The seeded conversations the reader opens, and how long seeding took.
struct Seeded {
    large: String,
    small: String,
    took: Duration,
}

/// Seeds the two conversations of the reader: `history` messages from
/// WRITER_LARGE and SMALL_HISTORY from WRITER_SMALL, then marks both read
/// by the reader. Nobody is connected, so the engine only writes rows.
async fn seed(api: &EngineHttp, history: usize) -> BenchResult<Seeded> {
    let reader = api.session(READER).await?;
    let started = Instant::now();
    let mut conversations = Vec::new();
    for (writer, count) in [(WRITER_LARGE, history), (WRITER_SMALL, SMALL_HISTORY)] {
        let token = api.session(writer).await?;
        let conversation_id = api.open_direct(&token, READER).await?;
        send_many(api, &token, &conversation_id, count).await?;
        api.post(
            &format!("/api/v1/chat/conversations/{conversation_id}/read"),
            Some(&reader),
            &json!({ "seq": count }),
        )
        .await?;
        conversations.push(conversation_id);
    }
    let took = started.elapsed();
    let (Some(small), Some(large)) = (conversations.pop(), conversations.pop()) else {
        return Err("seeding made no conversations".into());
    };
    Ok(Seeded { large, small, took })
}

/// Sends `count` messages into `conversation_id`, SEED_IN_FLIGHT at a time,
/// printing progress on large counts.
async fn send_many(
    api: &EngineHttp,
    token: &str,
    conversation_id: &str,
    count: usize,
) -> BenchResult<()> {
    let next = &AtomicUsize::new(0);
    let path = &format!("/api/v1/chat/conversations/{conversation_id}/messages");
    let worker = move || async move {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= count {
                return BenchResult::Ok(());
            }
            let body = json!({
                "client_message_id": format!("seed-{index}"),
                "text": format!("seeded message {index}: a line of ordinary chat text"),
            });
            api.post(path, Some(token), &body).await?;
            if count >= 10_000 && (index + 1) % (count / 10) == 0 {
                eprintln!("[bench] seeding: {}/{count} sent", index + 1);
            }
        }
    };
    // Joined, not spawned: the workers borrow the API client and the
    // counter; the first failure ends the seeding.
    let workers: Vec<_> = (0..SEED_IN_FLIGHT).map(|_| worker()).collect();
    for result in futures_util::future::join_all(workers).await {
        result?;
    }
    Ok(())
}

/// One signed-in client of a member with its chat.
struct Member {
    client: Arc<UTDStreamClient>,
    chat: Arc<UTDChat>,
}

impl Member {
    /// Signs `identity` in (and connects its signal WebSocket if `connect`),
    /// then starts its chat with an in-memory store.
    async fn sign_in(
        app: &AppCredentials,
        url: &str,
        identity: &str,
        connect: bool,
    ) -> BenchResult<Member> {
        let client = UTDStreamClient::new(
            app.app_id.clone(),
            app.app_key.clone(),
            url.to_owned(),
            None,
        )?;
        let member = async {
            let signed_in = client.clone().authenticate(identity.into(), None, None);
            within(&format!("{identity} authenticates"), signed_in).await?;
            if connect {
                within(&format!("{identity} connects"), client.clone().connect()).await?;
            }
            let chat = client.chat(None)?;
            BenchResult::Ok(chat)
        }
        .await;
        match member {
            Ok(chat) => Ok(Member { client, chat }),
            Err(e) => {
                client.dispose();
                Err(e)
            }
        }
    }

    fn close(&self) {
        self.client.dispose();
    }
}

/// Forwards each message that newly shows up as the engine's (with a `seq`)
/// in a timeline, with the time the snapshot arrived.
struct Stamper {
    seen: Mutex<HashSet<String>>,
    out: mpsc::UnboundedSender<(String, Instant)>,
}

impl UTDTimelineListener for Stamper {
    fn on_timeline(&self, snapshot: UTDTimelineSnapshot) {
        let at = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Newest last, and one message at a time: scan back to the first
        // row already seen.
        for item in snapshot.items.iter().rev().filter(|i| i.seq.is_some()) {
            if !seen.insert(item.key.clone()) {
                break;
            }
            let _ = self.out.send((item.key.clone(), at));
        }
    }
}

/// A timeline with a stamping listener.
struct Watched {
    timeline: Arc<UTDTimeline>,
    stamps: mpsc::UnboundedReceiver<(String, Instant)>,
    listening: Arc<UTDSubscription>,
}

impl Watched {
    async fn open(member: &Member, conversation_id: &str) -> BenchResult<Watched> {
        let timeline = within(
            "a timeline opens",
            member.chat.clone().timeline(conversation_id.to_owned()),
        )
        .await?;
        let (out, stamps) = mpsc::unbounded_channel();
        let listening = timeline.observe(Arc::new(Stamper {
            seen: Mutex::new(HashSet::new()),
            out,
        }));
        Ok(Watched {
            timeline,
            stamps,
            listening,
        })
    }

    /// When the row `key` first showed up as sent.
    async fn stamped(&mut self, what: &str, key: &str) -> BenchResult<Instant> {
        within(what, async {
            loop {
                let (seen, at) = self
                    .stamps
                    .recv()
                    .await
                    .ok_or("the timeline listener stopped")?;
                if seen == key {
                    return BenchResult::Ok(at);
                }
            }
        })
        .await
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.listening.cancel();
    }
}

/// Message delivery and the WebSocket round trips next to it.
struct Delivery {
    delivery: Vec<Duration>,
    round_trip: Vec<Duration>,
}

async fn measure_delivery(
    app: &AppCredentials,
    url: &str,
    settings: Settings,
) -> BenchResult<Delivery> {
    let sender = Member::sign_in(app, url, SENDER, true).await?;
    let receiver = match Member::sign_in(app, url, RECEIVER, true).await {
        Ok(member) => member,
        Err(e) => {
            sender.close();
            return Err(e);
        }
    };
    let result = deliver_all(&sender, &receiver, settings).await;
    sender.close();
    receiver.close();
    result
}

async fn deliver_all(
    sender: &Member,
    receiver: &Member,
    settings: Settings,
) -> BenchResult<Delivery> {
    let conversation = within(
        "the sender opens the direct conversation",
        sender.chat.clone().direct_conversation(RECEIVER.into()),
    )
    .await?;
    let mut outbox = Watched::open(sender, &conversation.conversation_id).await?;
    let mut inbox = Watched::open(receiver, &conversation.conversation_id).await?;
    let total = settings.warmup + settings.runs;
    let mut samples = Delivery {
        delivery: Vec::with_capacity(settings.runs),
        round_trip: Vec::with_capacity(settings.runs),
    };
    for index in 0..total {
        let baseline_first = index % 2 == 0;
        let mut round_trip = None;
        if baseline_first {
            round_trip = Some(bare_round_trip(receiver).await?);
        }
        let t0 = Instant::now();
        let echo = within(
            "send",
            outbox
                .timeline
                .clone()
                .send(format!("message {index}"), Vec::new()),
        )
        .await
        .map_err(|e| format!("message {}/{total}: {e}", index + 1))?;
        let arrived = inbox
            .stamped("the message reaches the receiver's timeline", &echo.key)
            .await
            .map_err(|e| format!("message {}/{total}: {e}", index + 1))?;
        let took = arrived.saturating_duration_since(t0);
        // Untimed: the sender's queue has the engine's reply, so the next
        // send does not wait behind this one.
        outbox
            .stamped("the sender's timeline shows it sent", &echo.key)
            .await?;
        if !baseline_first {
            round_trip = Some(bare_round_trip(receiver).await?);
        }
        if index >= settings.warmup {
            samples.delivery.push(took);
            samples
                .round_trip
                .push(round_trip.ok_or("no round trip measured")?);
        }
    }
    Ok(samples)
}

/// One bare signal WebSocket round trip on `member`'s client: the code path
/// the call bench's baseline times.
async fn bare_round_trip(member: &Member) -> BenchResult<Duration> {
    within(
        "WebSocket round trip",
        member.client.signalling().round_trip(),
    )
    .await
}

/// Says when the conversation list was first read.
struct ListLoaded(watch::Sender<bool>);

impl UTDConversationListListener for ListLoaded {
    fn on_conversations(&self, list: UTDConversationList) {
        if list.loaded {
            let _ = self.0.send(true);
        }
    }
}

/// Timeline loads of the large and the small conversation.
struct Loads {
    large: Vec<Duration>,
    small: Vec<Duration>,
}

async fn measure_loads(
    app: &AppCredentials,
    url: &str,
    seeded: &Seeded,
    settings: Settings,
) -> BenchResult<Loads> {
    let warmup = settings.warmup.min(settings.loads);
    let mut loads = Loads {
        large: Vec::with_capacity(settings.loads),
        small: Vec::with_capacity(settings.loads),
    };
    let large = (&seeded.large, settings.history);
    let small = (&seeded.small, SMALL_HISTORY);
    for index in 0..warmup + settings.loads {
        let order = if index % 2 == 0 {
            [large, small]
        } else {
            [small, large]
        };
        for (conversation_id, last_seq) in order {
            let took = load_once(app, url, conversation_id, last_seq)
                .await
                .map_err(|e| format!("load {} of {last_seq} messages: {e}", index + 1))?;
            if index >= warmup {
                if conversation_id == &seeded.large {
                    loads.large.push(took);
                } else {
                    loads.small.push(took);
                }
            }
        }
    }
    Ok(loads)
}

/// A fresh reader client opens `conversation_id`; returns how long
/// `timeline()` took.
async fn load_once(
    app: &AppCredentials,
    url: &str,
    conversation_id: &str,
    last_seq: usize,
) -> BenchResult<Duration> {
    // Not connected: the load is HTTP only, and no push or reconnect
    // catch-up runs beside it.
    let reader = Member::sign_in(app, url, READER, false).await?;
    let result = async {
        // Untimed: the chat's first list read, which would otherwise run
        // beside the timed load.
        let (loaded, mut is_loaded) = watch::channel(false);
        let listening = reader
            .chat
            .observe_conversations(Arc::new(ListLoaded(loaded)));
        // The watch's read guard is dropped at once: the listener may be
        // sending on it.
        let list = within("the conversation list loads", is_loaded.wait_for(|l| *l))
            .await
            .map(|_| ());
        listening.cancel();
        list?;

        let t0 = Instant::now();
        let timeline = within(
            "the timeline opens",
            reader.chat.clone().timeline(conversation_id.to_owned()),
        )
        .await?;
        let took = t0.elapsed();
        let snapshot = timeline.snapshot();
        let newest = snapshot.items.last().and_then(|item| item.seq);
        if newest != Some(last_seq as u64) {
            return Err(format!(
                "the first snapshot ends at seq {newest:?}, not the newest message {last_seq} \
                 ({} items)",
                snapshot.items.len()
            )
            .into());
        }
        BenchResult::Ok(took)
    }
    .await;
    reader.close();
    result
}

/// The timings of all measured runs.
struct Samples {
    delivery: Delivery,
    loads: Loads,
    seeding: Duration,
}

impl Samples {
    fn print(&self, settings: Settings, elapsed: Duration) {
        print_header_without_livekit(&format!(
            "UTD Stream chat bench: {} messages after {} warm-up, {} timeline loads of each \
             conversation",
            settings.runs, settings.warmup, settings.loads
        ));
        let bare = Stats::of(&self.delivery.round_trip);
        Stats::of(&self.delivery.delivery).row(METRIC_DELIVERY, &bare);
        bare.row(BASELINE_DELIVERY, &bare);
        let small = Stats::of(&self.loads.small);
        Stats::of(&self.loads.large).row(
            &format!("timeline() → latest page, {} msgs", settings.history),
            &small,
        );
        small.row(&format!("  same, {SMALL_HISTORY} msgs"), &small);
        let seeded = settings.history + SMALL_HISTORY;
        println!(
            "seeding: {seeded} messages over HTTP, {SEED_IN_FLIGHT} in flight: {:.1} s ({:.0} messages/s)",
            self.seeding.as_secs_f64(),
            seeded as f64 / self.seeding.as_secs_f64()
        );
        println!("wall time: {:.1} s", elapsed.as_secs_f64());
    }
}
