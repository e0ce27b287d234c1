//! Hearing a participant in the end-to-end tests: a tone pushed through a
//! room's audio sink, and ears that decode what arrives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use utd_stream::session::exported::{UTDAudioFrameListener, UTDRoom};
use utd_stream::subscription::UTDSubscription;
use utd_stream::types::UTDAudioFrame;
use utd_testkit::signals::{is_tone, read_tone, Tone};

use super::eventually;

const WAIT: Duration = Duration::from_secs(15);

/// Keeps the last few seconds of a participant's decoded audio.
#[derive(Default)]
pub struct Ears {
    samples: Mutex<Vec<i16>>,
}

impl UTDAudioFrameListener for Ears {
    fn on_frame(&self, frame: UTDAudioFrame) {
        let mut samples = self.samples.lock().unwrap();
        samples.extend_from_slice(&frame.samples);
        let excess = samples.len().saturating_sub(48_000 * 3);
        samples.drain(..excess);
    }
}

impl Ears {
    pub fn last(&self, ms: usize) -> Vec<i16> {
        let samples = self.samples.lock().unwrap();
        samples[samples.len().saturating_sub(ms * 48)..].to_vec()
    }

    pub fn clear(&self) {
        self.samples.lock().unwrap().clear();
    }

    pub async fn hear_tone(&self, frequency: f64, who: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let recent = self.last(500);
            if is_tone(&recent, frequency, 0.1) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{who} never sounded like {frequency} Hz: {:?}",
                read_tone(&recent)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Listens to `identity` in `room`.
pub async fn listen(room: &Arc<UTDRoom>, identity: &str) -> (Arc<Ears>, Arc<UTDSubscription>) {
    eventually(WAIT, &format!("{identity} is in the room"), || {
        room.remote_participants()
            .iter()
            .any(|p| p.identity == identity)
    })
    .await;
    let ears = Arc::new(Ears::default());
    let subscription = room
        .clone()
        .observe_remote_audio(identity.into(), ears.clone())
        .await
        .unwrap_or_else(|e| panic!("listening to {identity}: {e}"));
    (ears, subscription)
}

/// Pushes a tone through `room`'s audio sink until aborted.
pub fn sing(room: &Arc<UTDRoom>, frequency: f64) -> tokio::task::JoinHandle<()> {
    let sink = room.audio_sink();
    tokio::spawn(async move {
        let mut tone = Tone::new(frequency, 0.5);
        loop {
            let frame = UTDAudioFrame {
                samples: tone.next_frame(),
                sample_rate: 48_000,
                num_channels: 1,
            };
            sink.push_frame(frame).await.expect("push audio");
        }
    })
}
