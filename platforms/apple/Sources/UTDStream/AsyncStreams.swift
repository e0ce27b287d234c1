// Idiomatic Swift concurrency on top of the generated bindings: each
// observable of UTDStreamClient as an AsyncStream. Iterating gets the current
// value first, then every change; ending the iteration (break, task
// cancellation, dropping the stream) cancels the SDK subscription.
//
// This file is hand-written and lives next to the generated UTDStream.swift
// (scripts/bindings.sh copies that one in; it never touches this one).

/// Forwards connection states from the SDK's callback thread into a stream.
/// Sendable under Swift 6 strict concurrency: its only state is a `let`
/// continuation, which is itself Sendable.
final class ConnectionStateForwarder: UTDConnectionStateListener {
    let continuation: AsyncStream<UTDConnectionState>.Continuation

    init(_ continuation: AsyncStream<UTDConnectionState>.Continuation) {
        self.continuation = continuation
    }

    func onConnectionState(state: UTDConnectionState) {
        continuation.yield(state)
    }
}

/// Forwards capability updates into a stream.
final class CapabilitiesForwarder: UTDCapabilitiesListener {
    let continuation: AsyncStream<UTDCapabilities>.Continuation

    init(_ continuation: AsyncStream<UTDCapabilities>.Continuation) {
        self.continuation = continuation
    }

    func onCapabilities(capabilities: UTDCapabilities) {
        continuation.yield(capabilities)
    }
}

/// Forwards presence snapshots into a stream.
final class PresenceForwarder: UTDPresenceListener {
    let continuation: AsyncStream<[UTDPresence]>.Continuation

    init(_ continuation: AsyncStream<[UTDPresence]>.Continuation) {
        self.continuation = continuation
    }

    func onPresence(presence: [UTDPresence]) {
        continuation.yield(presence)
    }
}

extension UTDStreamClient {
    /// The signalling connection state: the current value first, then each
    /// change. A slow consumer sees the newest `bufferingNewest` states.
    ///
    /// ```swift
    /// for await state in client.connectionStates() {
    ///     if case .connected = state { break }
    /// }
    /// ```
    public func connectionStates(bufferingNewest limit: Int = 64) -> AsyncStream<UTDConnectionState> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDConnectionState.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeConnectionState(listener: ConnectionStateForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// The plan capabilities (flags and limits; nil fields mean the engine
    /// did not say): the current value first, then each refresh.
    public func capabilityUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<UTDCapabilities> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDCapabilities.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeCapabilities(listener: CapabilitiesForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Presence of the watched identities, a full snapshot each time: the
    /// current snapshot first, then each change.
    public func presenceUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<[UTDPresence]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [UTDPresence].self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observePresence(listener: PresenceForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}
