// Fakes of the OS parts UTDCallKit drives, behaving as CallKit and PushKit
// do where the bridge depends on it: a second report of a UUID the provider
// shows is refused with callUUIDAlreadyExists, a report's completion comes
// later on another queue, an ended call is no longer shown, and a started
// outgoing call comes back as a start action to perform. Everything the
// bridge told them is kept in order, with what was happening at the time.
import Foundation
import UTDStream
import UTDStreamCallKit
import XCTest

/// One thing the bridge told the fake provider (or the fake told the test).
enum ProviderEntry: Equatable, Sendable {
    case reported(UUID, UTDSystemCallUpdate)
    /// The OS's answer to a report, given inside its completion.
    case reportAnswered(UUID, UTDCallReportError?)
    /// The PushKit completion ran (from inside which report completion, if any).
    case pushCompleted(insideReportOf: UUID?)
    case ended(UUID, UTDSystemCallEndedReason)
    case startRequested(UUID, UTDSystemCallUpdate)
    case outgoingConnected(UUID)
    case actionFulfilled(String, UUID)
    case actionFailed(String, UUID)
}

final class FakeCallProvider: UTDCallProviding, @unchecked Sendable {
    private let lock = NSLock()
    private var log: [ProviderEntry] = []
    private var shown: Set<UUID> = []
    private var insideCompletionOf: UUID?
    private let answers = DispatchQueue(label: "fake-callkit-answers")
    /// Refuse every new report with this error (Do Not Disturb, ...).
    var refuseWith: UTDCallReportError?
    /// Where start actions go (CallKit's delegate).
    private(set) weak var bridge: UTDCallKit?

    func connect(to bridge: UTDCallKit) { self.bridge = bridge }

    var entries: [ProviderEntry] {
        lock.lock()
        defer { lock.unlock() }
        return log
    }

    var shownCalls: Set<UUID> {
        lock.lock()
        defer { lock.unlock() }
        return shown
    }

    func record(_ entry: ProviderEntry) {
        lock.lock()
        log.append(entry)
        lock.unlock()
    }

    /// Whether a report of `uuid` was made (synchronously, for the push path).
    func reportCount(_ uuid: UUID) -> Int {
        entries.filter { if case .reported(uuid, _) = $0 { return true } else { return false } }.count
    }

    /// The reasons `uuid` was ended with, in order.
    func endings(_ uuid: UUID) -> [UTDSystemCallEndedReason] {
        entries.compactMap { if case .ended(uuid, let reason) = $0 { return reason } else { return nil } }
    }

    /// The PushKit completion the test passes: records where it ran.
    func pushCompletion() -> () -> Void {
        { [self] in
            lock.lock()
            let inside = insideCompletionOf
            lock.unlock()
            record(.pushCompleted(insideReportOf: inside))
        }
    }

    func reportNewIncomingCall(
        with uuid: UUID, update: UTDSystemCallUpdate,
        completion: @escaping @Sendable (UTDCallReportError?) -> Void
    ) {
        lock.lock()
        log.append(.reported(uuid, update))
        let error: UTDCallReportError?
        if shown.contains(uuid) {
            error = .callUUIDAlreadyExists
        } else if let refuseWith {
            error = refuseWith
        } else {
            error = nil
            shown.insert(uuid)
        }
        lock.unlock()
        // CallKit answers later, on its own (serial) queue.
        answers.asyncAfter(deadline: .now() + .milliseconds(30)) { [self] in
            record(.reportAnswered(uuid, error))
            lock.lock()
            insideCompletionOf = uuid
            lock.unlock()
            completion(error)
            lock.lock()
            insideCompletionOf = nil
            lock.unlock()
        }
    }

    func reportCall(with uuid: UUID, endedAt date: Date?, reason: UTDSystemCallEndedReason) {
        lock.lock()
        log.append(.ended(uuid, reason))
        shown.remove(uuid)
        lock.unlock()
    }

    func requestStartCall(with uuid: UUID, update: UTDSystemCallUpdate) async throws {
        lock.withLock {
            log.append(.startRequested(uuid, update))
            _ = shown.insert(uuid)
        }
        // CallKit asks the delegate to perform the start, then activates the
        // audio session once the action is fulfilled.
        DispatchQueue.global().async { [self] in
            bridge?.performStartCall(uuid) { [self] ok in
                record(ok ? .actionFulfilled("start", uuid) : .actionFailed("start", uuid))
                if ok { bridge?.audioSessionDidActivate() }
            }
        }
    }

    func reportOutgoingCall(with uuid: UUID, connectedAt date: Date?) {
        record(.outgoingConnected(uuid))
    }

    // MARK: The user, in the OS call UI

    /// Taps Answer; returns whether the answer action was fulfilled.
    func answer(_ uuid: UUID, on bridge: UTDCallKit) async -> Bool {
        let ok = await withCheckedContinuation { continuation in
            bridge.answerCall(uuid) { continuation.resume(returning: $0) }
        }
        record(ok ? .actionFulfilled("answer", uuid) : .actionFailed("answer", uuid))
        if ok { shownActive(uuid) }
        return ok
    }

    /// Taps End (or Decline).
    func end(_ uuid: UUID, on bridge: UTDCallKit) async {
        let ok = await withCheckedContinuation { continuation in
            bridge.endCall(uuid) { continuation.resume(returning: $0) }
        }
        record(ok ? .actionFulfilled("end", uuid) : .actionFailed("end", uuid))
        _ = lock.withLock { shown.remove(uuid) }
    }

    private func shownActive(_ uuid: UUID) {
        lock.lock()
        shown.insert(uuid)
        lock.unlock()
    }
}

final class FakeVoIPRegistry: UTDVoIPPushRegistering, @unchecked Sendable {
    private let lock = NSLock()
    private var states: [Bool] = []
    private(set) weak var bridge: UTDCallKit?

    func connect(to bridge: UTDCallKit) { self.bridge = bridge }

    /// Every enable (true) / disable (false), in order.
    var enabled: [Bool] {
        lock.lock()
        defer { lock.unlock() }
        return states
    }

    func setVoIPPushesEnabled(_ enabled: Bool) {
        lock.lock()
        states.append(enabled)
        lock.unlock()
    }
}

/// Every bridge event so far, read from its stream until `stop()`.
final class BridgeEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [UTDCallKitEvent] = []
    private var reader: Task<Void, Never>?

    init(_ bridge: UTDCallKit) {
        let stream = bridge.events()
        reader = Task { [self] in
            for await event in stream {
                lock.withLock { seen.append(event) }
            }
        }
    }

    var all: [UTDCallKitEvent] {
        lock.lock()
        defer { lock.unlock() }
        return seen
    }

    func reported(_ callId: String) -> Int {
        all.filter { if case .incomingCallReported(callId, _) = $0 { return true } else { return false } }.count
    }

    func ended(_ callId: String) -> [UTDCallEndReason] {
        all.compactMap { if case .callEnded(callId, let reason) = $0 { return reason } else { return nil } }
    }

    func joined(_ callId: String) -> UTDCallSession? {
        for event in all { if case .callJoined(callId, let session) = event { return session } }
        return nil
    }

    var pushRejections: [UTDStreamError] {
        all.compactMap { if case .pushRejected(let error) = $0 { return error as? UTDStreamError } else { return nil } }
    }

    var tokenRegistrations: Int {
        all.filter { if case .pushTokenRegistered = $0 { return true } else { return false } }.count
    }

    func stop() { reader?.cancel() }
}
