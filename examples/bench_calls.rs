//! Bench: how long a 1:1 call takes to ring and to connect, as apps see it.
//!
//! A caller and a callee, each a signed-in client with a device id and a
//! connected signal WebSocket, place one call per run through the exported
//! API (`UTDStreamClient::call_session`, `UTDCallSession`), timed at two
//! points, next to the bare WebSocket round trip measured in the same run:
//!
//! - `start → invitation`: from the moment the caller's `start(callee)` is
//!   called until the callee's invitation listener
//!   (`observe_call_invitations`) receives that call. The listener stamps the
//!   time itself, so the caller's media join that `start` does after the
//!   engine's reply does not count once the invitation is in.
//! - `accept → both active`: from the moment the callee's `accept(callId)`
//!   is called until both sessions' `status` observables are `active`
//!   (watched, not polled). Before that, untimed, the callee says `ringing`
//!   (what an app does when the invitation rings the device) and the caller
//!   sees `ringing`, so the accept is the answer of a ringing call.
//! - Baseline: one bare signal WebSocket round trip (an `echo` the engine
//!   acknowledges) on the callee's client, in alternating order (before the
//!   call, or while it is active) so drift hits both alike.
//!
//! Each run then hangs up on the caller's side, waits until both sessions
//! are terminal (`ended`) and disposes them; that part is not timed. Every
//! call gets a fresh LiveKit room; the caller's `start` joining the call room
//! (real WebRTC) is checked on every run.
//!
//! Everything runs in this process against a real livekit-server (with
//! webhooks to the engine) and the in-process reference engine on a temporary
//! SQLite file, with the rate limits raised out of the way.
//!
//! Prints, per metric: runs, median, p99 (nearest rank) and median ÷ the
//! WebSocket round-trip median, then the wall time. Exits non-zero on any
//! failure.
//!
//! Run it with `scripts/bench.sh calls [--runs N] [--warmup N]` (release
//! build), or `cargo run --example bench_calls -- --runs 5 --warmup 1` for a
//! smoke run.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "bench_support/mod.rs"]
mod bench_support;

use bench_support::{print_header, within, BenchResult, Stats};
use tokio::sync::{mpsc, watch};
use utd_engine::admin_client::AdminClient;
use utd_engine::{EngineConfig, Plan};
use utd_stream::session::exported::{UTDCallInvitationListener, UTDCallSession};
use utd_stream::types::UTDCall;
use utd_stream::{UTDCallStatus, UTDStreamClient, UTDStreamType, UTDSubscription};

const USAGE: &str = "usage: bench_calls [--runs N] [--warmup N] [--type audio|video]
  --runs N             measured calls (default 200)
  --warmup N           unmeasured calls first (default 10)
  --type audio|video   the call type (default audio)";

const CALLER: &str = "caller";
const CALLEE: &str = "callee";

const METRIC_INVITATION: &str = "start → invitation at callee";
const METRIC_ACTIVE: &str = "accept → both sides active";
const BASELINE: &str = "  bare WebSocket round trip";

#[derive(Debug, Clone, Copy)]
struct Options {
    runs: usize,
    warmup: usize,
    stream_type: UTDStreamType,
}

impl Options {
    /// Parses the arguments; `None` when help was asked for.
    fn parse(mut args: impl Iterator<Item = String>) -> BenchResult<Option<Options>> {
        let mut options = Options {
            runs: 200,
            warmup: 10,
            stream_type: UTDStreamType::AudioCall,
        };
        while let Some(arg) = args.next() {
            if matches!(arg.as_str(), "-h" | "--help") {
                return Ok(None);
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))?;
            let bad = || format!("{arg} needs a number, not {value:?}\n{USAGE}");
            match arg.as_str() {
                "--runs" => options.runs = value.parse().map_err(|_| bad())?,
                "--warmup" => options.warmup = value.parse().map_err(|_| bad())?,
                "--type" => {
                    options.stream_type = match value.as_str() {
                        "audio" => UTDStreamType::AudioCall,
                        "video" => UTDStreamType::VideoCall,
                        _ => {
                            return Err(
                                format!("--type is audio or video, not {value:?}\n{USAGE}").into()
                            )
                        }
                    }
                }
                other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
            }
        }
        if options.runs == 0 {
            return Err("--runs must be at least 1".into());
        }
        Ok(Some(options))
    }

    fn type_name(&self) -> &'static str {
        match self.stream_type {
            UTDStreamType::VideoCall => "video",
            _ => "audio",
        }
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

