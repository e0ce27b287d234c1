//! Bench: how long the SDK takes to show a publish grant the server gave.
//!
//! Publishing in an audio room or a live stream is decided by the engine and
//! applied by LiveKit: the engine records the seat or stage change, calls
//! LiveKit's `RoomService.UpdateParticipant`, and LiveKit pushes the new
//! permission to the participant, whose session flips its `canPublish`
//! observable. This bench measures that whole path as an app sees it, next to
//! the bare round trip of the same engine request, measured in the same run:
//!
//! - `takeSeat → canPublish`: from the moment a listener's `takeSeat` is
//!   called (the exported session method) until its `canPublish` observable
//!   is seen true. Baseline: `POST /rooms/{room}/seats/{i}/take` for a second
//!   listener in the same room, from call to reply (the engine replies once
//!   LiveKit took the permission, so the baseline includes that call too).
//! - `inviteToStage → viewer canPublish`: from the moment the host's
//!   `inviteToStage(viewer)` is called until the viewer's `canPublish`
//!   observable is seen true. Baseline: `POST /rooms/{room}/stage/invite` for
//!   a second viewer, from call to reply.
//!
//! The difference between a metric and its baseline is what LiveKit's push
//! and the SDK add on top of the engine request. Each run measures both (in
//! alternating order, so drift hits both alike), then takes the seat or stage
//! away again and waits until `canPublish` is false; that part is not timed.
//!
//! Everything runs in this process against a real livekit-server (with
//! webhooks to the engine) and the in-process reference engine on a temporary
//! SQLite file. Every 40 s (`--rotate-after`), between runs, the bench moves
//! to a fresh room with fresh sessions (a fresh room, so the webhooks about
//! the old sessions leaving cannot touch the seats or the
//! stage being measured), and reports how often it did.
//!
//! Prints, per metric: runs, median, p99 (nearest rank) and median ÷ baseline
//! median. Exits non-zero on any failure.
//!
//! Run it with `scripts/bench.sh [--runs N] [--warmup N]` (release build), or
//! `cargo run --example bench_rooms -- --runs 5 --warmup 1` for a smoke run.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "bench_support/mod.rs"]
mod bench_support;

use bench_support::{print_header, within, BenchError, BenchResult, Stats};
use tokio::sync::watch;
use utd_engine::admin_client::{AdminClient, AppCredentials};
use utd_engine::{EngineConfig, Plan};
use utd_stream::session::exported::{UTDAudioRoomSession, UTDLiveStreamSession};
use utd_stream::session::RoomCore;
use utd_stream::types::UTDSeatMode;
use utd_stream::UTDStreamClient;

const USAGE: &str = "usage: bench_rooms [--runs N] [--warmup N] [--rotate-after S]
  --runs N           measured runs per metric (default 200)
  --warmup N         unmeasured runs first (default 10)
  --rotate-after S   move to a fresh room and sessions when they are S seconds
                     old (default 40)";

/// Sessions older than this are replaced between runs by default (see the
/// module docs).
const ROTATE_AFTER_SECS: u64 = 40;

/// Who is who, in both scenarios.
const HOST: &str = "host";
/// The participant whose `canPublish` is timed.
const SUBJECT: &str = "subject";
/// The participant whose engine request is the baseline.
const CONTROL: &str = "control";
const SEAT_COUNT: u32 = 4;
const SUBJECT_SEAT: u32 = 0;
const CONTROL_SEAT: u32 = 1;

#[derive(Debug, Clone, Copy)]
struct Options {
    runs: usize,
    warmup: usize,
    rotate_after_secs: u64,
}

impl Options {
    /// Parses the arguments; `None` when help was asked for.
    fn parse(mut args: impl Iterator<Item = String>) -> BenchResult<Option<Options>> {
        let mut options = Options {
            runs: 200,
            warmup: 10,
            rotate_after_secs: ROTATE_AFTER_SECS,
        };
        while let Some(arg) = args.next() {
            if matches!(arg.as_str(), "-h" | "--help") {
                return Ok(None);
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{arg} needs a number\n{USAGE}"))?;
            let bad = || format!("{arg} needs a number, not {value:?}\n{USAGE}");
            match arg.as_str() {
                "--runs" => options.runs = value.parse().map_err(|_| bad())?,
                "--warmup" => options.warmup = value.parse().map_err(|_| bad())?,
                "--rotate-after" => options.rotate_after_secs = value.parse().map_err(|_| bad())?,
                other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
            }
        }
        if options.runs == 0 {
            return Err("--runs must be at least 1".into());
        }
        Ok(Some(options))
    }
}

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("[bench] FAILED: {e}");
            return ExitCode::FAILURE;
        }
    };
    bench_support::main_with(|config, started| bench(options, config, started))
}

