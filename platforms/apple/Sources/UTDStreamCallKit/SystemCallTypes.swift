// The values the bridge exchanges with the OS call UI, in Foundation terms:
// CallKit's types exist only on Apple platforms, and the decisions that use
// them are tested on Linux. CallKitProvider.swift maps them one to one.
import Foundation
import UTDStream

/// Why a call shown in the OS call UI ended: the cases of CallKit's
/// `CXCallEndedReason`.
public enum UTDSystemCallEndedReason: Sendable, Equatable {
    /// The call could not go on (media or engine failure, refused plan).
    case failed
    /// The other party ended it (hung up, or cancelled before an answer).
    case remoteEnded
    /// Nobody answered before the ring timeout.
    case unanswered
    /// Another device of this user answered.
    case answeredElsewhere
    /// Another device of this user declined.
    case declinedElsewhere

    /// The system reason for a calls-kit end reason.
    public init(_ reason: UTDCallEndReason) {
        switch reason {
        case .hangupCaller, .hangupCallee, .cancelled, .other:
            self = .remoteEnded
        case .ringTimeout:
            self = .unanswered
        case .answeredElsewhere:
            self = .answeredElsewhere
        // On a device that did not decline, a decline (or busy) came from
        // another of the user's devices.
        case .declinedElsewhere, .rejected, .busy:
            self = .declinedElsewhere
        case .roomClosed, .notActivated, .failed:
            self = .failed
        }
    }
}

/// What the OS call UI shows of a call (CallKit's `CXCallUpdate`).
public struct UTDSystemCallUpdate: Sendable, Equatable {
    /// The name shown for the other party.
    public var displayName: String
    /// The other party's identity (CallKit's generic `CXHandle` value).
    public var handle: String
    /// Whether it is a video call.
    public var hasVideo: Bool

    /// An update with these values.
    public init(displayName: String, handle: String, hasVideo: Bool) {
        self.displayName = displayName
        self.handle = handle
        self.hasVideo = hasVideo
    }

    /// What to show for an incoming call: the caller's name, else identity.
    init(_ call: UTDIncomingCall) {
        let who = call.callerIdentity ?? "unknown"
        self.init(displayName: call.callerName ?? who, handle: who, hasVideo: call.streamType == .videoCall)
    }

    /// What a VoIP push that names no usable call is reported as (iOS wants
    /// a call reported for every VoIP push) before it is ended.
    static let unusablePush = UTDSystemCallUpdate(displayName: "Call", handle: "unknown", hasVideo: false)
}

/// Why the OS refused to show a reported incoming call (CallKit's
/// `CXErrorCodeIncomingCallError`).
public enum UTDCallReportError: Error, Sendable, Equatable {
    /// A call with this UUID is already reported (a second push for a call:
    /// expected, and the push still counts as reported).
    case callUUIDAlreadyExists
    /// Do Not Disturb is on.
    case filteredByDoNotDisturb
    /// The caller is blocked.
    case filteredByBlockList
    /// The app lacks the VoIP entitlement.
    case unentitled
    /// Another error, as the OS described it.
    case other(String)
}
