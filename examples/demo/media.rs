//! Demo scene 3: the media itself. A listener takes a seat and is heard (the
//! tone he pushes is measured at the host), and a data message reaches only
//! the participant it is addressed to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use utd_engine::admin_client::AdminClient;
use utd_engine::{EngineConfig, Plan, RunningEngine};
use utd_stream::session::exported::{
    UTDAudioFrameListener, UTDAudioRoomSession, UTDRoomEventListener,
};
use utd_stream::types::{UTDAudioFrame, UTDRoomEvent, UTDSeatMode};
use utd_stream::UTDStreamClient;
use utd_testkit::signals::{read_tone, Tone};

use crate::{say, wait_until, DemoResult};

/// The last second of one participant's decoded audio.
#[derive(Default)]
struct Ears(Mutex<Vec<i16>>);

impl UTDAudioFrameListener for Ears {
    fn on_frame(&self, frame: UTDAudioFrame) {
        let mut samples = self.0.lock().unwrap_or_else(|e| e.into_inner());
        samples.extend_from_slice(&frame.samples);
        let excess = samples.len().saturating_sub(48_000);
        samples.drain(..excess);
    }
}

impl Ears {
    /// (frequency, level) of the last 500 ms.
    fn reading(&self) -> (f64, f64) {
        let samples = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let reading = read_tone(&samples[samples.len().saturating_sub(24_000)..]);
        (reading.frequency, reading.level)
    }
}

/// The data messages one participant received.
#[derive(Default)]
struct Inbox(Mutex<Vec<String>>);

impl UTDRoomEventListener for Inbox {
    fn on_event(&self, event: UTDRoomEvent) {
        if let UTDRoomEvent::DataReceived { from, payload, .. } = event {
            let line = format!(
                "{} from {}",
                String::from_utf8_lossy(&payload),
                from.unwrap_or_default()
            );
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    }
}

/// Runs the scene against the running engine (and its livekit-server).
pub async fn run(config: &EngineConfig, engine: &RunningEngine) -> DemoResult {
    let url = engine.base_url();
    let admin = AdminClient::new(&url, &config.admin_token);
    let app = admin.create_app("media app", Plan::Signaling).await?;
    let mut clients = Vec::new();
    let mut join = async |identity: &str,
                          host: bool|
           -> Result<Arc<UTDAudioRoomSession>, Box<dyn std::error::Error>> {
        let client =
            UTDStreamClient::new(app.app_id.clone(), app.app_key.clone(), url.clone(), None)?;
        clients.push(client.clone());
        Ok(client
            .join_audio_room(
                identity.into(),
                "stage".into(),
                host,
                None,
                None,
                host.then_some(4),
                host.then_some(UTDSeatMode::Free),
            )
            .await?)
    };
    let hana = join("hana", true).await?;
    let dave = join("dave", false).await?;
    let omar = join("omar", false).await?;

    // Dave's app pushes a 440 Hz tone (as a game or TTS would) all along.
    let sink = dave.room().audio_sink();
    let voice = tokio::spawn(async move {
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
    wait_until("hana sees dave", || {
        hana.room()
            .remote_participants()
            .iter()
            .any(|p| p.identity == "dave")
    })
    .await?;
    let ears = Arc::new(Ears::default());
    let listening = hana
        .room()
        .observe_remote_audio("dave".into(), ears.clone())
        .await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, before) = ears.reading();
    say(&format!(
        "media: dave pushes a 440 Hz tone but has no seat → hana hears level {before:.3}"
    ));
    dave.clone().take_seat(1).await?;
    wait_until("hana hears dave's tone", || {
        let (frequency, level) = ears.reading();
        (frequency - 440.0).abs() < 13.0 && level > 0.1
    })
    .await?;
    // Past the jitter buffer's start-up: a steady reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (frequency, level) = ears.reading();
    say(&format!(
        "media: dave takes seat 1 → hana hears {frequency:.0} Hz at level {level:.3} (RMS of full scale; pushed 0.354)"
    ));
    listening.cancel();
    voice.abort();

    let (dave_inbox, omar_inbox) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
    let s1 = dave.room().observe_events(dave_inbox.clone());
    let s2 = omar.room().observe_events(omar_inbox.clone());
    hana.room()
        .send_data(
            b"psst, you are next".to_vec(),
            true,
            Some(vec!["dave".into()]),
            Some("dm".into()),
        )
        .await?;
    wait_until("dave gets the message", || {
        !dave_inbox.0.lock().map(|m| m.is_empty()).unwrap_or(true)
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    say(&format!(
        "media: hana sends data to dave only → dave got {:?}, omar got {:?}",
        dave_inbox.0.lock().map(|m| m.clone()).unwrap_or_default(),
        omar_inbox.0.lock().map(|m| m.clone()).unwrap_or_default()
    ));
    s1.cancel();
    s2.cancel();
    for session in [dave, omar, hana] {
        session.dispose().await;
    }
    Ok(())
}