/// Starts the engine, runs both scenarios, stops the engine, prints.
async fn bench(options: Options, config: EngineConfig, started: Instant) -> BenchResult<()> {
    let engine = utd_engine::start(config.clone()).await?;
    let url = engine.base_url();
    let app = AdminClient::new(&url, &config.admin_token)
        .create_app("bench", Plan::Signaling)
        .await?;
    let clients = Clients::new(&app, &url)?;
    let result = async {
        let seats = drive::<SeatRoom>(&clients, options).await?;
        let stage = drive::<StageRoom>(&clients, options).await?;
        BenchResult::Ok(Report { seats, stage })
    }
    .await;
    clients.disconnect().await;
    engine.shutdown().await;
    result?.print(options, started.elapsed());
    Ok(())
}

/// One SDK client per participant role, shared by both scenarios.
struct Clients {
    host: Arc<UTDStreamClient>,
    subject: Arc<UTDStreamClient>,
    control: Arc<UTDStreamClient>,
}

impl Clients {
    fn new(app: &AppCredentials, url: &str) -> BenchResult<Clients> {
        let client = || {
            UTDStreamClient::new(
                app.app_id.clone(),
                app.app_key.clone(),
                url.to_owned(),
                None,
            )
        };
        Ok(Clients {
            host: client()?,
            subject: client()?,
            control: client()?,
        })
    }

    async fn disconnect(&self) {
        for client in [&self.host, &self.subject, &self.control] {
            client.clone().disconnect().await;
        }
    }
}

/// A room with a host, a timed subject and a baseline control participant.
trait Scenario: Sized {
    /// Label of the metric (and of its baseline) in the table.
    const METRIC: &'static str;
    const BASELINE: &'static str;
    /// Joins room number `epoch` fresh, with all three participants.
    async fn open(clients: &Clients, epoch: usize) -> BenchResult<Self>;
    /// When the first participant started joining.
    fn opened_at(&self) -> Instant;
    /// The three media rooms (host, subject, control).
    fn cores(&self) -> [&Arc<RoomCore>; 3];
    /// One timed SDK round: call → `canPublish` observed true; then undone.
    async fn measured(&self) -> BenchResult<Duration>;
    /// One timed bare engine round trip; then undone.
    async fn baseline(&self) -> BenchResult<Duration>;
    /// Leaves the room.
    async fn close(self);
}

/// Runs warm-up plus measured runs of `S`, rotating rooms every 40 s.
async fn drive<S: Scenario>(clients: &Clients, options: Options) -> BenchResult<Samples> {
    let total = options.warmup + options.runs;
    let mut samples = Samples {
        measured: Vec::with_capacity(options.runs),
        baseline: Vec::with_capacity(options.runs),
        rotations: 0,
    };
    let rotate_after = Duration::from_secs(options.rotate_after_secs);
    let mut epoch = 0;
    let mut room = S::open(clients, epoch).await?;
    for index in 0..total {
        if room.opened_at().elapsed() > rotate_after {
            room.close().await;
            epoch += 1;
            samples.rotations += 1;
            room = S::open(clients, epoch).await?;
        }
        let (measured, baseline) = match round(&room, index).await {
            Ok(times) => times,
            Err(e) => {
                room.close().await;
                return Err(format!("{}, run {}/{total}: {e}", S::METRIC, index + 1).into());
            }
        };
        if index >= options.warmup {
            samples.measured.push(measured);
            samples.baseline.push(baseline);
        }
        if (index + 1) % 50 == 0 {
            eprintln!("[bench] {}: {}/{total} runs", S::METRIC, index + 1);
        }
    }
    room.close().await;
    Ok(samples)
}

