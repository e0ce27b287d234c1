// Idiomatic Swift concurrency on top of the generated chat bindings: the
// observables of UTDChat (the conversation list) and UTDTimeline (snapshots,
// typers) as AsyncStreams, in the style of AsyncStreams.swift. Each is a
// state: the current value first, then every change; a consumer more than
// `bufferingNewest` values behind skips to the newest ones (each value is
// whole, so the newest is all a UI needs). Ending the iteration (break, task
// cancellation, dropping the stream) cancels the SDK subscription.
//
// A stream does not finish by itself when its client is disposed: the SDK
// just stops delivering. Bound a wait with a timeout, or end it yourself.
//
// This file is hand-written and lives next to the generated UTDStream.swift
// (scripts/bindings.sh copies that one in; it never touches this one).

/// Forwards conversation lists from the SDK's callback thread into a
/// stream. Sendable under Swift 6 strict concurrency: its only state is a
/// `let` continuation, which is itself Sendable.
final class ConversationListForwarder: UTDConversationListListener {
    let continuation: AsyncStream<UTDConversationList>.Continuation

    init(_ continuation: AsyncStream<UTDConversationList>.Continuation) {
        self.continuation = continuation
    }

    func onConversations(list: UTDConversationList) {
        continuation.yield(list)
    }
}

/// Forwards timeline snapshots into a stream (only a `let` continuation).
final class TimelineSnapshotForwarder: UTDTimelineListener {
    let continuation: AsyncStream<UTDTimelineSnapshot>.Continuation

    init(_ continuation: AsyncStream<UTDTimelineSnapshot>.Continuation) {
        self.continuation = continuation
    }

    func onTimeline(snapshot: UTDTimelineSnapshot) {
        continuation.yield(snapshot)
    }
}

/// Forwards who types into a stream (only a `let` continuation).
final class TypersForwarder: UTDTypersListener {
    let continuation: AsyncStream<[String]>.Continuation

    init(_ continuation: AsyncStream<[String]>.Continuation) {
        self.continuation = continuation
    }

    func onTypers(typers: [String]) {
        continuation.yield(typers)
    }
}

extension UTDChat {
    /// The signed-in user's conversations, newest activity first, with the
    /// badge total (`totalUnread`): the current list first (`loaded` false
    /// until the engine was read once), then the whole list after each
    /// change (a message, a read position, a conversation created, renamed,
    /// joined or left).
    ///
    /// ```swift
    /// for await list in chat.conversationUpdates() {
    ///     render(list.conversations)
    ///     setBadge(list.totalUnread)
    /// }
    /// ```
    public func conversationUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<UTDConversationList> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDConversationList.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeConversations(listener: ConversationListForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}

extension UTDTimeline {
    /// What the timeline shows: the current snapshot first, then one per
    /// change (messages loaded, received, edited or deleted, this device's
    /// messages on their way, other members' read positions in `receipts`).
    /// Rows keep their `key` from the local echo to the engine's message,
    /// so a SwiftUI `List` identified by it updates a sent message in place.
    ///
    /// ```swift
    /// let echo = try await timeline.send(text: "hi", attachments: [])
    /// for await snapshot in timeline.snapshotUpdates() {
    ///     render(snapshot.items)
    ///     if snapshot.items.contains(where: { $0.key == echo.key && $0.sendState == .sent }) { break }
    /// }
    /// ```
    public func snapshotUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<UTDTimelineSnapshot> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDTimelineSnapshot.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observe(listener: TimelineSnapshotForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// The other members typing in this conversation now, sorted by
    /// identity (never this user): the current list first, then each change
    /// (a start, a stop, a message sent, the engine's 5 s expiry). Empty
    /// while signalling is not connected.
    ///
    /// ```swift
    /// for await typers in timeline.typerUpdates() { showTyping(typers) }
    /// ```
    public func typerUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<[String]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [String].self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeTypers(listener: TypersForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}
