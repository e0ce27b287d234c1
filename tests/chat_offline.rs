//! A member away while 500 messages arrive catches up with none missing or
//! doubled: once while disconnected (the open timeline asks for what
//! changed after the reconnect) and once with the app gone (the next
//! process reads the list and pages the history back).

mod support;

use std::collections::HashSet;

use support::chat::{seqs, store_dir, ChatStack, Device, Watched};
use utd_stream::chat::types::UTDTimelineSnapshot;
use utd_stream::types::UTDConnectionState;

const BURST: u64 = 500;

/// alice sends `count` numbered messages starting at `from`, through her
/// queue, and waits until all are on the engine.
async fn burst(a: &Watched, from: u64, count: u64) {
    for n in from..from + count {
        a.timeline
            .clone()
            .send(format!("n{n}"), vec![])
            .await
            .expect("queued");
    }
    let last = from + count - 1;
    a.wait(&format!("alice's {count} messages sent"), |s| {
        s.items.last().and_then(|i| i.seq) == Some(last)
    })
    .await;
}

/// Every message 1..=`last` exactly once, in order, with its own text.
fn assert_complete(snapshot: &UTDTimelineSnapshot, last: u64) {
    assert_eq!(
        seqs(snapshot),
        (1..=last).collect::<Vec<u64>>(),
        "none missing or doubled"
    );
    let keys: HashSet<&str> = snapshot.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys.len() as u64, last, "one row per message");
    for (n, item) in (1..=last).zip(&snapshot.items) {
        assert_eq!(item.text, format!("n{n}"), "in sending order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_away_for_500_messages_catches_up_after_a_reconnect_and_a_restart() {
    let stack = ChatStack::without_uploads("pro").await;
    let (alice_dir, bob_dir) = (store_dir(), store_dir());
    let alice = stack.device("alice", "a1", alice_dir.path()).await;
    let bob = stack.device("bob", "b1", bob_dir.path()).await;
    let id = alice.direct_with("bob").await;
    let a = alice.timeline(&id).await;
    let b = bob.timeline(&id).await;
    bob.lists
        .wait("bob lists the conversation", |l| {
            l.conversations.iter().any(|c| c.conversation_id == id)
        })
        .await;

    // Disconnected: nothing is pushed to bob while the 500 arrive.
    bob.client.clone().disconnect().await;
    assert_eq!(
        bob.client.connection_state(),
        UTDConnectionState::Disconnected
    );
    burst(&a, 1, BURST).await;
    assert!(b.timeline.snapshot().items.is_empty(), "bob heard nothing");
    let before = b.timeline.snapshot();
    assert!(
        a.timeline
            .snapshot()
            .receipts
            .iter()
            .all(|r| r.last_delivered_seq == 0),
        "nothing reached bob: {:?}",
        before.receipts
    );
    bob.client.clone().connect().await.expect("reconnect");
    let caught_up = b
        .wait("bob's timeline caught up", |s| {
            s.items.len() as u64 >= BURST
        })
        .await;
    assert_complete(&caught_up, BURST);
    let list = bob.wait_unread(&id, BURST).await;
    assert_eq!(list.total_unread, BURST);
    a.wait(
        "the catch-up is reported delivered, once read is not",
        |s| {
            s.receipts.iter().any(|r| {
                r.identity == "bob" && r.last_delivered_seq == BURST && r.last_read_seq == 0
            })
        },
    )
    .await;
    assert_eq!(b.timeline.clone().mark_read().await.expect("read"), 0);
    bob.wait_unread(&id, 0).await;

    // Gone: the app is killed; 500 more arrive; the next process catches up.
    drop(b);
    bob.kill();
    burst(&a, BURST + 1, BURST).await;
    let bob = Device::open(
        &stack.engine.url(),
        &stack.app,
        "bob",
        "b1",
        bob_dir.path(),
        true,
    )
    .await;
    let list = bob.wait_unread(&id, BURST).await;
    assert_eq!(list.total_unread, BURST);
    let b = bob.timeline(&id).await;
    let latest = b.timeline.snapshot();
    assert!(!latest.hit_start);
    assert_eq!(latest.items.last().and_then(|i| i.seq), Some(2 * BURST));
    let mut pages = 0;
    while !b
        .timeline
        .clone()
        .paginate_backwards(100)
        .await
        .expect("paginate")
    {
        pages += 1;
        assert!(pages < 20, "the start is reached");
    }
    let all = b.timeline.snapshot();
    assert!(all.hit_start);
    assert_complete(&all, 2 * BURST);
    assert_eq!(b.timeline.clone().mark_read().await.expect("read"), 0);
    let list = bob.wait_unread(&id, 0).await;
    assert_eq!(list.total_unread, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_queued_while_the_engine_is_down_go_out_in_order_when_it_is_back() {
    let mut stack = ChatStack::without_uploads("pro").await;
    let (alice_dir, bob_dir) = (store_dir(), store_dir());
    let alice = stack.device("alice", "a1", alice_dir.path()).await;
    let bob = stack.device("bob", "b1", bob_dir.path()).await;
    let id = alice.direct_with("bob").await;
    let a = alice.timeline(&id).await;
    let b = bob.timeline(&id).await;
    a.timeline
        .clone()
        .send("n1".into(), vec![])
        .await
        .expect("send");
    b.wait_texts(&["n1"]).await;

    stack.engine.stop().await;
    for n in 2..=4 {
        a.timeline
            .clone()
            .send(format!("n{n}"), vec![])
            .await
            .expect("queued while the engine is down");
    }
    let waiting = a
        .wait("the first queued one failed for now", |s| {
            s.items.len() == 4
                && matches!(
                    s.items[1].send_state,
                    utd_stream::chat::types::UTDSendState::Failed {
                        retryable: true,
                        ..
                    }
                )
        })
        .await;
    assert!(waiting.items[1..].iter().all(|i| i.seq.is_none()));

    stack.engine.restart().await;
    let at_bob = b.wait_texts(&["n1", "n2", "n3", "n4"]).await;
    assert_complete(&at_bob, 4);
    let mine = a
        .wait("alice's four are sent", |s| seqs(s) == [1, 2, 3, 4])
        .await;
    assert_complete(&mine, 4);
    bob.wait_unread(&id, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_away_for_more_than_the_catch_up_gap_reloads_and_pages_back() {
    // More than 1000 changes after a reader's counter: the engine answers
    // `reset` and the timeline reloads its latest page.
    const AWAY: u64 = 1001;
    let stack = ChatStack::without_uploads("pro").await;
    let (alice_dir, bob_dir) = (store_dir(), store_dir());
    let alice = stack.device("alice", "a1", alice_dir.path()).await;
    let bob = stack.device("bob", "b1", bob_dir.path()).await;
    let id = alice.direct_with("bob").await;
    let a = alice.timeline(&id).await;
    let b = bob.timeline(&id).await;
    bob.client.clone().disconnect().await;
    burst(&a, 1, AWAY).await;
    bob.client.clone().connect().await.expect("reconnect");
    let latest = b
        .wait("bob's timeline reloaded", |s| {
            s.items.last().and_then(|i| i.seq) == Some(AWAY)
        })
        .await;
    assert!(!latest.hit_start, "only the latest page");
    let mut pages = 0;
    while !b
        .timeline
        .clone()
        .paginate_backwards(100)
        .await
        .expect("paginate")
    {
        pages += 1;
        assert!(pages < 20, "the start is reached");
    }
    assert_complete(&b.timeline.snapshot(), AWAY);
    bob.wait_unread(&id, AWAY).await;
}
