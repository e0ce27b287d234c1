// Idiomatic Swift concurrency on top of the generated bindings: each
// observable of UTDStreamClient, UTDRoom, UTDAudioRoomSession,
// UTDLiveStreamSession, UTDCallSession and UTDCallController as an AsyncStream. State streams
// (connection state, canPublish, participants, seats, stage, call status,
// ...) give the current value first, then every change; event streams (room
// events, stage requests, call invitations, calls-kit events) give what happens from the
// moment they are made. Ending the iteration (break, task
// cancellation, dropping the stream) cancels the SDK subscription.
//
// A stream does not finish by itself when its session is disposed: the SDK
// just stops delivering. Bound a wait with a timeout, or end it yourself.
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

/// Forwards a yes/no room state (connected, canPublish) into a stream.
final class FlagForwarder: UTDFlagListener {
    let continuation: AsyncStream<Bool>.Continuation

    init(_ continuation: AsyncStream<Bool>.Continuation) {
        self.continuation = continuation
    }

    func onValue(value: Bool) {
        continuation.yield(value)
    }
}

/// Forwards remote-participant lists into a stream.
final class ParticipantsForwarder: UTDParticipantsListener {
    let continuation: AsyncStream<[UTDParticipant]>.Continuation

    init(_ continuation: AsyncStream<[UTDParticipant]>.Continuation) {
        self.continuation = continuation
    }

    func onParticipants(participants: [UTDParticipant]) {
        continuation.yield(participants)
    }
}

/// Forwards room events into a stream.
final class RoomEventForwarder: UTDRoomEventListener {
    let continuation: AsyncStream<UTDRoomEvent>.Continuation

    init(_ continuation: AsyncStream<UTDRoomEvent>.Continuation) {
        self.continuation = continuation
    }

    func onEvent(event: UTDRoomEvent) {
        continuation.yield(event)
    }
}

/// Forwards seat grids into a stream.
final class SeatsForwarder: UTDSeatsListener {
    let continuation: AsyncStream<UTDSeats>.Continuation

    init(_ continuation: AsyncStream<UTDSeats>.Continuation) {
        self.continuation = continuation
    }

    func onSeats(seats: UTDSeats) {
        continuation.yield(seats)
    }
}

/// Forwards stages into a stream.
final class StageForwarder: UTDStageListener {
    let continuation: AsyncStream<UTDStage>.Continuation

    init(_ continuation: AsyncStream<UTDStage>.Continuation) {
        self.continuation = continuation
    }

    func onStage(stage: UTDStage) {
        continuation.yield(stage)
    }
}

/// Forwards raised hands into a stream.
final class StageRequestForwarder: UTDStageRequestListener {
    let continuation: AsyncStream<UTDStageRequest>.Continuation

    init(_ continuation: AsyncStream<UTDStageRequest>.Continuation) {
        self.continuation = continuation
    }

    func onStageRequest(request: UTDStageRequest) {
        continuation.yield(request)
    }
}

