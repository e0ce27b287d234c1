//! Media latency through the SDK's sessions, next to the same step driven
//! directly through LiveKit's FFI library (the transport alone) in the same
//! run: the floor set by ICE, DTLS and the SFU.
//!
//! Per run, in a fresh room each, once through the exported sessions and
//! once through the transport (alternating which goes first, so drift hits
//! both alike):
//! - join → first remote audio frame: a listener joins a room where the host
//!   already publishes a tone; until the first decoded frame with sound.
//! - takeSeat → first audio frame at a listener: a seated-to-be participant
//!   pushes a tone; from `takeSeat` (SDK) or RoomService's grant + publish
//!   (transport) until the host decodes the first frame with sound.
//! - one-way reliable data, 1 KB: from send until the receiver's event.
//!
//! Everything runs in this process against a real livekit-server (with
//! webhooks to the engine) and the in-process reference engine.
//!
//! Prints, per metric: runs, median, p99 (nearest rank) and median ÷ the
//! transport's median.

#[path = "bench_support/mod.rs"]
mod bench_support;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_support::{print_header, within, BenchResult, Options, Stats};
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_api::services::room::{RoomClient, UpdateParticipantOptions};
use livekit_protocol as proto;
use tokio::sync::{broadcast, mpsc};
use utd_engine::admin_client::{AdminClient, AppCredentials};
use utd_engine::{EngineConfig, Plan};
use utd_stream::media::frames::AudioFrame;
use utd_stream::media::livekit_ffi::LiveKitFfiTransport;
use utd_stream::media::{
    OutgoingData, RoomTransport, TrackSource, TransportEvent, TransportOptions,
};
use utd_stream::session::exported::{
    UTDAudioFrameListener, UTDAudioRoomSession, UTDRoom, UTDRoomEventListener,
};
use utd_stream::types::{UTDAudioFrame, UTDRoomEvent, UTDSeatMode};
use utd_stream::UTDStreamClient;
use utd_testkit::signals::Tone;

const USAGE: &str = "usage: bench_media [--runs N] [--warmup N]
  --runs N     measured runs (default 50)
  --warmup N   unmeasured runs first (default 3)";

/// A decoded frame louder than this carries the tone (silence is 0).
const SOUND: f64 = 0.01;

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

/// The three samples of one run.
struct Sample {
    join_to_audio: Duration,
    seat_to_audio: Duration,
    data: Duration,
}

#[derive(Default)]
struct Samples {
    join_to_audio: Vec<Duration>,
    seat_to_audio: Vec<Duration>,
    data: Vec<Duration>,
}

impl Samples {
    fn push(&mut self, s: Sample) {
        self.join_to_audio.push(s.join_to_audio);
        self.seat_to_audio.push(s.seat_to_audio);
        self.data.push(s.data);
    }
}

async fn bench(options: Options, config: EngineConfig, started: Instant) -> BenchResult<()> {
    let engine = utd_engine::start(config.clone()).await?;
    let admin = AdminClient::new(engine.base_url(), &config.admin_token);
    let app = admin.create_app("media bench", Plan::Signaling).await?;
    let livekit = Floor {
        url: config.livekit_url.clone(),
        key: config.livekit_api_key.clone(),
        secret: config.livekit_api_secret.clone(),
    };
    let (mut sdk, mut floor) = (Samples::default(), Samples::default());
    for run in 0..options.warmup + options.runs {
        let measured = run >= options.warmup;
        let (a, b) = if run % 2 == 0 {
            let a = sdk_run(&engine.base_url(), &app, run).await?;
            (a, livekit.run(run).await?)
        } else {
            let b = livekit.run(run).await?;
            (sdk_run(&engine.base_url(), &app, run).await?, b)
        };
        if measured {
            sdk.push(a);
            floor.push(b);
        }
    }
    engine.shutdown().await;
    print_header(&format!(
        "media bench: {} runs after {} warm-up",
        options.runs, options.warmup
    ));
    for (label, ours, base) in [
        (
            "join → first remote audio frame",
            &sdk.join_to_audio,
            &floor.join_to_audio,
        ),
        (
            "takeSeat → first audio frame at host",
            &sdk.seat_to_audio,
            &floor.seat_to_audio,
        ),
        ("one-way reliable data (1 KB)", &sdk.data, &floor.data),
    ] {
        let baseline = Stats::of(base);
        Stats::of(ours).row(label, &baseline);
        baseline.row("  same step, FFI transport alone", &baseline);
    }
    println!("whole bench: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Sends the time of each decoded frame with sound.
struct FirstSound(mpsc::UnboundedSender<Instant>);

impl UTDAudioFrameListener for FirstSound {
    fn on_frame(&self, frame: UTDAudioFrame) {
        if AudioFrame::from(frame).rms_level() > SOUND {
            let _ = self.0.send(Instant::now());
        }
    }
}

/// Sends the time each data message arrives.
struct DataArrival(mpsc::UnboundedSender<Instant>);

impl UTDRoomEventListener for DataArrival {
    fn on_event(&self, event: UTDRoomEvent) {
        if matches!(event, UTDRoomEvent::DataReceived { .. }) {
            let _ = self.0.send(Instant::now());
        }
    }
}

async fn first(what: &str, rx: &mut mpsc::UnboundedReceiver<Instant>) -> BenchResult<Instant> {
    within(what, async {
        rx.recv().await.ok_or("the listener went away")
    })
    .await
}

/// Pushes a tone through a frame-pushing function until aborted.
fn sing_into<F, Fut>(push: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(AudioFrame) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        let mut tone = Tone::new(440.0, 0.5);
        loop {
            let frame = AudioFrame {
                samples: tone.next_frame(),
                sample_rate: 48_000,
                num_channels: 1,
            };
            if !push(frame).await {
                return;
            }
        }
    })
}

