//! Unread counts of one user on two devices: reading on one device lowers
//! the count the other shows (the engine's `chat.unread` to the reader's
//! own connections), per conversation and in the badge total.

mod support;

use support::chat::{store_dir, ChatStack, Device};

/// Waits until `device` shows `direct` and `group` unread there, and
/// `direct + group` in total.
async fn wait_counts(device: &Device, ids: (&str, &str), direct: u64, group: u64) {
    device
        .lists
        .wait(
            &format!("{direct} unread in the direct conversation, {group} in the group"),
            |l| {
                let unread = |id: &str| {
                    l.conversations
                        .iter()
                        .find(|c| c.conversation_id == id)
                        .map(|c| c.unread_count)
                };
                unread(ids.0) == Some(direct)
                    && unread(ids.1) == Some(group)
                    && l.total_unread == direct + group
            },
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_on_one_device_clears_the_count_on_the_other() {
    let stack = ChatStack::without_uploads("pro").await;
    let dirs = [store_dir(), store_dir(), store_dir()];
    let alice = stack.device("alice", "a1", dirs[0].path()).await;
    let phone = stack.device("bob", "bob-phone", dirs[1].path()).await;
    let tablet = stack.device("bob", "bob-tablet", dirs[2].path()).await;
    let direct = alice.direct_with("bob").await;
    let group = alice
        .chat
        .clone()
        .create_group("pair".into(), vec!["bob".into()])
        .await
        .expect("group")
        .conversation_id;
    let ids = (direct.as_str(), group.as_str());
    let to_direct = alice.timeline(&direct).await;
    let to_group = alice.timeline(&group).await;
    for n in 0..3 {
        to_direct
            .timeline
            .clone()
            .send(format!("d{n}"), vec![])
            .await
            .expect("send");
    }
    for n in 0..2 {
        to_group
            .timeline
            .clone()
            .send(format!("g{n}"), vec![])
            .await
            .expect("send");
    }
    wait_counts(&phone, ids, 3, 2).await;
    wait_counts(&tablet, ids, 3, 2).await;
    let order = |d: &Device| -> Vec<String> {
        d.chat
            .conversations()
            .conversations
            .into_iter()
            .map(|c| c.conversation_id)
            .collect()
    };

    // Read on the phone: the tablet's count drops without it reading.
    let on_phone = phone.timeline(&direct).await;
    on_phone
        .wait("the phone has the three", |s| s.items.len() == 3)
        .await;
    assert_eq!(
        on_phone.timeline.clone().mark_read().await.expect("read"),
        0
    );
    wait_counts(&phone, ids, 0, 2).await;
    wait_counts(&tablet, ids, 0, 2).await;
    assert_eq!(tablet.chat.total_unread(), 2);

    // And the other way round, in the group.
    let on_tablet = tablet.timeline(&group).await;
    on_tablet
        .wait("the tablet has the two", |s| s.items.len() == 2)
        .await;
    on_tablet.timeline.clone().mark_read().await.expect("read");
    wait_counts(&tablet, ids, 0, 0).await;
    wait_counts(&phone, ids, 0, 0).await;

    // New messages count again on both, from where the reads left them.
    to_direct
        .timeline
        .clone()
        .send("d3".into(), vec![])
        .await
        .expect("send");
    wait_counts(&phone, ids, 1, 0).await;
    wait_counts(&tablet, ids, 1, 0).await;
    assert_eq!(
        order(&tablet),
        [direct.clone(), group.clone()],
        "the newest activity first"
    );
    // alice's own messages never count for her.
    wait_counts(&alice, ids, 0, 0).await;
}
