// The CallKit / PushKit decisions of the calls kit, with no Apple framework:
// VoIP pushes, the controller's events (WebSocket, reconcile) and the OS call
// UI's actions in; reports to the OS call UI out. CallKitProvider.swift and
// PushKitRegistry.swift connect it to CallKit and PushKit on Apple platforms.
//
// Every path that tells of a call can race the others, so each step is
// idempotent per call id: a call is reported once (every VoIP push still
// reaches the provider, as iOS demands), ends once with the first reason,
// and an end the user made in the OS UI is never reported back to it.
import Foundation
import UTDStream

/// The calls kit wired to the OS call UI and VoIP pushes. One per signed-in
/// user; build it at launch, before PushKit can deliver a push.
public final class UTDCallKit: @unchecked Sendable {
    /// The core's call controller (presence, timings, the client).
    public let controller: UTDCallController
    private let provider: any UTDCallProviding
    private let registry: (any UTDVoIPPushRegistering)?
    private let hub = UTDCallKitEventHub()
    private let lock = NSLock()
    private var calls: [String: CallRecord] = [:]
    private var callIds: [UUID: String] = [:]
    private var outgoing: [UUID: OutgoingRequest] = [:]
    private var started = false
    private var pendingToken: String?
    private var subscription: UTDSubscription?

    /// The bridge over `controller`, reporting to `provider`, with VoIP
    /// pushes from `registry` (nil: the host manages the registry). Does no
    /// I/O: call `start()` once signed in.
    public init(
        controller: UTDCallController, provider: any UTDCallProviding,
        registry: (any UTDVoIPPushRegistering)? = nil
    ) {
        self.controller = controller
        self.provider = provider
        self.registry = registry
        // CallKit activates the audio session; until it does, calls join
        // without the microphone (see setAudioSessionActive).
        controller.setAudioSessionActive(active: false)
        subscription = controller.observeEvents(listener: ControllerEvents(self))
        provider.connect(to: self)
        registry?.connect(to: self)
    }

    deinit { subscription?.cancel() }

    /// The bridge's events from now on (make the stream before `start()`
    /// so nothing it finds is missed); ending the iteration removes it.
    public func events() -> AsyncStream<UTDCallKitEvent> { hub.stream() }

    /// Enables VoIP pushes, signs in and connects (the controller's
    /// `init()`), and registers a VoIP token PushKit handed over earlier.
    public func start() async throws {
        registry?.setVoIPPushesEnabled(true)
        try await controller.`init`()
        let token: String? = lock.withLock {
            started = true
            defer { pendingToken = nil }
            return pendingToken
        }
        if let token { await register(token) }
    }

    /// The UUID the OS call UI knows `callId` by.
    public func uuid(forCall callId: String) -> UUID? {
        lock.withLock { calls[callId]?.uuid }
    }

    /// The call id of the OS call `uuid`.
    public func callId(for uuid: UUID) -> String? {
        lock.withLock { callIds[uuid] }
    }

    // MARK: - PushKit

    /// A VoIP push (`PKPushPayload.dictionaryPayload`). Reports the call to
    /// the OS before returning, calls `completion` inside the report's
    /// completion, then asks the engine where the call stands.
    public func handleVoIPPush(payload: [AnyHashable: Any], completion: @escaping () -> Void) {
        let json = JSONSerialization.isValidJSONObject(payload)
            ? (try? JSONSerialization.data(withJSONObject: payload)).flatMap { String(data: $0, encoding: .utf8) }
            : nil
        handleVoIPPush(json: json ?? "", completion: completion)
    }

    /// The same for the payload as JSON.
    public func handleVoIPPush(json: String, completion: @escaping () -> Void) {
        let done = Once(completion)
        let action: UTDPushAction
        do {
            action = try controller.handleCallPush(json: json)
        } catch {
            // iOS stops launching an app for VoIP pushes it did not report:
            // report a call and end it at once.
            let uuid = UUID()
            provider.reportNewIncomingCall(with: uuid, update: .unusablePush) { [provider] _ in
                provider.reportCall(with: uuid, endedAt: nil, reason: .failed)
                done.call()
            }
            hub.emit(.pushRejected(error))
            return
        }
        switch action {
        case .reportIncoming(let call):
            report(call, push: done)
        case .reportEnded(let callId, let uuidString, let reason):
            let uuid = UUID(uuidString: uuidString) ?? UUID()
            let update = lock.withLock { calls[callId]?.call.map(UTDSystemCallUpdate.init) } ?? .unusablePush
            provider.reportNewIncomingCall(with: uuid, update: update) { [provider] _ in
                provider.reportCall(with: uuid, endedAt: nil, reason: UTDSystemCallEndedReason(reason))
                done.call()
            }
            finish(callId, uuid: uuid, reason: reason, tellSystem: false)
        }
    }