fn sing(room: &Arc<UTDRoom>) -> tokio::task::JoinHandle<()> {
    let sink = room.audio_sink();
    sing_into(move |frame| {
        let sink = sink.clone();
        async move { sink.push_frame(frame.into()).await.is_ok() }
    })
}

async fn join(
    url: &str,
    app: &AppCredentials,
    room: &str,
    identity: &str,
    host: bool,
) -> BenchResult<(Arc<UTDStreamClient>, Arc<UTDAudioRoomSession>)> {
    let client = UTDStreamClient::new(
        app.app_id.clone(),
        app.app_key.clone(),
        url.to_string(),
        None,
    )?;
    let session = within(
        &format!("{identity} joins"),
        client.clone().join_audio_room(
            identity.into(),
            room.into(),
            host,
            None,
            None,
            host.then_some(4),
            host.then_some(UTDSeatMode::Free),
        ),
    )
    .await?;
    Ok((client, session))
}

async fn sdk_run(url: &str, app: &AppCredentials, run: usize) -> BenchResult<Sample> {
    let room = format!("sdk-{run}");
    let (host_client, host) = join(url, app, &room, "host", true).await?;
    within("host microphone", host.room().set_microphone(true)).await?;
    let host_voice = sing(&host.room());

    let t0 = Instant::now();
    let (listener_client, listener) = join(url, app, &room, "listener", false).await?;
    let (tx, mut heard) = mpsc::unbounded_channel();
    let hearing = within(
        "listening to the host",
        listener
            .room()
            .observe_remote_audio("host".into(), Arc::new(FirstSound(tx))),
    )
    .await?;
    let join_to_audio = first("the host's first audio at the listener", &mut heard).await? - t0;
    hearing.cancel();

    let listener_voice = sing(&listener.room());
    within("the host sees the listener", async {
        while !host
            .room()
            .remote_participants()
            .iter()
            .any(|p| p.identity == "listener")
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok::<_, String>(())
    })
    .await?;
    let (tx, mut heard) = mpsc::unbounded_channel();
    let hearing = within(
        "listening to the listener",
        host.room()
            .observe_remote_audio("listener".into(), Arc::new(FirstSound(tx))),
    )
    .await?;
    let t0 = Instant::now();
    within("takeSeat", listener.clone().take_seat(1)).await?;
    let seat_to_audio =
        first("the seated listener's first audio at the host", &mut heard).await? - t0;
    hearing.cancel();

    let (tx, mut arrived) = mpsc::unbounded_channel();
    let inbox = listener.room().observe_events(Arc::new(DataArrival(tx)));
    let t0 = Instant::now();
    within(
        "sending data",
        host.room()
            .send_data(vec![7; 1024], true, Some(vec!["listener".into()]), None),
    )
    .await?;
    let data = first("the data at the listener", &mut arrived).await? - t0;
    inbox.cancel();

    host_voice.abort();
    listener_voice.abort();
    listener.dispose().await;
    host.dispose().await;
    drop((host_client, listener_client));
    Ok(Sample {
        join_to_audio,
        seat_to_audio,
        data,
    })
}

