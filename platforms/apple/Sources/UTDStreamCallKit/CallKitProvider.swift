// CallKit adapter: CXProvider and CXCallController behind UTDCallProviding,
// and the provider delegate forwarding each action to UTDCallKit. Apple
// platforms only; it holds no decision (those are in UTDCallKit.swift, tested
// on Linux), so it stays small enough to review by eye.
#if canImport(CallKit)
import AVFoundation
import CallKit
import Foundation
import UTDStream

/// The OS call UI: a CXProvider with the bridge as its delegate.
public final class UTDCallKitProvider: NSObject, UTDCallProviding, CXProviderDelegate, @unchecked Sendable {
    /// The CallKit provider (its configuration: the app's name, icon, ringtone).
    public let provider: CXProvider
    private let callController = CXCallController()
    /// Where the actions go; weak: the bridge owns this adapter.
    private weak var bridge: UTDCallKit?

    /// A provider for `configuration`; its delegate runs on the main queue.
    public init(configuration: CXProviderConfiguration) {
        provider = CXProvider(configuration: configuration)
        super.init()
        provider.setDelegate(self, queue: nil)
    }

    // MARK: UTDCallProviding

    public func connect(to bridge: UTDCallKit) { self.bridge = bridge }

    public func reportNewIncomingCall(
        with uuid: UUID, update: UTDSystemCallUpdate,
        completion: @escaping @Sendable (UTDCallReportError?) -> Void
    ) {
        provider.reportNewIncomingCall(with: uuid, update: Self.update(update)) { error in
            completion(error.map(Self.reportError))
        }
    }

    public func reportCall(with uuid: UUID, endedAt date: Date?, reason: UTDSystemCallEndedReason) {
        provider.reportCall(with: uuid, endedAt: date, reason: Self.reason(reason))
    }

    public func requestStartCall(with uuid: UUID, update: UTDSystemCallUpdate) async throws {
        let action = CXStartCallAction(call: uuid, handle: CXHandle(type: .generic, value: update.handle))
        action.isVideo = update.hasVideo
        action.contactIdentifier = update.displayName
        try await callController.request(CXTransaction(action: action))
    }

    public func reportOutgoingCall(with uuid: UUID, connectedAt date: Date?) {
        provider.reportOutgoingCall(with: uuid, connectedAt: date)
    }

    // MARK: CXProviderDelegate

    public func providerDidReset(_ provider: CXProvider) { bridge?.providerDidReset() }

    public func provider(_ provider: CXProvider, perform action: CXAnswerCallAction) {
        // Configure (never activate) the session: CallKit activates it.
        try? AVAudioSession.sharedInstance().setCategory(.playAndRecord, mode: .voiceChat, options: [.allowBluetooth])
        guard let bridge else { return action.fail() }
        bridge.answerCall(action.callUUID) { ok in ok ? action.fulfill() : action.fail() }
    }

    public func provider(_ provider: CXProvider, perform action: CXEndCallAction) {
        guard let bridge else { return action.fulfill() }
        bridge.endCall(action.callUUID) { _ in action.fulfill() }
    }

    public func provider(_ provider: CXProvider, perform action: CXStartCallAction) {
        try? AVAudioSession.sharedInstance().setCategory(.playAndRecord, mode: .voiceChat, options: [.allowBluetooth])
        guard let bridge else { return action.fail() }
        bridge.performStartCall(action.callUUID) { ok in ok ? action.fulfill() : action.fail() }
    }

    public func provider(_ provider: CXProvider, perform action: CXSetMutedCallAction) {
        guard let bridge else { return action.fail() }
        bridge.setMuted(action.callUUID, muted: action.isMuted) { ok in ok ? action.fulfill() : action.fail() }
    }

    public func provider(_ provider: CXProvider, didActivate audioSession: AVAudioSession) {
        bridge?.audioSessionDidActivate()
    }

    public func provider(_ provider: CXProvider, didDeactivate audioSession: AVAudioSession) {
        bridge?.audioSessionDidDeactivate()
    }

    // MARK: Mapping

    private static func update(_ update: UTDSystemCallUpdate) -> CXCallUpdate {
        let callUpdate = CXCallUpdate()
        callUpdate.remoteHandle = CXHandle(type: .generic, value: update.handle)
        callUpdate.localizedCallerName = update.displayName
        callUpdate.hasVideo = update.hasVideo
        callUpdate.supportsHolding = false
        callUpdate.supportsGrouping = false
        callUpdate.supportsUngrouping = false
        callUpdate.supportsDTMF = false
        return callUpdate
    }

    private static func reason(_ reason: UTDSystemCallEndedReason) -> CXCallEndedReason {
        switch reason {
        case .failed: return .failed
        case .remoteEnded: return .remoteEnded
        case .unanswered: return .unanswered
        case .answeredElsewhere: return .answeredElsewhere
        case .declinedElsewhere: return .declinedElsewhere
        }
    }

    private static func reportError(_ error: any Error) -> UTDCallReportError {
        guard let error = error as? CXErrorCodeIncomingCallError else { return .other("\(error)") }
        switch error.code {
        case .callUUIDAlreadyExists: return .callUUIDAlreadyExists
        case .filteredByDoNotDisturb: return .filteredByDoNotDisturb
        case .filteredByBlockList: return .filteredByBlockList
        case .unentitled: return .unentitled
        default: return .other("\(error)")
        }
    }
}
#endif