    /// PushKit handed over a (new) VoIP token: registered with the engine
    /// (at once when started, else by `start()`).
    public func voipTokenUpdated(_ token: Data) {
        let hex = token.map { String(format: "%02x", $0) }.joined()
        let now: Bool = lock.withLock {
            if !started { pendingToken = hex }
            return started
        }
        if now { Task { await register(hex) } }
    }

    /// PushKit invalidated the VoIP token: this device's tokens are
    /// unregistered from the engine.
    public func voipTokenInvalidated() {
        Task { await unregisterTokens() }
    }

    /// Signing out: VoIP pushes stop and this device's tokens are
    /// unregistered, so calls no longer ring it.
    public func signOut() async {
        registry?.setVoIPPushesEnabled(false)
        await unregisterTokens()
    }

    // MARK: - The OS call UI's actions (CXProviderDelegate)

    /// The user answered `uuid` in the OS UI. `completion(true)`: fulfil the
    /// answer action (this device is in the call); false: fail it (the call
    /// was over, or joining failed, and the OS call is ended with why).
    public func answerCall(_ uuid: UUID, completion: @escaping (Bool) -> Void) {
        let done = OnceResult(completion)
        let callId: String? = lock.withLock {
            guard let callId = callIds[uuid], calls[callId]?.ended == nil else { return nil }
            calls[callId]?.local = .answered
            return callId
        }
        guard let callId else { return done.call(false) }
        startInBackground()
        Task {
            do {
                switch try await controller.acceptIncoming(callId: callId) {
                case .joined:
                    done.call(lock.withLock { calls[callId]?.ended == nil })
                case .over(let reason):
                    done.call(false)
                    finish(callId, uuid: uuid, reason: reason, tellSystem: true)
                }
            } catch {
                done.call(false)
                finish(callId, uuid: uuid, reason: .failed(message: "\(error)"), tellSystem: true)
            }
        }
    }

    /// The user ended or declined `uuid` in the OS UI. Always fulfilled at
    /// once: the hang-up or decline is kept by the controller until carried out.
    public func endCall(_ uuid: UUID, completion: @escaping (Bool) -> Void) {
        let found: (callId: String, record: CallRecord)? = lock.withLock {
            guard let callId = callIds[uuid], var record = calls[callId] else { return nil }
            let before = record
            record.local = .ended
            calls[callId] = record
            return (callId, before)
        }
        completion(true)
        guard let (callId, record) = found, record.ended == nil else { return }
        let reason: UTDCallEndReason
        if record.outgoing {
            reason = record.joined ? .hangupCaller : .cancelled
        } else {
            reason = record.joined ? .hangupCallee : .rejected
        }
        finish(callId, uuid: uuid, reason: reason, tellSystem: false)
        let inCall = record.outgoing || record.joined
        Task { [controller] in
            do {
                if inCall {
                    try await controller.end()
                } else {
                    startInBackground()
                    try await controller.reject(callId: callId)
                }
            } catch {
                // The controller keeps a decline until carried out; a failed
                // hang-up leaves the engine to end the call on the room closing.
            }
        }
    }

    /// The user muted or unmuted `uuid` in the OS UI.
    public func setMuted(_ uuid: UUID, muted: Bool, completion: @escaping (Bool) -> Void) {
        let done = OnceResult(completion)
        let inCall = lock.withLock { callIds[uuid].flatMap { calls[$0] }?.joined ?? false }
        guard inCall, let session = controller.currentCall() else { return done.call(false) }
        Task {
            do {
                try await session.room().setMicrophone(enabled: !muted)
                done.call(true)
            } catch {
                done.call(false)
            }
        }
    }

    /// The OS activated the call's audio session
    /// (`provider(_:didActivate:)`): the microphone goes on.
    public func audioSessionDidActivate() {
        controller.setAudioSessionActive(active: true)
        hub.emit(.audioSessionActivated)
    }

    /// The OS deactivated it (`provider(_:didDeactivate:)`): the microphone
    /// goes off until the next activation.
    public func audioSessionDidDeactivate() {
        controller.setAudioSessionActive(active: false)
        hub.emit(.audioSessionDeactivated)
    }

    /// The OS dropped every call (`providerDidReset`): each is ended here
    /// and on the engine.
    public func providerDidReset() {
        let uuids = lock.withLock { calls.values.filter { $0.ended == nil }.map(\.uuid) }
        for uuid in uuids { endCall(uuid) { _ in } }
        controller.setAudioSessionActive(active: false)
    }