/// Starts the engine, signs both parties in, runs the calls, stops the
/// engine, prints.
async fn bench(options: Options, config: EngineConfig, started: Instant) -> BenchResult<()> {
    let engine = utd_engine::start(config.clone()).await?;
    let url = engine.base_url();
    let app = AdminClient::new(&url, &config.admin_token)
        .create_app("bench", Plan::Signaling)
        .await?;
    let device = |identity| Device::sign_in(&app.app_id, &app.app_key, &url, identity);
    let result = async {
        // The caller's own listener hears nothing (invitations go to the
        // callee): its receiver is dropped.
        let (caller, _) = device(CALLER).await?;
        let (callee, mut invitations) = match device(CALLEE).await {
            Ok(callee) => callee,
            Err(e) => {
                caller.close().await;
                return Err(e);
            }
        };
        let result = drive(&caller, &mut invitations, &callee, options).await;
        caller.close().await;
        callee.close().await;
        result
    }
    .await;
    engine.shutdown().await;
    result?.print(options, started.elapsed());
    Ok(())
}

/// One signed-in device with a connected signal WebSocket, whose invitation
/// listener stamps each invitation as it arrives.
struct Device {
    client: Arc<UTDStreamClient>,
    listening: Arc<UTDSubscription>,
}

/// An invitation and when the listener got it.
type Stamped = (UTDCall, Instant);

struct StampingListener(mpsc::UnboundedSender<Stamped>);

impl UTDCallInvitationListener for StampingListener {
    fn on_invitation(&self, call: UTDCall) {
        let _ = self.0.send((call, Instant::now()));
    }
}

impl Device {
    async fn sign_in(
        app_id: &str,
        app_key: &str,
        url: &str,
        identity: &str,
    ) -> BenchResult<(Device, mpsc::UnboundedReceiver<Stamped>)> {
        let client =
            UTDStreamClient::new(app_id.to_owned(), app_key.to_owned(), url.to_owned(), None)?;
        let signed_in = client.clone().authenticate(
            identity.into(),
            Some(identity.to_uppercase()),
            Some(format!("{identity}-phone")),
        );
        within(&format!("{identity} authenticates"), signed_in).await?;
        within(&format!("{identity} connects"), client.clone().connect()).await?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let listening = client.observe_call_invitations(Arc::new(StampingListener(sender)));
        Ok((Device { client, listening }, receiver))
    }

    fn session(&self, stream_type: UTDStreamType) -> BenchResult<Arc<UTDCallSession>> {
        Ok(self.client.call_session(stream_type)?)
    }

    async fn close(&self) {
        self.listening.cancel();
        self.client.clone().disconnect().await;
    }
}

/// The timings of all measured runs.
struct Samples {
    invitation: Vec<Duration>,
    active: Vec<Duration>,
    round_trip: Vec<Duration>,
}

/// Runs warm-up plus measured calls.
async fn drive(
    caller: &Device,
    invitations: &mut mpsc::UnboundedReceiver<Stamped>,
    callee: &Device,
    options: Options,
) -> BenchResult<Samples> {
    let total = options.warmup + options.runs;
    let mut samples = Samples {
        invitation: Vec::with_capacity(options.runs),
        active: Vec::with_capacity(options.runs),
        round_trip: Vec::with_capacity(options.runs),
    };
    for index in 0..total {
        let times = one_call(caller, invitations, callee, options.stream_type, index)
            .await
            .map_err(|e| format!("call {}/{total}: {e}", index + 1))?;
        if index >= options.warmup {
            samples.invitation.push(times.invitation);
            samples.active.push(times.active);
            samples.round_trip.push(times.round_trip);
        }
        if (index + 1) % 50 == 0 {
            eprintln!("[bench] calls: {}/{total} runs", index + 1);
        }
    }
    Ok(samples)
}

/// The timings of one run.
struct Times {
    invitation: Duration,
    active: Duration,
    round_trip: Duration,
}

/// One call on fresh sessions: timed up to both sides active, then hung up
/// and disposed whatever happened.
async fn one_call(
    caller: &Device,
    invitations: &mut mpsc::UnboundedReceiver<Stamped>,
    callee: &Device,
    stream_type: UTDStreamType,
    index: usize,
) -> BenchResult<Times> {
    // Invitations of earlier calls (none expected) must not be taken for this one.
    while invitations.try_recv().is_ok() {}
    let calling = caller.session(stream_type)?;
    let answering = callee.session(stream_type)?;
    let timed = timed_call(invitations, callee, &calling, &answering, index).await;
    // Not timed: hang up, wait until both sides are over, let go.
    let ended = async {
        within("the caller hangs up", calling.clone().end()).await?;
        until_status(&calling, "the caller", |s| s.is_terminal()).await?;
        until_status(&answering, "the callee", |s| s.is_terminal()).await?;
        for (who, session) in [("caller", &calling), ("callee", &answering)] {
            let status = session.status();
            if status != Some(UTDCallStatus::Ended) {
                return Err(format!("the {who} ended in {status:?}, not Ended").into());
            }
        }
        BenchResult::Ok(())
    }
    .await;
    calling.dispose().await;
    answering.dispose().await;
    let times = timed?;
    ended?;
    Ok(times)
}