extension UTDRoom {
    /// Whether the media room is connected: the current value first, then
    /// each change (`leave()` turns it false, `rejoin()` true again).
    public func connectedUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<Bool> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: Bool.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeConnected(listener: FlagForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Whether the server lets this participant publish: the current value
    /// first, then each permission push (a seat taken or left, a stage
    /// invite or removal).
    ///
    /// ```swift
    /// try await session.takeSeat(index: 1)
    /// for await canPublish in session.room().canPublishUpdates() where canPublish {
    ///     break  // show the microphone button
    /// }
    /// ```
    public func canPublishUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<Bool> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: Bool.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeCanPublish(listener: FlagForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Everyone else in the room, sorted by identity: the current list
    /// first, then the whole list after each change (joins, leaves, grants,
    /// tracks).
    public func remoteParticipantUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<[UTDParticipant]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [UTDParticipant].self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeRemoteParticipants(listener: ParticipantsForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Every room event from now on, in order (participants, tracks,
    /// permission, speakers, data, reconnects); there is no "current" value.
    /// A consumer more than `bufferingNewest` events behind loses the oldest
    /// ones, as the SDK's own listener does past 512.
    ///
    /// ```swift
    /// for await event in room.events() {
    ///     if case .dataReceived(let from, let payload, _) = event { show(payload, from) }
    /// }
    /// ```
    public func events(bufferingNewest limit: Int = 512) -> AsyncStream<UTDRoomEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDRoomEvent.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeEvents(listener: RoomEventForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}

extension UTDAudioRoomSession {
    /// The seat grid: the current one (once known) first, then every newer
    /// one, whoever changed it (versions only go up).
    ///
    /// ```swift
    /// for await seats in session.seatUpdates() {
    ///     render(seats.seats)
    /// }
    /// ```
    public func seatUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<UTDSeats> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDSeats.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeSeats(listener: SeatsForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}

extension UTDLiveStreamSession {
    /// The stage (members, host first, and raised hands): the current one
    /// (once known) first, then every newer one.
    public func stageUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<UTDStage> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDStage.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeStage(listener: StageForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Host: each raised hand from now on, as it happens (hands raised
    /// before the stream was made are in `stageState()?.requests`).
    public func stageRequests(bufferingNewest limit: Int = 64) -> AsyncStream<UTDStageRequest> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDStageRequest.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeStageRequests(listener: StageRequestForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}

/// Forwards a call session's status into a stream.
final class CallStatusForwarder: UTDCallStatusListener {
    let continuation: AsyncStream<UTDCallStatus>.Continuation

    init(_ continuation: AsyncStream<UTDCallStatus>.Continuation) {
        self.continuation = continuation
    }

    func onStatus(status: UTDCallStatus) {
        continuation.yield(status)
    }
}

/// Forwards the engine's call objects into a stream.
final class CallForwarder: UTDCallListener {
    let continuation: AsyncStream<UTDCall>.Continuation

    init(_ continuation: AsyncStream<UTDCall>.Continuation) {
        self.continuation = continuation
    }

    func onCall(call: UTDCall) {
        continuation.yield(call)
    }
}

/// Forwards incoming calls into a stream.
final class CallInvitationForwarder: UTDCallInvitationListener {
    let continuation: AsyncStream<UTDCall>.Continuation

    init(_ continuation: AsyncStream<UTDCall>.Continuation) {
        self.continuation = continuation
    }

    func onInvitation(call: UTDCall) {
        continuation.yield(call)
    }
}

extension UTDStreamClient {
    /// Each incoming call from now on, while signalling is connected
    /// (`connect()`); every connected device of the callee gets it. There is
    /// no "current" value: make the stream before the call can arrive. Answer
    /// with a fresh `callSession(streamType: call.streamType)` and the
    /// invitation's `callId`.
    ///
    /// ```swift
    /// for await call in client.callInvitations() {
    ///     let session = try client.callSession(streamType: call.streamType)
    ///     _ = try await session.ringing(callId: call.callId)
    ///     showIncomingCall(call, session)
    /// }
    /// ```
    public func callInvitations(bufferingNewest limit: Int = 64) -> AsyncStream<UTDCall> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDCall.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeCallInvitations(listener: CallInvitationForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}

extension UTDCallSession {
    /// This device's view of the call status: the current one (once the
    /// session has a call) first, then each change. It only moves forward
    /// and stops changing at a terminal status (`isTerminal()`); a callee
    /// device may end in `answeredElsewhere` or `declinedElsewhere`.
    ///
    /// ```swift
    /// for await status in session.statusUpdates() {
    ///     render(status)
    ///     if status.isTerminal() { break }
    /// }
    /// ```
    public func statusUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<UTDCallStatus> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDCallStatus.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeStatus(listener: CallStatusForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// The engine's call as last seen (who, how, answered by which device,
    /// why it ended): the current one (once the session has a call) first,
    /// then each change.
    public func callUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<UTDCall> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDCall.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeCall(listener: CallForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}

// MARK: - Calls kit: UTDCallController

/// Forwards the calls kit's events into a stream.
final class CallControllerEventForwarder: UTDCallControllerListener {
    let continuation: AsyncStream<UTDCallControllerEvent>.Continuation

    init(_ continuation: AsyncStream<UTDCallControllerEvent>.Continuation) {
        self.continuation = continuation
    }

    func onEvent(event: UTDCallControllerEvent) {
        continuation.yield(event)
    }
}

extension UTDCallController {
    /// The calls kit's events, in order: first an `incomingCall` for each
    /// call ringing now, then every event as it happens (`incomingCall` once
    /// per call however many paths told of it, `callJoined`, `callEnded`
    /// once per call). Make it before `init()` so nothing `init()` finds is
    /// missed. Nothing is dropped however slow the consumer (the events are
    /// few); ending the iteration cancels the SDK subscription.
    ///
    /// ```swift
    /// for await event in controller.events() {
    ///     switch event {
    ///     case .incomingCall(let call): showIncoming(call)
    ///     case .callJoined(_, let session): showCallScreen(session)
    ///     case .callEnded(let callId, let reason): endSystemCall(callId, reason)
    ///     }
    /// }
    /// ```
    public func events() -> AsyncStream<UTDCallControllerEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDCallControllerEvent.self, bufferingPolicy: .unbounded)
        let subscription = observeEvents(listener: CallControllerEventForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}

// MARK: - Media: decoded frames, speakers, connection quality

/// Forwards decoded audio frames into a stream.
final class AudioFrameForwarder: UTDAudioFrameListener {
    let continuation: AsyncStream<UTDAudioFrame>.Continuation

    init(_ continuation: AsyncStream<UTDAudioFrame>.Continuation) {
        self.continuation = continuation
    }

    func onFrame(frame: UTDAudioFrame) {
        continuation.yield(frame)
    }
}

/// Forwards decoded video frames into a stream.
final class VideoFrameForwarder: UTDVideoFrameListener {
    let continuation: AsyncStream<UTDVideoFrame>.Continuation

    init(_ continuation: AsyncStream<UTDVideoFrame>.Continuation) {
        self.continuation = continuation
    }

    func onFrame(frame: UTDVideoFrame) {
        continuation.yield(frame)
    }
}

/// Forwards active-speaker lists into a stream.
final class SpeakersForwarder: UTDSpeakersListener {
    let continuation: AsyncStream<[UTDActiveSpeaker]>.Continuation

    init(_ continuation: AsyncStream<[UTDActiveSpeaker]>.Continuation) {
        self.continuation = continuation
    }

    func onSpeakers(speakers: [UTDActiveSpeaker]) {
        continuation.yield(speakers)
    }
}

/// Forwards connection ratings into a stream.
final class QualitiesForwarder: UTDConnectionQualityListener {
    let continuation: AsyncStream<[UTDParticipantQuality]>.Continuation

    init(_ continuation: AsyncStream<[UTDParticipantQuality]>.Continuation) {
        self.continuation = continuation
    }

    func onQualities(qualities: [UTDParticipantQuality]) {
        continuation.yield(qualities)
    }
}

extension UTDRoom {
    /// Decoded audio (48 kHz mono, 10 ms frames) of `identity`'s microphone.
    /// Throws `notFound` if no such participant is in the room. A consumer
    /// more than `bufferingNewest` frames behind loses the oldest.
    public func remoteAudioFrames(identity: String, bufferingNewest limit: Int = 50) async throws -> AsyncStream<UTDAudioFrame> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDAudioFrame.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = try await observeRemoteAudio(identity: identity, listener: AudioFrameForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Decoded I420 frames of the remote video track `trackSid`; only the
    /// newest frame waits for a slow consumer.
    public func remoteVideoFrames(trackSid: String) async throws -> AsyncStream<UTDVideoFrame> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDVideoFrame.self, bufferingPolicy: .bufferingNewest(1))
        let subscription = try await observeRemoteVideo(trackSid: trackSid, listener: VideoFrameForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Who is speaking, loudest first, with levels: the current list first,
    /// then each change.
    public func activeSpeakerUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<[UTDActiveSpeaker]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [UTDActiveSpeaker].self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeActiveSpeakers(listener: SpeakersForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Every participant's connection rating: the current list first, then each change.
    public func connectionQualityUpdates(bufferingNewest limit: Int = 64) -> AsyncStream<[UTDParticipantQuality]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [UTDParticipantQuality].self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = observeConnectionQualities(listener: QualitiesForwarder(continuation))
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}