    // MARK: - Outgoing calls

    /// Calls `callee` through the OS call UI: returns once this device is in
    /// the call room (the OS then activates the audio session).
    public func startCall(
        callee: String, calleeName: String? = nil, streamType: UTDStreamType = .audioCall
    ) async throws -> UTDCallSession {
        let uuid = UUID()
        let update = UTDSystemCallUpdate(
            displayName: calleeName ?? callee, handle: callee, hasVideo: streamType == .videoCall)
        return try await withCheckedThrowingContinuation { continuation in
            lock.withLock {
                outgoing[uuid] = OutgoingRequest(
                    callee: callee, calleeName: calleeName, streamType: streamType, continuation: continuation)
            }
            Task {
                do {
                    try await provider.requestStartCall(with: uuid, update: update)
                } catch {
                    let request = lock.withLock { outgoing.removeValue(forKey: uuid) }
                    request?.continuation.resume(throwing: error)
                }
            }
        }
    }

    /// The OS asks to carry out the outgoing call `uuid`
    /// (`provider(_:perform: CXStartCallAction)`). `completion(true)`:
    /// fulfil the action.
    public func performStartCall(_ uuid: UUID, completion: @escaping (Bool) -> Void) {
        let done = OnceResult(completion)
        guard let request = lock.withLock({ outgoing.removeValue(forKey: uuid) }) else {
            return done.call(false)
        }
        Task {
            do {
                let session = try await controller.startCall(
                    callee: request.callee, calleeName: request.calleeName, streamType: request.streamType)
                let callId = session.callId() ?? uuid.uuidString
                lock.withLock {
                    var record = calls[callId] ?? CallRecord(uuid: uuid)
                    record.outgoing = true
                    record.report = .shown
                    record.joined = true
                    calls[callId] = record
                    callIds[uuid] = callId
                }
                done.call(true)
                request.continuation.resume(returning: session)
                watchAnswer(session, uuid: uuid)
            } catch {
                done.call(false)
                request.continuation.resume(throwing: error)
            }
        }
    }

    // MARK: - Reports

    /// Reports `call` to the OS once; a push reaches the provider every time
    /// (with `push` called in the report's completion).
    private func report(_ call: UTDIncomingCall, push: Once?) {
        let uuid = UUID(uuidString: call.callKitUuid) ?? UUID()
        let decision: ReportDecision = lock.withLock {
            var record = calls[call.callId] ?? CallRecord(uuid: uuid)
            if record.call == nil { record.call = call }
            callIds[record.uuid] = call.callId
            defer { calls[call.callId] = record }
            if let reason = record.ended {
                return push == nil ? .nothing : .reportEnded(reason)
            }
            if record.report == .none {
                record.report = .pending
                return .report
            }
            return push == nil ? .nothing : .reportAgain
        }
        let update = UTDSystemCallUpdate(call)
        switch decision {
        case .nothing:
            return
        case .reportAgain:
            // Already shown: the OS answers callUUIDAlreadyExists, and the
            // push counts as reported.
            provider.reportNewIncomingCall(with: uuid, update: update) { _ in push?.call() }
        case .reportEnded(let reason):
            provider.reportNewIncomingCall(with: uuid, update: update) { [provider] _ in
                provider.reportCall(with: uuid, endedAt: nil, reason: UTDSystemCallEndedReason(reason))
                push?.call()
            }
        case .report:
            provider.reportNewIncomingCall(with: uuid, update: update) { [self] error in
                reported(call.callId, uuid: uuid, error: error)
                push?.call()
                if push != nil { reconcile(call.callId, uuid: uuid) }
            }
        }
    }

    /// The OS answered a first report.
    private func reported(_ callId: String, uuid: UUID, error: UTDCallReportError?) {
        let shown = error == nil || error == .callUUIDAlreadyExists
        let endedMeanwhile: UTDCallEndReason? = lock.withLock {
            calls[callId]?.report = shown ? .shown : .refused
            return calls[callId]?.ended
        }
        if shown {
            controller.markReported(callId: callId)
            hub.emit(.incomingCallReported(callId: callId, uuid: uuid))
            // It ended while the OS was showing it: end it now.
            if let reason = endedMeanwhile, lock.withLock({ calls[callId]?.local }) != .ended {
                provider.reportCall(with: uuid, endedAt: Date(), reason: UTDSystemCallEndedReason(reason))
            }
        } else if let error {
            hub.emit(.incomingCallRefused(callId: callId, error: error))
        }
    }

