//! Typing: `setTyping(true)` shows at the other members' typers observable
//! and expires there by itself; a stop or a send clears it at once.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::chat::{store_dir, ChatStack, Seen, Watched};
use utd_stream::UTDSubscription;

/// Observes the typers of `t`.
fn typers(t: &Watched) -> (Arc<Seen<Vec<String>>>, Arc<UTDSubscription>) {
    let seen = Arc::new(Seen::default());
    let subscription = t.timeline.observe_typers(seen.clone());
    (seen, subscription)
}

/// Keeps typing (a keystroke every 100 ms, as a keyboard would) until
/// `seen` shows exactly `expected`.
async fn type_until(t: &Watched, seen: &Seen<Vec<String>>, expected: &[&str]) {
    support::within(support::chat::WAIT, "the typer shows", async {
        loop {
            t.timeline.clone().set_typing(true).await.expect("typing");
            if seen.last().is_some_and(|v| v == expected) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_shows_at_the_others_and_expires_by_itself() {
    let stack = ChatStack::without_uploads("pro").await;
    let dirs = [store_dir(), store_dir(), store_dir()];
    let alice = stack.device("alice", "a1", dirs[0].path()).await;
    let bob = stack.device("bob", "b1", dirs[1].path()).await;
    let carol = stack.device("carol", "c1", dirs[2].path()).await;
    let id = alice
        .chat
        .clone()
        .create_group("typists".into(), vec!["bob".into(), "carol".into()])
        .await
        .expect("group")
        .conversation_id;
    let a = alice.timeline(&id).await;
    let b = bob.timeline(&id).await;
    let c = carol.timeline(&id).await;
    let (at_bob, _s1) = typers(&b);
    let (at_alice, _s2) = typers(&a);
    at_bob
        .wait("the current value first", |t| t.is_empty())
        .await;
    assert_eq!(at_bob.count(), 1, "nobody typed yet");

    // One start, then nothing: it shows, then goes by itself.
    let started = Instant::now();
    a.timeline.clone().set_typing(true).await.expect("typing");
    at_bob
        .wait("bob sees alice typing", |t| t == &["alice"])
        .await;
    at_bob
        .wait("alice's typing expires", |t| t.is_empty())
        .await;
    let lasted = started.elapsed();
    assert!(
        lasted >= Duration::from_secs(4),
        "expired by the engine's 5 s, not at once: {lasted:?}"
    );
    assert!(
        at_alice.all().iter().all(|t| t.is_empty()),
        "alice never sees herself typing"
    );

    // Two typers, sorted; a stop clears one at once.
    type_until(&a, &at_bob, &["alice"]).await;
    type_until(&c, &at_bob, &["alice", "carol"]).await;
    at_alice.wait("alice sees carol", |t| t == &["carol"]).await;
    let stopped = Instant::now();
    c.timeline.clone().set_typing(false).await.expect("stop");
    at_bob.wait("carol stopped", |t| t == &["alice"]).await;
    assert!(stopped.elapsed() < Duration::from_secs(3), "not by expiry");

    // Sending stops typing too.
    let sent = Instant::now();
    a.timeline
        .clone()
        .send("done typing".into(), vec![])
        .await
        .expect("send");
    at_bob
        .wait("alice stopped by sending", |t| t.is_empty())
        .await;
    assert!(sent.elapsed() < Duration::from_secs(3), "not by expiry");
    assert!(b.timeline.typers().is_empty());
}
