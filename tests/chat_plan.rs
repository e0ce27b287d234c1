//! Chat on a plan without it (free, signaling): every chat call fails with
//! an error whose `isChatDisabled()` is true, and nothing is shown as
//! loaded.

mod support;

use support::chat::{store_dir, ChatStack, Device};
use utd_stream::UTDStreamError;

fn assert_chat_disabled(what: &str, err: &UTDStreamError) {
    assert!(err.is_chat_disabled(), "{what}: {err:?}");
    assert_eq!(err.capability().as_deref(), Some("chat"), "{what}");
    assert_eq!(err.status_code(), Some(403), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_calls_on_plans_without_chat_fail_as_chat_disabled() {
    let stack = ChatStack::without_uploads("free").await;
    let signaling_app = stack.engine.app("signaling").await;
    let (free_dir, signaling_dir) = (store_dir(), store_dir());
    // The free plan has no signalling either: chat works over REST only.
    let free = Device::open(
        &stack.engine.url(),
        &stack.app,
        "fred",
        "f1",
        free_dir.path(),
        false,
    )
    .await;
    let signaling = Device::open(
        &stack.engine.url(),
        &signaling_app,
        "sam",
        "s1",
        signaling_dir.path(),
        true,
    )
    .await;
    for (plan, device) in [("free", &free), ("signaling", &signaling)] {
        assert_eq!(device.client.chat_enabled(), Some(false), "{plan}");
        let chat = device.chat.clone();
        let err = chat.clone().refresh().await.expect_err("refresh");
        assert_chat_disabled(&format!("{plan}: refresh"), &err);
        let err = chat
            .clone()
            .direct_conversation("someone".into())
            .await
            .expect_err("direct");
        assert_chat_disabled(&format!("{plan}: directConversation"), &err);
        let err = chat
            .clone()
            .create_group("g".into(), vec!["someone".into()])
            .await
            .expect_err("group");
        assert_chat_disabled(&format!("{plan}: createGroup"), &err);
        let err = chat
            .clone()
            .timeline("conv_AAAAAAAAAAAAAAAAAAAAAA".into())
            .await
            .expect_err("timeline");
        assert_chat_disabled(&format!("{plan}: timeline"), &err);
        let err = chat
            .clone()
            .members("conv_AAAAAAAAAAAAAAAAAAAAAA".into())
            .await
            .expect_err("members");
        assert_chat_disabled(&format!("{plan}: members"), &err);
        let list = chat.conversations();
        assert!(!list.loaded && list.conversations.is_empty(), "{plan}");
    }
}