/// The same steps on the transport alone, with tokens and grants made here.
struct Floor {
    url: String,
    key: String,
    secret: String,
}

impl Floor {
    fn token(&self, room: &str, identity: &str, can_publish: bool) -> BenchResult<String> {
        Ok(AccessToken::with_api_key(&self.key, &self.secret)
            .with_identity(identity)
            .with_ttl(Duration::from_secs(600))
            .with_grants(VideoGrants {
                room_join: true,
                room: room.to_string(),
                can_publish: Some(can_publish),
                can_subscribe: Some(true),
                can_publish_data: Some(true),
                ..Default::default()
            })
            .to_jwt()?)
    }

    async fn join(
        &self,
        room: &str,
        identity: &str,
        can_publish: bool,
    ) -> BenchResult<LiveKitFfiTransport> {
        let transport = LiveKitFfiTransport::new();
        let token = self.token(room, identity, can_publish)?;
        within(
            &format!("{identity} joins (transport)"),
            transport.connect(&self.url, &token, TransportOptions::default()),
        )
        .await?;
        Ok(transport)
    }

    fn sing(transport: &LiveKitFfiTransport) -> tokio::task::JoinHandle<()> {
        let transport = transport.clone();
        sing_into(move |frame| {
            let transport = transport.clone();
            async move { transport.capture_audio(frame).await.is_ok() }
        })
    }

    /// The first frame with sound of `identity` at `listener`.
    async fn first_sound(listener: &LiveKitFfiTransport, identity: &str) -> BenchResult<Instant> {
        let mut stream =
            within("opening the audio stream", listener.remote_audio(identity)).await?;
        within("the first audio with sound", async {
            while let Some(frame) = stream.next().await {
                if frame.rms_level() > SOUND {
                    return Ok(Instant::now());
                }
            }
            Err("the audio stream ended")
        })
        .await
    }

    async fn run(&self, run: usize) -> BenchResult<Sample> {
        let room = format!("ffi-{run}");
        let host = self.join(&room, "host", true).await?;
        within("host microphone", host.set_microphone(true)).await?;
        let host_voice = Self::sing(&host);

        let t0 = Instant::now();
        let listener = self.join(&room, "listener", false).await?;
        let join_to_audio = Self::first_sound(&listener, "host").await? - t0;

        let listener_voice = Self::sing(&listener);
        let mut listener_events = listener.events();
        within("the host sees the listener (transport)", async {
            while !host
                .remote_participants()
                .iter()
                .any(|p| p.identity == "listener")
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, String>(())
        })
        .await?;
        let heard = {
            let host = host.clone();
            tokio::spawn(async move { Self::first_sound(&host, "listener").await })
        };
        // Let the host's stream open before the clock starts, as the SDK run does.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t0 = Instant::now();
        let permission = proto::ParticipantPermission {
            can_subscribe: true,
            can_publish: true,
            can_publish_data: true,
            can_publish_sources: vec![proto::TrackSource::Microphone as i32],
            ..Default::default()
        };
        within(
            "RoomService.UpdateParticipant",
            RoomClient::with_api_key(
                &self.url.replace("ws://", "http://"),
                &self.key,
                &self.secret,
            )
            .update_participant(
                &room,
                "listener",
                UpdateParticipantOptions {
                    permission: Some(permission),
                    ..Default::default()
                },
            ),
        )
        .await?;
        within("the grant at the listener", async {
            loop {
                match listener_events.recv().await {
                    Ok(TransportEvent::PermissionChanged(p))
                        if p.allows_publishing(TrackSource::Microphone) =>
                    {
                        return Ok(())
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
        })
        .await?;
        within("publishing (transport)", listener.set_microphone(true)).await?;
        let seat_to_audio = heard.await.map_err(|e| format!("listening task: {e}"))?? - t0;

        let t0 = Instant::now();
        within(
            "sending data (transport)",
            host.send_data(OutgoingData {
                payload: vec![7; 1024],
                reliable: true,
                destination_identities: vec!["listener".into()],
                topic: None,
            }),
        )
        .await?;
        within("the data at the listener (transport)", async {
            loop {
                match listener_events.recv().await {
                    Ok(TransportEvent::DataReceived { .. }) => return Ok(()),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
        })
        .await?;
        let data = t0.elapsed();

        host_voice.abort();
        listener_voice.abort();
        let _ = listener.disconnect().await;
        let _ = host.disconnect().await;
        Ok(Sample {
            join_to_audio,
            seat_to_audio,
            data,
        })
    }
}
