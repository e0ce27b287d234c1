//! Bench: a call that wakes a killed phone, from the engine's push to the
//! first audio the callee hears, next to the same call answered by a phone
//! whose app is already connected.
//!
//! Each cold-start run: the callee's phone registered a VoIP token and its
//! app was killed (no client running). The caller's controller (connected,
//! publishing a tone) starts a call; the engine pushes to the APNs stand-in.
//! The moment the stand-in has the push (the caller's `startCall` still
//! joining the call room beside it), a new callee controller is built
//! from the payload alone (what a PushKit wake-up does): `handleCallPush`,
//! `reconcile`, then `acceptIncoming` with `init()` running beside it, until
//! the first decoded frame of the caller's audio. Timed from the
//! controller's own `UTDCallTimings` (ms since the epoch, one machine so one
//! clock):
//!
//! - push sent (engine) → push received at the stand-in;
//! - stand-in → reconcile done (new controller, session mint, call read);
//! - reconcile done → first remote audio (accept, signalling, media join);
//! - push sent → first remote audio (the whole cold start).
//!
//! Warm runs, alternating with the cold ones: the callee's controller is
//! connected; the time from the WebSocket invitation to the first remote
//! audio, answering at once. The cold total is shown as a ratio of it.
//!
//! Run it with `scripts/bench.sh push [--runs N] [--warmup N]` (release), or
//! `cargo run --example bench_push -- --runs 3 --warmup 0` for a smoke run.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "bench_support/mod.rs"]
mod bench_support;

use bench_support::{print_header, within, BenchResult, Options, Stats};
use utd_engine::admin_client::{AdminClient, AppCredentials};
use utd_engine::config::ApnsConfig;
use utd_engine::{EngineConfig, Plan};
use utd_stream::calls::{
    UTDAcceptOutcome, UTDCallController, UTDCallControllerEvent, UTDCallTimings, UTDCallsConfig,
};
use utd_stream::push::{UTDPushPlatform, UTDPushToken};
use utd_stream::types::{UTDAudioFrame, UTDStreamType};
use utd_testkit::push::{ApnsKey, ApnsStandIn};
use utd_testkit::signals::Tone;

const USAGE: &str = "usage: bench_push [--runs N] [--warmup N]
  --runs N     measured cold and warm calls each (default 50)
  --warmup N   unmeasured runs first (default 3)";