/// One run: both timings, in an order that alternates with `index`.
async fn round<S: Scenario>(room: &S, index: usize) -> BenchResult<(Duration, Duration)> {
    if room.cores().iter().any(|core| !core.connected.get()) {
        return Err("a session is no longer connected to LiveKit".into());
    }
    if index % 2 == 0 {
        let measured = room.measured().await?;
        Ok((measured, room.baseline().await?))
    } else {
        let baseline = room.baseline().await?;
        Ok((room.measured().await?, baseline))
    }
}

/// Audio room: host (no seat), subject takes seat 0, control takes seat 1.
struct SeatRoom {
    name: String,
    opened_at: Instant,
    host: Arc<UTDAudioRoomSession>,
    subject: Arc<UTDAudioRoomSession>,
    control: Arc<UTDAudioRoomSession>,
}

impl SeatRoom {
    async fn join(
        client: &Arc<UTDStreamClient>,
        identity: &str,
        room: &str,
        seats: Option<u32>,
    ) -> BenchResult<Arc<UTDAudioRoomSession>> {
        let joined = client.clone().join_audio_room(
            identity.into(),
            room.into(),
            seats.is_some(),
            None,
            None,
            seats,
            seats.map(|_| UTDSeatMode::Free),
        );
        within(&format!("{identity} joins audio room {room}"), joined).await
    }
}

impl Scenario for SeatRoom {
    const METRIC: &'static str = "takeSeat → canPublish true";
    const BASELINE: &'static str = "  bare POST seats/{i}/take";

    async fn open(clients: &Clients, epoch: usize) -> BenchResult<Self> {
        let name = format!("seats-{epoch}");
        let opened_at = Instant::now();
        let host = Self::join(&clients.host, HOST, &name, Some(SEAT_COUNT)).await?;
        let subject = Self::join(&clients.subject, SUBJECT, &name, None).await?;
        let control = Self::join(&clients.control, CONTROL, &name, None).await?;
        Ok(SeatRoom {
            name,
            opened_at,
            host,
            subject,
            control,
        })
    }

    fn opened_at(&self) -> Instant {
        self.opened_at
    }

    fn cores(&self) -> [&Arc<RoomCore>; 3] {
        [&self.host, &self.subject, &self.control].map(|s| &s.inner().base.core)
    }

    async fn measured(&self) -> BenchResult<Duration> {
        let core = &self.subject.inner().base.core;
        let took = timed_until_can_publish(
            core,
            "takeSeat",
            self.subject.clone().take_seat(SUBJECT_SEAT),
        )
        .await?;
        within("leaveSeat", self.subject.clone().leave_seat()).await?;
        until_can_publish(core, false, "the subject's canPublish false").await?;
        Ok(took)
    }

    async fn baseline(&self) -> BenchResult<Duration> {
        let session = &self.control.inner().base;
        let (api, bearer) = (session.api(), session.bearer());
        let t0 = Instant::now();
        within(
            "POST seats/take",
            api.take_seat(&bearer, &self.name, CONTROL_SEAT),
        )
        .await?;
        let took = t0.elapsed();
        // Not timed: let the grant land before taking it back.
        until_can_publish(&session.core, true, "the control's canPublish true").await?;
        within("POST seats/leave", api.leave_seat(&bearer, &self.name)).await?;
        until_can_publish(&session.core, false, "the control's canPublish false").await?;
        Ok(took)
    }

    async fn close(self) {
        for session in [self.subject, self.control, self.host] {
            session.dispose().await;
        }
    }
}

/// Live stream: the host invites the subject, then the control, to the stage.
struct StageRoom {
    name: String,
    opened_at: Instant,
    host: Arc<UTDLiveStreamSession>,
    subject: Arc<UTDLiveStreamSession>,
    control: Arc<UTDLiveStreamSession>,
}

impl StageRoom {
    async fn join(
        client: &Arc<UTDStreamClient>,
        identity: &str,
        room: &str,
        as_host: bool,
    ) -> BenchResult<Arc<UTDLiveStreamSession>> {
        let joined =
            client
                .clone()
                .join_live_stream(identity.into(), room.into(), as_host, None, None);
        within(&format!("{identity} joins live stream {room}"), joined).await
    }
}

impl Scenario for StageRoom {
    const METRIC: &'static str = "inviteToStage → viewer canPublish true";
    const BASELINE: &'static str = "  bare POST stage/invite";

