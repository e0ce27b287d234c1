//! Demo scene 2: an audio room (seats grant publish) and a live stream (the
//! stage grants publish), with every grant coming from the server.

use std::time::Instant;

use utd_engine::admin_client::AdminClient;
use utd_engine::{EngineConfig, Plan, RunningEngine};
use utd_stream::types::UTDSeatMode;
use utd_stream::UTDStreamClient;

use crate::{say, wait_until, DemoResult};

/// Runs the scene against the running engine (and its livekit-server).
pub async fn run(config: &EngineConfig, engine: &RunningEngine) -> DemoResult {
    let url = engine.base_url();
    let admin = AdminClient::new(&url, &config.admin_token);
    let app = admin.create_app("rooms app", Plan::Signaling).await?;
    let device =
        || UTDStreamClient::new(app.app_id.clone(), app.app_key.clone(), url.clone(), None);

    let (host_client, dave_client) = (device()?, device()?);
    let host = host_client
        .clone()
        .join_audio_room(
            "hana".into(),
            "lobby".into(),
            true,
            Some("Hana".into()),
            None,
            Some(4),
            Some(UTDSeatMode::Free),
        )
        .await?;
    let dave = dave_client
        .clone()
        .join_audio_room(
            "dave".into(),
            "lobby".into(),
            false,
            Some("Dave".into()),
            None,
            None,
            None,
        )
        .await?;
    say(&format!(
        "audio room 'lobby': hana hosts {} seats; dave listens (canPublish {})",
        host.seats().map(|s| s.seat_count).unwrap_or(0),
        dave.room().can_publish()
    ));
    match dave.room().set_microphone(true).await {
        Err(e) if e.is_forbidden() => say(&format!("dave turns his mic on without a seat → {e}")),
        other => return Err(format!("expected forbidden, got {other:?}").into()),
    }
    let asked = Instant::now();
    dave.clone().take_seat(2).await?;
    say(&format!(
        "dave takes seat 2 → engine grants, LiveKit pushes, mic on: canPublish {} after {:.0} ms",
        dave.room().can_publish(),
        asked.elapsed().as_secs_f64() * 1000.0
    ));
    wait_until("hana is pushed dave's seat", || {
        host.seats().and_then(|s| s.seat_of("dave")) == Some(2)
    })
    .await?;
    say("hana's seat grid was pushed: seat 2 → dave");
    dave.clone().leave_seat().await?;
    wait_until("dave loses publish", || !dave.room().can_publish()).await?;
    say("dave leaves the seat → LiveKit revokes publish (canPublish false)");
    dave.clone().dispose().await;
    host.clone().dispose().await;

    let (star_client, erin_client) = (device()?, device()?);
    let star = star_client
        .clone()
        .join_live_stream(
            "star".into(),
            "show".into(),
            true,
            Some("Star".into()),
            None,
        )
        .await?;
    star.clone().go_live(true).await?;
    let erin = erin_client
        .clone()
        .join_live_stream(
            "erin".into(),
            "show".into(),
            false,
            Some("Erin".into()),
            None,
        )
        .await?;
    say(&format!(
        "live stream 'show': star is live (camera + mic), erin watches (canPublish {})",
        erin.room().can_publish()
    ));
    erin.clone().request_stage().await?;
    wait_until("star sees erin's raised hand", || {
        star.stage_state()
            .is_some_and(|s| s.requests.iter().any(|r| r.identity == "erin"))
    })
    .await?;
    say("erin raises a hand → pushed to star");
    let invited = Instant::now();
    star.clone().invite_to_stage("erin".into()).await?;
    wait_until("erin may publish", || erin.room().can_publish()).await?;
    say(&format!(
        "star invites erin to the stage → erin's canPublish true after {:.0} ms; stage: {:?}",
        invited.elapsed().as_secs_f64() * 1000.0,
        star.stage()
            .iter()
            .map(|m| m.identity.as_str())
            .collect::<Vec<_>>()
    ));
    erin.clone().go_live(true).await?;
    star.clone().remove_from_stage("erin".into()).await?;
    wait_until("erin demoted", || {
        !erin.room().can_publish()
            && erin
                .room()
                .local_participant()
                .is_some_and(|p| p.published_sources.is_empty())
    })
    .await?;
    say("star removes erin → publish revoked and her tracks are gone");
    match erin.clone().invite_to_stage("erin".into()).await {
        Err(e) if e.is_forbidden() => say("erin tries to put herself back on stage → forbidden"),
        other => return Err(format!("expected forbidden, got {other:?}").into()),
    }
    erin.clone().dispose().await;
    star.clone().dispose().await;
    Ok(())
}
