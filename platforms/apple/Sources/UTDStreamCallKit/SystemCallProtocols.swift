// The two OS parts the bridge drives, as small protocols: CallKit's provider
// (CallKitProvider.swift adapts CXProvider and CXCallController) and
// PushKit's registry (PushKitRegistry.swift adapts PKPushRegistry). The
// Linux tests implement them with fakes that behave like the real ones.
import Foundation

/// The OS call UI as the bridge drives it.
public protocol UTDCallProviding: AnyObject, Sendable {
    /// Called once by the bridge's initialiser: from now on the OS's actions
    /// go to `bridge` (hold it weakly: the bridge holds the provider).
    func connect(to bridge: UTDCallKit)

    /// Shows an incoming call (`CXProvider.reportNewIncomingCall`). The OS
    /// calls `completion` once it has been shown (nil) or refused.
    func reportNewIncomingCall(
        with uuid: UUID, update: UTDSystemCallUpdate,
        completion: @escaping @Sendable (UTDCallReportError?) -> Void)

    /// Ends a call the OS shows, for a reason not of this device's making
    /// (`CXProvider.reportCall(with:endedAt:reason:)`).
    func reportCall(with uuid: UUID, endedAt date: Date?, reason: UTDSystemCallEndedReason)

    /// Asks the OS to start an outgoing call (`CXCallController.request` of a
    /// `CXStartCallAction`); the OS then asks the bridge to perform it
    /// (`UTDCallKit.performStartCall`).
    func requestStartCall(with uuid: UUID, update: UTDSystemCallUpdate) async throws

    /// Tells the OS an outgoing call was answered
    /// (`CXProvider.reportOutgoingCall(with:connectedAt:)`).
    func reportOutgoingCall(with uuid: UUID, connectedAt date: Date?)
}

/// Where VoIP pushes come from (`PKPushRegistry`).
public protocol UTDVoIPPushRegistering: AnyObject, Sendable {
    /// Called once by the bridge's initialiser: from now on pushes and
    /// tokens go to `bridge` (hold it weakly).
    func connect(to bridge: UTDCallKit)

    /// Starts (true) or stops (false) VoIP push delivery to this app
    /// (`desiredPushTypes = [.voIP]` or `[]`).
    func setVoIPPushesEnabled(_ enabled: Bool)
}
