//! A send whose reply is lost is sent again with the same client message
//! id until a reply arrives, also by the next process over the same store
//! directory: the engine answers each repeat with the original message, so
//! there is one message, shown in one row.

mod support;

use std::net::SocketAddr;

use support::chat::{seqs, store_dir, ChatStack, Device, LossyRelay, WAIT};
use support::{client, eventually};
use utd_stream::chat::types::UTDSendState;

/// The request line of a send.
const SEND: [&str; 2] = ["POST /api/v1/chat/conversations/", "/messages HTTP"];

fn engine_addr(stack: &ChatStack) -> SocketAddr {
    stack
        .engine
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("engine address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_lost_replies_and_a_restart_make_one_message() {
    let stack = ChatStack::without_uploads("pro").await;
    let relay = LossyRelay::start(engine_addr(&stack)).await;
    let (alice_dir, bob_dir) = (store_dir(), store_dir());
    let alice = Device::open(
        &relay.url(),
        &stack.app,
        "alice",
        "a1",
        alice_dir.path(),
        true,
    )
    .await;
    let bob = stack.device("bob", "b1", bob_dir.path()).await;
    let id = alice.direct_with("bob").await;
    let b = bob.timeline(&id).await;
    let a = alice.timeline(&id).await;

    // Lost until the app is killed, then two more in the next process.
    relay.lose_replies(&SEND, usize::MAX);
    let echo = a
        .timeline
        .clone()
        .send("exactly once".into(), vec![])
        .await
        .expect("send");
    // The first attempt reached the engine: bob has it while alice's
    // replies keep getting lost.
    let at_bob = b.wait_sent(&echo.key).await;
    assert_eq!(at_bob.seq, Some(1));
    eventually(WAIT, "three replies lost", || relay.lost() >= 3).await;

    // alice's own push showed the engine's message in the echo's row,
    // while her queue still retries it.
    let shown = a
        .wait("alice's row is the engine's message", |s| {
            s.items.len() == 1 && s.items[0].key == echo.key && s.items[0].seq == Some(1)
        })
        .await;
    assert_eq!(shown.items[0].send_state, UTDSendState::Sent);

    // The app is killed between retries; the next process retries from
    // the store with the same id.
    drop(a);
    alice.kill();
    relay.heal();
    let lost_before_restart = relay.lost();
    relay.lose_replies(&SEND, 2);
    let alice = Device::open(
        &relay.url(),
        &stack.app,
        "alice",
        "a1",
        alice_dir.path(),
        true,
    )
    .await;
    let a = alice.timeline(&id).await;
    eventually(WAIT, "two more replies lost", || {
        relay.lost() >= lost_before_restart + 2
    })
    .await;
    let after = a
        .wait("the queue's message is the engine's one row", |s| {
            s.items.len() == 1 && s.items[0].key == echo.key && s.items[0].seq.is_some()
        })
        .await;
    assert_eq!(seqs(&after), [1]);

    // A sixth attempt got its reply; nothing is queued any more: a new
    // message goes out right behind and takes seq 2.
    let next = a
        .timeline
        .clone()
        .send("and the next one".into(), vec![])
        .await
        .expect("send");
    assert_eq!(a.wait_sent(&next.key).await.seq, Some(2));
    assert!(relay.lost() >= 5, "five retries at least: {}", relay.lost());
    let final_bob = b
        .wait("bob has both", |s| s.items.len() == 2 && seqs(s) == [1, 2])
        .await;
    assert_eq!(final_bob.items[0].text, "exactly once");
    let fresh = alice.timeline(&id).await;
    assert_eq!(seqs(&fresh.timeline.snapshot()), [1, 2]);
    assert!(
        fresh
            .timeline
            .snapshot()
            .items
            .iter()
            .all(|i| i.seq.is_some()),
        "no echo left over"
    );
    bob.wait_unread(&id, 2).await;
}

/// `PUT` or `DELETE /api/v1/chat/blocks/{identity}` as `bearer`.
async fn block(stack: &ChatStack, bearer: &str, identity: &str, on: bool) {
    let url = format!("{}/api/v1/chat/blocks/{identity}", stack.engine.url());
    let request = if on {
        reqwest::Client::new().put(url)
    } else {
        reqwest::Client::new().delete(url)
    };
    let status = request
        .bearer_auth(bearer)
        .send()
        .await
        .expect("block request")
        .status();
    assert!(status.is_success(), "block {on}: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_fails_for_good_until_the_app_retries_it() {
    let stack = ChatStack::without_uploads("pro").await;
    let (alice_dir, bob_dir) = (store_dir(), store_dir());
    let alice = stack.device("alice", "a1", alice_dir.path()).await;
    let bob = stack.device("bob", "b1", bob_dir.path()).await;
    let id = alice.direct_with("bob").await;
    let a = alice.timeline(&id).await;
    let b = bob.timeline(&id).await;
    // The app's backend would do this; here alice's own bearer does.
    let alice_bearer = client(&stack.engine, &stack.app)
        .authenticate("alice".into(), None, None)
        .await
        .expect("bearer");
    block(&stack, &alice_bearer, "bob", true).await;

    let refused = b
        .timeline
        .clone()
        .send("let me in".into(), vec![])
        .await
        .expect("queued");
    let failed = b
        .wait("the block refuses it", |s| {
            s.items.iter().any(|i| {
                i.key == refused.key
                    && matches!(
                        i.send_state,
                        UTDSendState::Failed {
                            retryable: false,
                            ..
                        }
                    )
            })
        })
        .await;
    assert_eq!(failed.items.len(), 1, "the echo stays, failed");
    assert!(a.timeline.snapshot().items.is_empty());

    // A refused message does not hold the conversation back: the next one
    // goes out while it waits for the app.
    block(&stack, &alice_bearer, "bob", false).await;
    let next = b
        .timeline
        .clone()
        .send("after the block".into(), vec![])
        .await
        .expect("queued");
    assert_eq!(b.wait_sent(&next.key).await.seq, Some(1));
    assert!(matches!(
        b.timeline
            .snapshot()
            .items
            .iter()
            .find(|i| i.key == refused.key)
            .map(|i| i.send_state.clone()),
        Some(UTDSendState::Failed {
            retryable: false,
            ..
        })
    ));
    b.timeline.retry_send(refused.key.clone()).expect("retry");
    assert_eq!(b.wait_sent(&refused.key).await.seq, Some(2));
    assert_eq!(a.wait_sent(&refused.key).await.text, "let me in");
    let err = b
        .timeline
        .retry_send(refused.key.clone())
        .expect_err("a sent message is not in the queue");
    assert_eq!(err.code(), utd_stream::UTDErrorCode::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_or_delete_after_a_lost_reply_reaches_the_engine() {
    let stack = ChatStack::without_uploads("pro").await;
    let relay = LossyRelay::start(engine_addr(&stack)).await;
    let (alice_dir, bob_dir) = (store_dir(), store_dir());
    // alice over REST only: no push tells her the first attempt landed.
    let alice = Device::open(
        &relay.url(),
        &stack.app,
        "alice",
        "a1",
        alice_dir.path(),
        false,
    )
    .await;
    let bob = stack.device("bob", "b1", bob_dir.path()).await;
    let id = alice.direct_with("bob").await;
    let a = alice.timeline(&id).await;
    let b = bob.timeline(&id).await;

    // Edited in the queue after its first attempt landed unseen.
    relay.lose_replies(&SEND, usize::MAX);
    let draft = a
        .timeline
        .clone()
        .send("draft".into(), vec![])
        .await
        .expect("send");
    b.wait_texts(&["draft"]).await;
    eventually(WAIT, "its reply lost", || relay.lost() >= 1).await;
    a.timeline
        .clone()
        .edit(draft.key.clone(), "final".into())
        .await
        .expect("edit in the queue");
    assert_eq!(
        a.timeline.snapshot().items[0].text,
        "final",
        "the echo shows the edit"
    );
    relay.heal();
    let edited = b.wait_texts(&["final"]).await;
    assert!(edited.items[0].edited_at_ms.is_some());
    let mine = a
        .wait("alice's row is the edited message", |s| {
            s.items.len() == 1 && s.items[0].seq == Some(1) && s.items[0].text == "final"
        })
        .await;
    assert_eq!(mine.items[0].key, draft.key);

    // Deleted in the queue after its first attempt landed unseen.
    let lost = relay.lost();
    relay.lose_replies(&SEND, usize::MAX);
    let oops = a
        .timeline
        .clone()
        .send("oops".into(), vec![])
        .await
        .expect("send");
    b.wait_texts(&["final", "oops"]).await;
    eventually(WAIT, "its reply lost", || relay.lost() > lost).await;
    a.timeline
        .clone()
        .delete(oops.key.clone())
        .await
        .expect("delete in the queue");
    assert!(
        a.timeline
            .snapshot()
            .items
            .iter()
            .all(|i| i.key != oops.key),
        "the echo is gone at once"
    );
    relay.heal();
    let at_bob = b
        .wait("bob sees it deleted", |s| {
            s.items.iter().any(|i| i.key == oops.key && i.deleted)
        })
        .await;
    assert_eq!(seqs(&at_bob), [1, 2]);
    a.wait("alice's timeline shows the tombstone", |s| {
        s.items.iter().any(|i| i.key == oops.key && i.deleted)
    })
    .await;

    // A message deleted before any attempt never reaches the engine.
    relay.lose_replies(&SEND, usize::MAX);
    let blocked = a
        .timeline
        .clone()
        .send("first in line".into(), vec![])
        .await
        .expect("send");
    let never = a
        .timeline
        .clone()
        .send("never sent".into(), vec![])
        .await
        .expect("send");
    a.timeline
        .clone()
        .delete(never.key.clone())
        .await
        .expect("delete before its turn");
    relay.heal();
    b.wait("the first in line arrives", |s| {
        s.items.iter().any(|i| i.key == blocked.key)
    })
    .await;
    let sent = a.wait_sent(&blocked.key).await;
    assert_eq!(sent.seq, Some(3));
    let last = a
        .timeline
        .clone()
        .send("the last".into(), vec![])
        .await
        .expect("send");
    assert_eq!(a.wait_sent(&last.key).await.seq, Some(4), "nothing between");
    let at_bob = b
        .wait("bob has the last", |s| seqs(s) == [1, 2, 3, 4])
        .await;
    assert!(at_bob.items.iter().all(|i| i.key != never.key));
}