/// The timed part of a call: start → invitation, ringing (untimed),
/// accept → both active, and the baseline round trip.
async fn timed_call(
    invitations: &mut mpsc::UnboundedReceiver<Stamped>,
    callee: &Device,
    calling: &Arc<UTDCallSession>,
    answering: &Arc<UTDCallSession>,
    index: usize,
) -> BenchResult<Times> {
    let baseline_first = index % 2 == 0;
    let mut round_trip = None;
    if baseline_first {
        round_trip = Some(bare_round_trip(callee).await?);
    }

    // start → the callee's listener has the invitation.
    let t0 = Instant::now();
    let call = within(
        "start",
        calling
            .clone()
            .start(CALLEE.into(), Some(CALLEE.to_uppercase()), None),
    )
    .await?;
    let invited_at = within("the invitation arrives", async {
        loop {
            let (invitation, at) = invitations
                .recv()
                .await
                .ok_or("the invitation listener stopped")?;
            if invitation.call_id == call.call_id {
                return BenchResult::Ok(at);
            }
        }
    })
    .await?;
    let invitation = invited_at.saturating_duration_since(t0);
    if !calling.room().is_connected() {
        return Err("the caller is not in the call room after start".into());
    }

    // Not timed: the callee's device rings, the caller sees it.
    within("ringing", answering.clone().ringing(call.call_id.clone())).await?;
    until_status(calling, "the caller", |s| s == UTDCallStatus::Ringing).await?;

    // accept → both status observables active.
    let mut caller_status = calling.inner().status.watch();
    let mut callee_status = answering.inner().status.watch();
    let t0 = Instant::now();
    let (_, caller_active, callee_active) = tokio::try_join!(
        within("accept", answering.clone().accept(call.call_id.clone())),
        within("the caller sees active", active_at(&mut caller_status)),
        within("the callee sees active", active_at(&mut callee_status)),
    )?;
    let active = caller_active
        .max(callee_active)
        .saturating_duration_since(t0);
    if !answering.room().is_connected() {
        return Err("the callee is not in the call room after accept".into());
    }

    if !baseline_first {
        round_trip = Some(bare_round_trip(callee).await?);
    }
    Ok(Times {
        invitation,
        active,
        round_trip: round_trip.ok_or("no round trip measured")?,
    })
}

/// When `status` is first seen `Active`; fails if the call ends first.
async fn active_at(status: &mut watch::Receiver<Option<UTDCallStatus>>) -> BenchResult<Instant> {
    let seen = status
        .wait_for(|s| s.is_some_and(|s| s == UTDCallStatus::Active || s.is_terminal()))
        .await?
        .to_owned();
    let at = Instant::now();
    match seen {
        Some(UTDCallStatus::Active) => Ok(at),
        other => Err(format!("the call ended ({other:?}) instead of becoming active").into()),
    }
}

/// Waits (untimed) until `session`'s status satisfies `wanted`.
async fn until_status(
    session: &UTDCallSession,
    who: &str,
    wanted: impl Fn(UTDCallStatus) -> bool,
) -> BenchResult<()> {
    let mut status = session.inner().status.watch();
    let what = format!("{who}'s status");
    within(&what, status.wait_for(|s| s.is_some_and(&wanted))).await?;
    Ok(())
}

/// One bare signal WebSocket round trip on `device`'s client.
async fn bare_round_trip(device: &Device) -> BenchResult<Duration> {
    within(
        "WebSocket round trip",
        device.client.signalling().round_trip(),
    )
    .await
}

impl Samples {
    fn print(&self, options: Options, elapsed: Duration) {
        print_header(&format!(
            "UTD Stream call bench: {} {} calls after {} warm-up",
            options.runs,
            options.type_name(),
            options.warmup
        ));
        let bare = Stats::of(&self.round_trip);
        for (metric, samples) in [
            (METRIC_INVITATION, &self.invitation),
            (METRIC_ACTIVE, &self.active),
        ] {
            Stats::of(samples).row(metric, &bare);
        }
        bare.row(BASELINE, &bare);
        println!("wall time: {:.1} s", elapsed.as_secs_f64());
    }
}
