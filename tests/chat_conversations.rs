//! Chat through `client.chat(storeDirectory)` end to end: a 1:1 and a
//! group of three on the real engine (uploads on a real versitygw). The
//! list and timelines are observed as an app would (current value first,
//! then changes); a sent message's local echo is replaced in place.

mod support;

use support::chat::{file_with, item, seqs, store_dir, ChatStack};
use utd_stream::chat::types::{
    UTDChatRole, UTDConversationKind, UTDOutgoingAttachment, UTDSendState,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_one_to_one_with_echoes_edits_deletes_and_receipts() {
    let stack = ChatStack::start("pro").await;
    let (alice_dir, bob_dir) = (store_dir(), store_dir());
    let alice = stack.device("alice", "a1", alice_dir.path()).await;
    let bob = stack.device("bob", "b1", bob_dir.path()).await;

    // The listener got the current value first, then the first read.
    let first = alice.lists.all().first().cloned().expect("a first list");
    assert!(first.conversations.is_empty());
    alice.lists.wait("alice's list read", |l| l.loaded).await;

    let direct = alice
        .chat
        .clone()
        .direct_conversation("bob".into())
        .await
        .expect("direct conversation");
    assert_eq!(direct.kind, UTDConversationKind::Direct);
    assert_eq!(direct.peer_identity.as_deref(), Some("bob"));
    assert_eq!(direct.title, None);
    assert_eq!(direct.member_count, 2);
    let again = alice
        .chat
        .clone()
        .direct_conversation("bob".into())
        .await
        .expect("the same one again");
    assert_eq!(again.conversation_id, direct.conversation_id);
    let id = direct.conversation_id.clone();
    let from_bob = bob
        .chat
        .clone()
        .direct_conversation("alice".into())
        .await
        .expect("bob opens it too");
    assert_eq!(from_bob.conversation_id, id);
    assert_eq!(from_bob.peer_identity.as_deref(), Some("alice"));
    alice
        .lists
        .wait("alice lists the conversation", |l| {
            l.conversations.iter().any(|c| c.conversation_id == id)
        })
        .await;

    let a = alice.timeline(&id).await;
    let b = bob.timeline(&id).await;
    assert!(
        a.timeline
            .clone()
            .paginate_backwards(20)
            .await
            .expect("paginate"),
        "an empty conversation starts at its start"
    );
    assert!(a.timeline.snapshot().hit_start);

    // send: the echo is there when send returns, then becomes the engine's
    // message in the same row.
    let echo = a
        .timeline
        .clone()
        .send("hello bob".into(), vec![])
        .await
        .expect("send");
    assert_eq!(echo.seq, None);
    assert!(echo.is_own);
    assert!(
        matches!(
            echo.send_state,
            UTDSendState::Queued | UTDSendState::Sending { .. }
        ),
        "{:?}",
        echo.send_state
    );
    assert!(
        a.timeline
            .snapshot()
            .items
            .iter()
            .any(|i| i.key == echo.key),
        "the echo is in the timeline when send returns"
    );
    let sent = a.wait_sent(&echo.key).await;
    assert_eq!(sent.send_state, UTDSendState::Sent);
    assert_eq!((sent.seq, sent.text.as_str()), (Some(1), "hello bob"));
    let rows_with_key: Vec<usize> = a
        .seen
        .all()
        .iter()
        .skip_while(|s| !s.items.iter().any(|i| i.key == echo.key))
        .map(|s| s.items.iter().filter(|i| i.key == echo.key).count())
        .collect();
    assert!(
        rows_with_key.iter().all(|n| *n == 1),
        "from the echo on, every snapshot has exactly one row of the message: {rows_with_key:?}"
    );

    // bob: the message, an unread count, then read.
    let at_bob = b.wait_sent(&echo.key).await;
    assert!(!at_bob.is_own);
    assert_eq!(at_bob.sender_identity, "alice");
    bob.wait_unread(&id, 1).await;
    // bob's device reports it delivered by itself; read is still to come.
    let delivered = a
        .wait("alice sees it delivered to bob", |s| {
            s.receipts
                .iter()
                .any(|r| r.identity == "bob" && r.last_delivered_seq == 1)
        })
        .await;
    assert!(delivered
        .receipts
        .iter()
        .all(|r| r.identity != "bob" || r.last_read_seq == 0));
    assert_eq!(bob.chat.total_unread(), 1);
    assert_eq!(b.timeline.unread_count(), 1);
    assert_eq!(b.timeline.clone().mark_read().await.expect("read"), 0);
    bob.wait_unread(&id, 0).await;
    a.wait("alice sees bob read it", |s| {
        s.receipts
            .iter()
            .any(|r| r.identity == "bob" && r.last_read_seq == 1)
    })
    .await;

    // A reply, an attachment, an edit and a delete.
    let photo_dir = tempfile::tempdir().expect("dir");
    let bytes: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let photo = file_with(photo_dir.path(), "photo.png", &bytes);
    let reply = b
        .timeline
        .clone()
        .send(
            "here is a photo".into(),
            vec![UTDOutgoingAttachment {
                path: photo.to_string_lossy().into_owned(),
                content_type: "image/png".into(),
                file_name: Some("photo.png".into()),
            }],
        )
        .await
        .expect("send with attachment");
    let got = a.wait_sent(&reply.key).await;
    assert_eq!(got.seq, Some(2));
    assert_eq!(got.attachments.len(), 1);
    let attachment = &got.attachments[0];
    assert_eq!(
        (attachment.size, attachment.content_type.as_str()),
        (20_000, "image/png")
    );
    let upload_id = attachment.upload_id.clone().expect("an upload id");
    let url = alice
        .chat
        .clone()
        .attachment_url(upload_id)
        .await
        .expect("a download URL for a member");
    let downloaded = reqwest::get(&url)
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    assert_eq!(downloaded.as_ref(), bytes.as_slice());

    a.timeline
        .clone()
        .edit(echo.key.clone(), "hello, bob!".into())
        .await
        .expect("edit");
    let edited = b
        .wait("bob sees the edit", |s| {
            s.items
                .iter()
                .any(|i| i.key == echo.key && i.text == "hello, bob!")
        })
        .await;
    assert!(item(&edited, &echo.key).edited_at_ms.is_some());
    assert_eq!(seqs(&edited), [1, 2], "an edit keeps the place");

    a.timeline
        .clone()
        .delete(echo.key.clone())
        .await
        .expect("delete");
    let deleted = b
        .wait("bob sees the tombstone", |s| {
            s.items.iter().any(|i| i.key == echo.key && i.deleted)
        })
        .await;
    let tombstone = item(&deleted, &echo.key);
    assert_eq!((tombstone.text.as_str(), tombstone.seq), ("", Some(1)));
    assert_eq!(seqs(&deleted), [1, 2], "the tombstone stays in place");
    let err = a
        .timeline
        .clone()
        .edit(echo.key.clone(), "too late".into())
        .await
        .expect_err("a tombstone cannot be edited");
    assert_eq!(
        err.code(),
        utd_stream::UTDErrorCode::InvalidState,
        "{err:?}"
    );

    // alice's unread: bob's reply, then read.
    alice.wait_unread(&id, 1).await;
    a.timeline.clone().mark_read().await.expect("read");
    alice.wait_unread(&id, 0).await;
    let list = alice.lists.last().expect("a list");
    assert_eq!(list.total_unread, 0);
    let listed = &list.conversations[0];
    assert_eq!(listed.conversation_id, id);
    assert_eq!(
        listed.last_message.as_ref().map(|m| m.key.clone()),
        Some(reply.key.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_three_with_roles_order_and_pagination() {
    let stack = ChatStack::without_uploads("pro").await;
    let dirs = [store_dir(), store_dir(), store_dir()];
    let alice = stack.device("alice", "a1", dirs[0].path()).await;
    let bob = stack.device("bob", "b1", dirs[1].path()).await;
    let carol = stack.device("carol", "c1", dirs[2].path()).await;
    carol.lists.wait("carol's list read", |l| l.loaded).await;

    let group = alice
        .chat
        .clone()
        .create_group("trio".into(), vec!["bob".into(), "carol".into()])
        .await
        .expect("group");
    assert_eq!(group.kind, UTDConversationKind::Group);
    assert_eq!(group.title.as_deref(), Some("trio"));
    assert_eq!(group.my_role, UTDChatRole::Owner);
    assert_eq!(group.member_count, 3);
    let id = group.conversation_id.clone();

    // carol learns of it by herself (pushed), as a member.
    let at_carol = carol
        .lists
        .wait("carol's list has the group", |l| {
            l.conversations.iter().any(|c| c.conversation_id == id)
        })
        .await;
    let listed = at_carol
        .conversations
        .iter()
        .find(|c| c.conversation_id == id)
        .expect("listed");
    assert_eq!(listed.my_role, UTDChatRole::Member);
    assert_eq!(listed.title.as_deref(), Some("trio"));

    let bob_admin = alice
        .chat
        .clone()
        .set_role(id.clone(), "bob".into(), UTDChatRole::Admin)
        .await
        .expect("bob made admin");
    assert_eq!(bob_admin.role, UTDChatRole::Admin);
    let members = carol
        .chat
        .clone()
        .members(id.clone())
        .await
        .expect("members");
    let mut roles: Vec<(String, UTDChatRole)> =
        members.into_iter().map(|m| (m.identity, m.role)).collect();
    roles.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        roles,
        [
            ("alice".to_owned(), UTDChatRole::Owner),
            ("bob".to_owned(), UTDChatRole::Admin),
            ("carol".to_owned(), UTDChatRole::Member),
        ]
    );
    let err = carol
        .chat
        .clone()
        .rename(id.clone(), "mine".into())
        .await
        .expect_err("a member cannot rename");
    assert!(err.is_forbidden(), "{err:?}");
    let renamed = bob
        .chat
        .clone()
        .rename(id.clone(), "the trio".into())
        .await
        .expect("an admin renames");
    assert_eq!(renamed.title.as_deref(), Some("the trio"));
    carol
        .lists
        .wait("carol sees the new title", |l| {
            l.conversations
                .iter()
                .any(|c| c.conversation_id == id && c.title.as_deref() == Some("the trio"))
        })
        .await;

    // 60 messages from the three; everyone sees one order.
    let a = alice.timeline(&id).await;
    let b = bob.timeline(&id).await;
    let c = carol.timeline(&id).await;
    let senders = [&a, &b, &c];
    let mut keys = Vec::new();
    for n in 0..60 {
        let from = senders[n % 3];
        let echo = from
            .timeline
            .clone()
            .send(format!("m{n}"), vec![])
            .await
            .expect("send");
        // One at a time, so the engine's order is the sending order.
        from.wait_sent(&echo.key).await;
        keys.push(echo.key);
    }
    let expected: Vec<u64> = (1..=60).collect();
    for (who, t) in [("alice", &a), ("bob", &b), ("carol", &c)] {
        let snapshot = t
            .wait(&format!("{who} has all 60"), |s| s.items.len() == 60)
            .await;
        assert_eq!(seqs(&snapshot), expected, "{who}");
        let shown: Vec<&str> = snapshot.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(shown, keys, "{who}: one order for everyone");
    }
    // Sending reads up to one's own message: what came after it is unread
    // (alice sent seq 58, bob 59, carol 60).
    alice.wait_unread(&id, 2).await;
    bob.wait_unread(&id, 1).await;
    carol.wait_unread(&id, 0).await;
    assert_eq!(a.timeline.clone().mark_read().await.expect("read"), 0);
    alice.wait_unread(&id, 0).await;
    for t in [&b, &c] {
        t.wait("alice's read position arrives", |s| {
            s.receipts
                .iter()
                .any(|r| r.identity == "alice" && r.last_read_seq == 60)
        })
        .await;
    }

    // A new device of carol's reads the latest page, then pages back.
    let later_dir = store_dir();
    let carol2 = stack.device("carol", "c2", later_dir.path()).await;
    let fresh = carol2.timeline(&id).await;
    let page = fresh.timeline.snapshot();
    assert!(!page.hit_start, "60 messages are more than the first page");
    assert_eq!(seqs(&page), (11..=60).collect::<Vec<u64>>());
    let mut hit = false;
    for _ in 0..5 {
        hit = fresh
            .timeline
            .clone()
            .paginate_backwards(4)
            .await
            .expect("paginate");
        if hit {
            break;
        }
    }
    assert!(hit, "the start is reached");
    let all = fresh.timeline.snapshot();
    assert!(all.hit_start);
    assert_eq!(seqs(&all), expected, "none missing or doubled");

    // carol leaves: her list drops it, the others' member count follows.
    carol.chat.clone().leave(id.clone()).await.expect("leave");
    assert!(carol
        .chat
        .conversations()
        .conversations
        .iter()
        .all(|c| c.conversation_id != id));
    carol2
        .lists
        .wait("carol's other device drops the group", |l| {
            l.loaded && l.conversations.iter().all(|c| c.conversation_id != id)
        })
        .await;
    alice
        .lists
        .wait("alice sees two members left", |l| {
            l.conversations
                .iter()
                .any(|c| c.conversation_id == id && c.member_count == 2)
        })
        .await;
}