    /// Asks the engine where a pushed call stands; an ended one is ended.
    private func reconcile(_ callId: String, uuid: UUID) {
        Task {
            guard let result = try? await controller.reconcile(callId: callId) else {
                // Still shown: the WebSocket or the ring deadline ends it.
                return
            }
            if case .over(let reason) = result {
                finish(callId, uuid: uuid, reason: reason, tellSystem: true)
            }
        }
    }

    /// `callId` is over here: reported to the OS (unless the user ended it
    /// there, or the first report is still pending: `reported` ends it).
    private func finish(_ callId: String, uuid: UUID, reason: UTDCallEndReason, tellSystem: Bool) {
        let tell: Bool? = lock.withLock {
            var record = calls[callId] ?? CallRecord(uuid: uuid)
            callIds[record.uuid] = callId
            defer { calls[callId] = record }
            guard record.ended == nil else { return nil }
            record.ended = reason
            return tellSystem && record.local != .ended && record.report == .shown
        }
        guard let tell else { return }
        if tell {
            provider.reportCall(with: uuid, endedAt: Date(), reason: UTDSystemCallEndedReason(reason))
        }
        hub.emit(.callEnded(callId: callId, reason: reason))
    }

    /// An outgoing call connected when the callee answers.
    private func watchAnswer(_ session: UTDCallSession, uuid: UUID) {
        Task { [provider] in
            for await status in session.statusUpdates() {
                if status == .active {
                    provider.reportOutgoingCall(with: uuid, connectedAt: Date())
                    return
                }
                if status.isTerminal() { return }
            }
        }
    }

    // MARK: - From the controller

    fileprivate func onControllerEvent(_ event: UTDCallControllerEvent) {
        switch event {
        case .incomingCall(let call):
            // A pushed call is reported by the push's own path (its PushKit
            // completion must run inside that report's completion).
            if call.source != .push { report(call, push: nil) }
        case .callJoined(let callId, let session):
            lock.withLock { calls[callId]?.joined = true }
            hub.emit(.callJoined(callId: callId, session: session))
        case .callEnded(let callId, let reason):
            guard let callId, let uuid = uuid(forCall: callId) else { return }
            finish(callId, uuid: uuid, reason: reason, tellSystem: true)
        }
    }

    // MARK: - Helpers

    private func startInBackground() {
        guard !lock.withLock({ started }) else { return }
        Task { try? await start() }
    }

    private func register(_ token: String) async {
        do {
            try await controller.registerPushToken(platform: .apnsVoip, token: token)
            hub.emit(.pushTokenRegistered)
        } catch {
            hub.emit(.pushTokenFailed(error))
        }
    }

    private func unregisterTokens() async {
        do {
            try await controller.unregisterPush()
        } catch {
            hub.emit(.pushTokenFailed(error))
        }
    }
}

/// What this device knows of one call.
private struct CallRecord {
    let uuid: UUID
    var call: UTDIncomingCall?
    var report = ReportState.none
    var local = LocalAction.none
    var outgoing = false
    var joined = false
    /// Set once: the first reason it ended for.
    var ended: UTDCallEndReason?

    init(uuid: UUID) { self.uuid = uuid }
}

private enum ReportState { case none, pending, shown, refused }

/// What the user did to the call in the OS UI.
private enum LocalAction { case none, answered, ended }

private enum ReportDecision {
    case nothing, report, reportAgain
    case reportEnded(UTDCallEndReason)
}

/// An outgoing call between `startCall` and the OS's start action.
private struct OutgoingRequest {
    let callee: String
    let calleeName: String?
    let streamType: UTDStreamType
    let continuation: CheckedContinuation<UTDCallSession, any Error>
}

/// Forwards the controller's events (on a core thread) to the bridge.
private final class ControllerEvents: UTDCallControllerListener, @unchecked Sendable {
    private weak var bridge: UTDCallKit?

    init(_ bridge: UTDCallKit) { self.bridge = bridge }

    func onEvent(event: UTDCallControllerEvent) { bridge?.onControllerEvent(event) }
}

/// A completion handler of the OS, called at most once from any task.
private final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var body: (() -> Void)?

    init(_ body: @escaping () -> Void) { self.body = body }

    func call() {
        let body = lock.withLock {
            defer { self.body = nil }
            return self.body
        }
        body?()
    }
}

/// An action's completion (fulfil or fail), called at most once.
private final class OnceResult: @unchecked Sendable {
    private let lock = NSLock()
    private var body: ((Bool) -> Void)?

    init(_ body: @escaping (Bool) -> Void) { self.body = body }

    func call(_ ok: Bool) {
        let body = lock.withLock {
            defer { self.body = nil }
            return self.body
        }
        body?(ok)
    }
}
