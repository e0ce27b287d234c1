// What the bridge tells the host app, as an AsyncStream per listener.
import Foundation
import UTDStream

/// What happened in the bridge, in order.
public enum UTDCallKitEvent: Sendable {
    /// The OS shows the incoming call `callId` under `uuid`.
    case incomingCallReported(callId: String, uuid: UUID)
    /// The OS refused to show the incoming call `callId` (Do Not Disturb,
    /// a blocked caller, a missing entitlement); it goes on ringing on the
    /// user's other devices.
    case incomingCallRefused(callId: String, error: UTDCallReportError)
    /// A VoIP push named no usable call: it was reported and ended at once
    /// (iOS demands a report). The error is the core's `UTDStreamError`
    /// (`invalidArgument`).
    case pushRejected(any Error)
    /// This device is in the call: show the call screen.
    case callJoined(callId: String, session: UTDCallSession)
    /// The call is over here (once per call).
    case callEnded(callId: String, reason: UTDCallEndReason)
    /// The OS activated the call's audio session; the microphone went on.
    case audioSessionActivated
    /// The OS deactivated it; the microphone went off.
    case audioSessionDeactivated
    /// The VoIP token was registered with the engine.
    case pushTokenRegistered
    /// Registering (or unregistering) the VoIP token failed.
    /// The error is the core's `UTDStreamError`.
    case pushTokenFailed(any Error)
}

/// Every listener's stream of bridge events.
final class UTDCallKitEventHub: @unchecked Sendable {
    private let lock = NSLock()
    private var listeners: [UUID: AsyncStream<UTDCallKitEvent>.Continuation] = [:]

    /// A stream of the events from now on; ending it removes the listener.
    func stream() -> AsyncStream<UTDCallKitEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: UTDCallKitEvent.self, bufferingPolicy: .unbounded)
        let id = UUID()
        lock.withLock { listeners[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            _ = self.lock.withLock { self.listeners.removeValue(forKey: id) }
        }
        return stream
    }

    func emit(_ event: UTDCallKitEvent) {
        let current = lock.withLock { Array(listeners.values) }
        for listener in current { listener.yield(event) }
    }

    func finish() {
        let current = lock.withLock {
            defer { listeners.removeAll() }
            return Array(listeners.values)
        }
        for listener in current { listener.finish() }
    }
}
