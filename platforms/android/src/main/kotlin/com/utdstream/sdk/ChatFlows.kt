// Idiomatic Kotlin on top of the generated chat bindings: the observables of
// UTDChat (the conversation list) and UTDTimeline (snapshots, typers) as cold
// Flows, in the style of Flows.kt. Each is a state: collecting subscribes and
// gives the current value first, then every change; a collector more than 64
// values behind skips to the newest ones (each value is whole, so the newest
// is all a UI needs). Cancelling the collector cancels the SDK subscription.
// Listeners run on SDK threads: trySend never blocks them. None of these
// flows completes by itself when the client is disposed: bound a wait with
// withTimeout or cancel the collector.
package com.utdstream.sdk

import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/**
 * The signed-in user's conversations, newest activity first, with the badge
 * total (`totalUnread`): the current list first (`loaded` false until the
 * engine was read once), then the whole list after each change (a message,
 * a read position, a conversation created, renamed, joined or left).
 *
 * ```
 * chat.conversationsFlow().collect { list -> render(list.conversations); setBadge(list.totalUnread) }
 * ```
 */
fun UTDChat.conversationsFlow(): Flow<UTDConversationList> = callbackFlow {
    val subscription = observeConversations(object : UTDConversationListListener {
        override fun onConversations(list: UTDConversationList) {
            trySend(list)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * What the timeline shows: the current snapshot first, then one per change
 * (messages loaded, received, edited or deleted, this device's messages on
 * their way, other members' read positions in `receipts`). Rows keep their
 * `key` from the local echo to the engine's message, so a list keyed by it
 * (Compose `key`, DiffUtil) updates a sent message in place.
 *
 * ```
 * timeline.snapshotsFlow().collect { snapshot -> adapter.submitList(snapshot.items) }
 * val echo = timeline.send("hi")
 * timeline.snapshotsFlow().first { s -> s.items.any { it.key == echo.key && it.sendState is UTDSendState.Sent } }
 * ```
 */
fun UTDTimeline.snapshotsFlow(): Flow<UTDTimelineSnapshot> = callbackFlow {
    val subscription = observe(object : UTDTimelineListener {
        override fun onTimeline(snapshot: UTDTimelineSnapshot) {
            trySend(snapshot)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * The other members typing in this conversation now, sorted by identity
 * (never this user): the current list first, then each change (a start, a
 * stop, a message sent, the engine's 5 s expiry). Empty while signalling is
 * not connected.
 *
 * ```
 * timeline.typersFlow().collect { typers -> showTyping(typers) }
 * ```
 */
fun UTDTimeline.typersFlow(): Flow<List<String>> = callbackFlow {
    val subscription = observeTypers(object : UTDTypersListener {
        override fun onTypers(typers: List<String>) {
            trySend(typers)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)
