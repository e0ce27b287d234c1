//! An app killed with three queued messages (one edited, a fourth deleted
//! while queued), the first one's attachment half uploaded (PUT done,
//! completion unconfirmed): the next process, over the same store
//! directory, finishes the upload and sends the three in order; the
//! attachment reaches the other member ready to download.

mod support;

use std::net::SocketAddr;

use support::chat::{file_with, seqs, store_dir, ChatStack, Device, LossyRelay, WAIT};
use support::eventually;
use utd_stream::chat::types::{UTDOutgoingAttachment, UTDSendState};

/// The request line of an upload's completion.
const COMPLETE: [&str; 2] = ["POST /api/v1/uploads/", "/complete HTTP"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_and_a_half_done_upload_go_out_in_order_after_a_restart() {
    let stack = ChatStack::start("pro").await;
    let engine: SocketAddr = stack
        .engine
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("engine address");
    let relay = LossyRelay::start(engine).await;
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

    // Every completion's reply is lost while this process lives.
    relay.lose_replies(&COMPLETE, usize::MAX);
    let files = tempfile::tempdir().expect("dir");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let photo = file_with(files.path(), "photo.jpg", &bytes);
    let texts = [
        "first, with a photo",
        "second",
        "third",
        "dropped before it went",
    ];
    let mut keys = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let attachments = if n == 0 {
            vec![UTDOutgoingAttachment {
                path: photo.to_string_lossy().into_owned(),
                content_type: "image/jpeg".into(),
                file_name: Some("photo.jpg".into()),
            }]
        } else {
            vec![]
        };
        let echo = a
            .timeline
            .clone()
            .send((*text).into(), attachments)
            .await
            .expect("queued");
        keys.push(echo.key);
    }
    // Unsent messages are edited and deleted in the queue.
    a.timeline
        .clone()
        .edit(keys[1].clone(), "second, edited".into())
        .await
        .expect("edit a queued message");
    a.timeline
        .clone()
        .delete(keys[3].clone())
        .await
        .expect("delete a queued message");
    keys.truncate(3);
    let texts = ["first, with a photo", "second, edited", "third"];
    // The copy in the store is what gets uploaded: the app's file may go.
    std::fs::remove_file(&photo).expect("the app deletes its file");
    eventually(WAIT, "a completion's reply was lost", || relay.lost() >= 1).await;
    let stuck = a
        .wait("the first waits to be retried, the others behind it", |s| {
            s.items.len() == 3
                && matches!(
                    s.items[0].send_state,
                    UTDSendState::Failed {
                        retryable: true,
                        ..
                    }
                )
        })
        .await;
    let shown: Vec<&str> = stuck.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(shown, keys);
    assert!(
        stuck.items.iter().all(|i| i.seq.is_none()),
        "nothing sent yet"
    );
    assert!(
        stuck.items[1..]
            .iter()
            .all(|i| i.send_state == UTDSendState::Queued),
        "order is kept: the second and third wait for the first"
    );
    assert!(
        b.timeline.snapshot().items.is_empty(),
        "bob has nothing yet"
    );

    // Killed. The next process talks to the engine directly.
    drop(a);
    alice.kill();
    let lost_before = relay.lost();
    let alice = stack.device("alice", "a1", alice_dir.path()).await;
    let a = alice.timeline(&id).await;
    let at_bob = b.wait_texts(&texts).await;
    assert_eq!(seqs(&at_bob), [1, 2, 3], "sent in queue order");
    let shown: Vec<&str> = at_bob.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(shown, keys, "each under the key its echo had");
    let attachment = &at_bob.items[0].attachments[0];
    assert_eq!(attachment.size, 300_000);
    assert_eq!(attachment.file_name.as_deref(), Some("photo.jpg"));
    let url = bob
        .chat
        .clone()
        .attachment_url(attachment.upload_id.clone().expect("upload id"))
        .await
        .expect("ready for bob");
    let downloaded = reqwest::get(&url)
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    assert!(downloaded.as_ref() == bytes.as_slice(), "the same bytes");

    let mine = a
        .wait("alice's three are sent", |s| seqs(s) == [1, 2, 3])
        .await;
    let mine_texts: Vec<&str> = mine.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(mine_texts, texts);
    assert!(mine
        .items
        .iter()
        .all(|i| i.send_state == UTDSendState::Sent));
    assert_eq!(
        relay.lost(),
        lost_before,
        "the new process did not use the relay"
    );
    bob.wait_unread(&id, 3).await;
    let leftovers = std::fs::read_dir(alice_dir.path().join("attachments"))
        .expect("the store's attachment dir")
        .count();
    assert_eq!(leftovers, 0, "sent attachments leave the store");
}