const BUNDLE_ID: &str = "dev.utdstream.bench";

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1), 50, 3, USAGE) {
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

/// Milliseconds between two epoch stamps, as a duration.
fn span(from: Option<u64>, to: Option<u64>, what: &str) -> BenchResult<Duration> {
    match (from, to) {
        (Some(a), Some(b)) if b >= a => Ok(Duration::from_millis(b - a)),
        _ => Err(format!("{what}: missing or out-of-order timestamps {from:?} → {to:?}").into()),
    }
}

struct Bench {
    engine_url: String,
    app: AppCredentials,
    apns: ApnsStandIn,
}

#[derive(Default)]
struct Samples {
    sent_to_standin: Vec<Duration>,
    standin_to_reconciled: Vec<Duration>,
    reconciled_to_audio: Vec<Duration>,
    cold_total: Vec<Duration>,
    warm: Vec<Duration>,
}

const CALLEE: &str = "callee";
const PHONE: &str = "callee-phone";

fn voip_token() -> UTDPushToken {
    UTDPushToken {
        platform: UTDPushPlatform::ApnsVoip,
        token: "ab".repeat(32),
    }
}

impl Bench {
    fn config(&self, user: &str, device: &str, tokens: Vec<UTDPushToken>) -> UTDCallsConfig {
        UTDCallsConfig {
            app_id: self.app.app_id.clone(),
            app_key: self.app.app_key.clone(),
            base_url: self.engine_url.clone(),
            token_base_url: None,
            user_id: user.to_owned(),
            user_name: None,
            device_id: Some(device.to_owned()),
            push_tokens: tokens,
            state_directory: None,
        }
    }

    async fn controller(
        &self,
        user: &str,
        tokens: Vec<UTDPushToken>,
    ) -> BenchResult<Arc<UTDCallController>> {
        let device = if user == CALLEE {
            PHONE
        } else {
            "caller-phone"
        };
        Ok(UTDCallController::new(self.config(user, device, tokens))?)
    }

    /// One killed-phone call; returns the callee's timings and the time
    /// the stand-in received the push.
    async fn cold(&self, caller: &Arc<UTDCallController>) -> BenchResult<(UTDCallTimings, u64)> {
        let before = self.apns.pushes().len();
        let ringing = ring(caller);
        let pushes = self
            .apns
            .wait_for_pushes(before + 1, bench_support::STEP_TIMEOUT)
            .await?;
        let push = pushes.get(before).ok_or("no VoIP push for the call")?;
        let call_id = push.payload["call_id"]
            .as_str()
            .ok_or("the push has no call id")?
            .to_owned();
        // The phone wakes with nothing but the payload.
        let phone = self.controller(CALLEE, vec![voip_token()]).await?;
        phone.handle_call_push(push.payload.to_string())?;
        phone.mark_reported(call_id.clone());
        within("reconcile", phone.clone().reconcile(call_id.clone())).await?;
        let accept = tokio::spawn(phone.clone().accept_incoming(call_id.clone()));
        within("init", phone.clone().init()).await?;
        match within("accept", async { accept.await.map_err(|e| e.to_string()) }).await? {
            Ok(UTDAcceptOutcome::Joined { .. }) => {}
            other => return Err(format!("the cold accept did not join: {other:?}").into()),
        }
        let (started_id, singer) = joined(ringing).await?;
        if started_id != call_id {
            return Err(format!("pushed {call_id}, started {started_id}").into());
        }
        let timings = first_audio(&phone, &call_id).await?;
        singer.abort();
        within("hang up", caller.clone().end()).await?;
        phone.dispose().await;
        Ok((timings, push.received_at_ms))
    }

    /// One call to a connected phone, answered at the invitation; returns
    /// invitation → first remote audio.
    async fn warm(
        &self,
        caller: &Arc<UTDCallController>,
        phone: &Arc<UTDCallController>,
    ) -> BenchResult<Duration> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _events = phone.observe_events(Arc::new(Forward(tx)));
        let ringing = ring(caller);
        let invited = within("the invitation", async {
            loop {
                match rx.recv().await {
                    // The phone has no other call ringing.
                    Some(UTDCallControllerEvent::IncomingCall { call }) => {
                        return Ok::<_, String>(call.call_id)
                    }
                    Some(_) => {}
                    None => return Err("the event stream ended".to_owned()),
                }
            }
        });
        let call_id = invited.await?;
        match within("accept", phone.clone().accept_incoming(call_id.clone())).await? {
            UTDAcceptOutcome::Joined { .. } => {}
            other => return Err(format!("the warm accept did not join: {other:?}").into()),
        }
        let (started_id, singer) = joined(ringing).await?;
        if started_id != call_id {
            return Err(format!("invited to {call_id}, started {started_id}").into());
        }
        let timings = first_audio(phone, &call_id).await?;
        singer.abort();
        within("hang up", caller.clone().end()).await?;
        span(
            timings.invitation_received_at_ms,
            timings.first_remote_audio_at_ms,
            "warm invitation → audio",
        )
    }
}

/// The caller rings the callee, in the background: the callee's side runs
/// as soon as the push or invitation is out, while the caller's `startCall`
/// still joins the call room. Resolves to the call id and a task singing
/// into the room until aborted.
fn ring(
    caller: &Arc<UTDCallController>,
) -> tokio::task::JoinHandle<BenchResult<(String, tokio::task::JoinHandle<()>)>> {
    let caller = caller.clone();
    tokio::spawn(async move {
        let session = within(
            "startCall",
            caller.start_call(CALLEE.into(), None, UTDStreamType::AudioCall),
        )
        .await?;
        let call_id = session.call_id().ok_or("the started call has no id")?;
        let sink = session.room().audio_sink();
        let singer = tokio::spawn(async move {
            let mut tone = Tone::new(440.0, 0.5);
            loop {
                let frame = UTDAudioFrame {
                    samples: tone.next_frame(),
                    sample_rate: 48_000,
                    num_channels: 1,
                };
                if sink.push_frame(frame).await.is_err() {
                    return;
                }
            }
        });
        Ok((call_id, singer))
    })
}