    async fn open(clients: &Clients, epoch: usize) -> BenchResult<Self> {
        let name = format!("stage-{epoch}");
        let opened_at = Instant::now();
        let host = Self::join(&clients.host, HOST, &name, true).await?;
        let subject = Self::join(&clients.subject, SUBJECT, &name, false).await?;
        let control = Self::join(&clients.control, CONTROL, &name, false).await?;
        Ok(StageRoom {
            name,
            opened_at,
            host,
            subject,
            control,
        })
    }

    fn opened_at(&self) -> Instant {
        self.opened_at
    }

    fn cores(&self) -> [&Arc<RoomCore>; 3] {
        [&self.host, &self.subject, &self.control].map(|s| &s.inner().base.core)
    }

    async fn measured(&self) -> BenchResult<Duration> {
        let core = &self.subject.inner().base.core;
        let took = timed_until_can_publish(
            core,
            "inviteToStage",
            self.host.clone().invite_to_stage(SUBJECT.into()),
        )
        .await?;
        within(
            "removeFromStage",
            self.host.clone().remove_from_stage(SUBJECT.into()),
        )
        .await?;
        until_can_publish(core, false, "the viewer's canPublish false").await?;
        Ok(took)
    }

    async fn baseline(&self) -> BenchResult<Duration> {
        let host = &self.host.inner().base;
        let (api, bearer) = (host.api(), host.bearer());
        let t0 = Instant::now();
        within(
            "POST stage/invite",
            api.invite_to_stage(&bearer, &self.name, CONTROL),
        )
        .await?;
        let took = t0.elapsed();
        // Not timed: let the grant land before taking it back.
        let core = &self.control.inner().base.core;
        until_can_publish(core, true, "the control's canPublish true").await?;
        within(
            "POST stage/remove",
            api.remove_from_stage(&bearer, &self.name, CONTROL),
        )
        .await?;
        until_can_publish(core, false, "the control's canPublish false").await?;
        Ok(took)
    }

    async fn close(self) {
        for session in [self.subject, self.control, self.host] {
            session.dispose().await;
        }
    }
}

/// Calls `call` and times it from the call until `core`'s `canPublish` is
/// observed true (a watch receiver polled alongside the call, so the grant
/// is seen when it lands, not when `call` returns). Also waits for `call`.
async fn timed_until_can_publish<T, E: Into<BenchError>>(
    core: &RoomCore,
    what: &str,
    call: impl Future<Output = Result<T, E>>,
) -> BenchResult<Duration> {
    let mut grant = core.can_publish.watch();
    if *grant.borrow_and_update() {
        return Err(format!("canPublish was already true before {what}").into());
    }
    let observed = async {
        grant
            .wait_for(|can| *can)
            .await
            .map(|_| Instant::now())
            .map_err(|e: watch::error::RecvError| BenchError::from(e))
    };
    let seen_what = format!("canPublish true after {what}");
    let t0 = Instant::now();
    let (_, seen) = tokio::try_join!(within(what, call), within(&seen_what, observed))?;
    Ok(seen.saturating_duration_since(t0))
}

/// Waits (untimed) until `core`'s `canPublish` is `wanted`.
async fn until_can_publish(core: &RoomCore, wanted: bool, what: &str) -> BenchResult<()> {
    let mut flag = core.can_publish.watch();
    within(what, flag.wait_for(|can| *can == wanted)).await?;
    Ok(())
}

/// The timings of one scenario.
struct Samples {
    measured: Vec<Duration>,
    baseline: Vec<Duration>,
    rotations: usize,
}

struct Report {
    seats: Samples,
    stage: Samples,
}

impl Report {
    fn print(&self, options: Options, elapsed: Duration) {
        print_header(&format!(
            "UTD Stream room bench: {} runs per metric after {} warm-up",
            options.runs, options.warmup
        ));
        for (metric, baseline, samples) in [
            (SeatRoom::METRIC, SeatRoom::BASELINE, &self.seats),
            (StageRoom::METRIC, StageRoom::BASELINE, &self.stage),
        ] {
            let bare = Stats::of(&samples.baseline);
            Stats::of(&samples.measured).row(metric, &bare);
            bare.row(baseline, &bare);
        }
        println!(
            "session rotations (fresh room + sessions every {} s): seats {}, stage {}",
            options.rotate_after_secs, self.seats.rotations, self.stage.rotations
        );
        println!("wall time: {:.1} s", elapsed.as_secs_f64());
    }
}