/// The result of a spawned step.
async fn joined<T>(task: tokio::task::JoinHandle<BenchResult<T>>) -> BenchResult<T> {
    task.await.map_err(|e| format!("task failed: {e}"))?
}

struct Forward(tokio::sync::mpsc::UnboundedSender<UTDCallControllerEvent>);

impl utd_stream::calls::UTDCallControllerListener for Forward {
    fn on_event(&self, event: UTDCallControllerEvent) {
        let _ = self.0.send(event);
    }
}

/// Waits for `call_id`'s first remote audio frame on `phone`.
async fn first_audio(phone: &Arc<UTDCallController>, call_id: &str) -> BenchResult<UTDCallTimings> {
    let deadline = Instant::now() + bench_support::STEP_TIMEOUT;
    loop {
        if let Some(t) = phone.call_timings(call_id.to_owned()) {
            if t.first_remote_audio_at_ms.is_some() {
                return Ok(t);
            }
        }
        if Instant::now() > deadline {
            return Err("no remote audio at the callee".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn bench(options: Options, mut config: EngineConfig, started: Instant) -> BenchResult<()> {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, BUNDLE_ID).await?;
    config.push.apns = Some(
        ApnsConfig::new(
            key.p8_pem.clone(),
            key.key_id.clone(),
            key.team_id.clone(),
            BUNDLE_ID,
        )
        .with_endpoint(apns.url()),
    );
    let engine = utd_engine::start(config.clone()).await?;
    let admin = AdminClient::new(engine.base_url(), &config.admin_token);
    let app = admin.create_app("push bench", Plan::Signaling).await?;
    let bench = Bench {
        engine_url: engine.base_url(),
        app,
        apns,
    };
    // The phone registers its VoIP token once; its app is then killed.
    let registering = bench.controller(CALLEE, vec![voip_token()]).await?;
    within("callee init", registering.clone().init()).await?;
    registering.dispose().await;
    let caller = bench.controller("caller", vec![]).await?;
    within("caller init", caller.clone().init()).await?;

    let mut samples = Samples::default();
    for run in 0..options.warmup + options.runs {
        let measured = run >= options.warmup;
        let (timings, at_standin) = bench.cold(&caller).await?;
        let reconciled = timings.reconciled_at_ms;
        let audio = timings.first_remote_audio_at_ms;
        // A connected phone (its own controller) for the warm call.
        let phone = bench.controller(CALLEE, vec![]).await?;
        within("warm init", phone.clone().init()).await?;
        let warm = bench.warm(&caller, &phone).await?;
        phone.dispose().await;
        if measured {
            samples.sent_to_standin.push(span(
                timings.push_sent_at_ms,
                Some(at_standin),
                "sent → stand-in",
            )?);
            samples.standin_to_reconciled.push(span(
                Some(at_standin),
                reconciled,
                "stand-in → reconciled",
            )?);
            samples
                .reconciled_to_audio
                .push(span(reconciled, audio, "reconciled → audio")?);
            samples
                .cold_total
                .push(span(timings.push_sent_at_ms, audio, "cold total")?);
            samples.warm.push(warm);
        }
    }
    caller.dispose().await;
    engine.shutdown().await;

    print_header(&format!(
        "push bench: {} cold and {} warm calls after {} warm-up",
        options.runs, options.runs, options.warmup
    ));
    let warm = Stats::of(&samples.warm);
    for (label, values) in [
        (
            "push sent → received at APNs stand-in",
            &samples.sent_to_standin,
        ),
        (
            "stand-in → reconcile done (new client)",
            &samples.standin_to_reconciled,
        ),
        (
            "reconcile done → first remote audio",
            &samples.reconciled_to_audio,
        ),
        ("cold: push sent → first remote audio", &samples.cold_total),
    ] {
        Stats::of(values).row(label, &warm);
    }
    warm.row("warm: invitation → first remote audio", &warm);
    println!("(÷ baseline: median ÷ the warm call's median; timestamps at 1 ms resolution)");
    println!("whole bench: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
