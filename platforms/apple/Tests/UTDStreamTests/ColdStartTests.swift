// The calls kit's wake-from-killed scenarios from Swift: those of
// tests/calls_cold_start.rs through the generated bindings, against
// utd-stack's engine + livekit-server, whose push dispatch goes to the APNs
// and FCM stand-ins it runs (its control endpoint's GET /pushes/apns and
// /pushes/fcm show what they received).
//
// A "killed" app is a controller that registered its VoIP token and was
// disposed: no client of that device runs when the call comes. The woken
// app is a NEW controller built from its config and the push payload
// alone, as a PushKit handler builds it. Every test has its own app and a
// random VoIP token, so it tells its pushes from those of earlier tests
// (the stand-ins keep everything of the run).
//
// utd-stack rings for 8 s: the scenario that answers does so right after
// the push arrives (the caller's startCall runs meanwhile), well within it.
// Controller events go through `events()` (AsyncStreams.swift).
import Foundation
import UTDStream
import XCTest

/// Every event of a controller so far, read from its `events()` stream
/// (made at once, so nothing that follows is missed) until `stop()`.
final class ControllerEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [UTDCallControllerEvent] = []
    private var reader: Task<Void, Never>?

    init(_ controller: UTDCallController) {
        let stream = controller.events()
        reader = Task { [self] in
            for await event in stream { append(event) }
        }
    }

    private func append(_ event: UTDCallControllerEvent) {
        lock.lock()
        seen.append(event)
        lock.unlock()
    }

    var all: [UTDCallControllerEvent] {
        lock.lock()
        defer { lock.unlock() }
        return seen
    }

    /// How many `incomingCall` events named `callId`.
    func incoming(_ callId: String) -> Int {
        all.filter {
            if case .incomingCall(let call) = $0 { return call.callId == callId }
            return false
        }.count
    }

    /// Whether a `callJoined` named `callId`.
    func joined(_ callId: String) -> Bool {
        all.contains {
            if case .callJoined(let id, _) = $0 { return id == callId }
            return false
        }
    }

    /// The reasons of the `callEnded` events naming `callId`, in order.
    func ended(_ callId: String?) -> [UTDCallEndReason] {
        all.compactMap {
            if case .callEnded(let id, let reason) = $0, id == callId { return reason }
            return nil
        }
    }

    /// Ends the stream (which cancels the SDK subscription).
    func stop() { reader?.cancel() }
}

final class ColdStartTests: XCTestCase {
    private static let idA = "call_AAAAAAAAAAAAAAAAAAAAAA"
    private static let idY = "call_Yf3abcdefghijklmnopqrs"
    private static let idDigits = "call_0123456789-_abcdefghij"

    /// The incoming call a push says to report; fails the test otherwise.
    private func reportIncoming(
        _ action: UTDPushAction, file: StaticString = #filePath, line: UInt = #line
    ) throws -> UTDIncomingCall {
        guard case .reportIncoming(let call) = action else {
            XCTFail("expected reportIncoming, got \(action)", file: file, line: line)
            throw StackError("not reportIncoming: \(action)")
        }
        return call
    }

    // MARK: - Pure: UUIDs and payloads

    func testCallKitUuidGivesTheDocumentedVersion5UuidOfEachCallId() {
        XCTAssertEqual(callKitUuid(callId: Self.idA), "0e900213-bd54-5b9a-af2e-00d34e636a3c")
        XCTAssertEqual(callKitUuid(callId: Self.idY), "9d350f04-df41-5513-9d7a-e44d26e3f4a7")
        XCTAssertEqual(callKitUuid(callId: Self.idDigits), "af1360bb-175c-5b58-b6f7-dd0648f31bb8")
        // CallKit takes it as a UUID.
        XCTAssertEqual(
            UUID(uuidString: callKitUuid(callId: Self.idA))?.uuidString.lowercased(),
            "0e900213-bd54-5b9a-af2e-00d34e636a3c")
    }

    func testParseCallPushReadsAFullAndAMinimalVoIPPayload() throws {
        let full = #"{"aps":{},"type":"call","call_id":"\#(Self.idY)","caller_identity":"bob","caller_name":"Bob","call_type":"video_call","sent_at_ms":1700000000000,"ring_expires_at_ms":1700000030000}"#
        guard case .incoming(let push) = try parseCallPush(json: full) else {
            return XCTFail("a full call push is incoming")
        }
        XCTAssertEqual(push.callId, Self.idY)
        XCTAssertEqual(push.callKitUuid, "9d350f04-df41-5513-9d7a-e44d26e3f4a7")
        XCTAssertEqual(push.callerIdentity, "bob")
        XCTAssertEqual(push.callerName, "Bob")
        XCTAssertEqual(push.streamType, .videoCall)
        XCTAssertEqual(push.sentAtMs, 1_700_000_000_000)
        XCTAssertEqual(push.ringExpiresAtMs, 1_700_000_030_000)

        guard case .incoming(let minimal) = try parseCallPush(json: #"{"type":"call","call_id":"\#(Self.idA)"}"#) else {
            return XCTFail("a minimal call push is incoming")
        }
        XCTAssertEqual(minimal.callId, Self.idA)
        XCTAssertEqual(minimal.callKitUuid, "0e900213-bd54-5b9a-af2e-00d34e636a3c")
        XCTAssertNil(minimal.callerIdentity)
        XCTAssertNil(minimal.callerName)
        XCTAssertEqual(minimal.streamType, .audioCall, "audio when the push does not say")
        XCTAssertNil(minimal.sentAtMs)
        XCTAssertNil(minimal.ringExpiresAtMs)
    }

    func testParseCallPushDataReadsAFullAndAMinimalDataMessageAndCallEnded() throws {
        let full = [
            "type": "call", "call_id": Self.idDigits, "caller_identity": "bob", "caller_name": "Bob",
            "call_type": "audio_call", "sent_at_ms": "1700000000000", "ring_expires_at_ms": "1700000030000",
        ]
        guard case .incoming(let push) = try parseCallPushData(data: full) else {
            return XCTFail("a full data message is incoming")
        }
        XCTAssertEqual(push.callId, Self.idDigits)
        XCTAssertEqual(push.callKitUuid, "af1360bb-175c-5b58-b6f7-dd0648f31bb8")
        XCTAssertEqual(push.callerIdentity, "bob")
        XCTAssertEqual(push.callerName, "Bob")
        XCTAssertEqual(push.streamType, .audioCall)
        XCTAssertEqual(push.sentAtMs, 1_700_000_000_000, "FCM gives numbers as strings")
        XCTAssertEqual(push.ringExpiresAtMs, 1_700_000_030_000)

        guard case .incoming(let minimal) = try parseCallPushData(data: ["type": "call", "call_id": Self.idA]) else {
            return XCTFail("a minimal data message is incoming")
        }
        XCTAssertEqual(minimal.callKitUuid, "0e900213-bd54-5b9a-af2e-00d34e636a3c")
        XCTAssertNil(minimal.callerIdentity)
        XCTAssertEqual(minimal.streamType, .audioCall)
        XCTAssertNil(minimal.sentAtMs)

        let endedData = ["type": "call_ended", "call_id": Self.idA, "reason": "answered_elsewhere"]
        guard case .ended(let ended) = try parseCallPushData(data: endedData) else {
            return XCTFail("call_ended is ended")
        }
        XCTAssertEqual(ended.callId, Self.idA)
        XCTAssertEqual(ended.callKitUuid, "0e900213-bd54-5b9a-af2e-00d34e636a3c")
        XCTAssertEqual(ended.reason, .answeredElsewhere)
    }

    func testAPayloadThatIsNotACallPushIsInvalidArgument() {
        for json in [
            #"{"type":"chat.message","call_id":"\#(Self.idA)"}"#,
            #"{"type":"call"}"#,
            #"{"type":"call","call_id":"../../admin"}"#,
            "[1]",
            "not json",
        ] {
            let error = assertThrowsUTDSync { try parseCallPush(json: json) }
            XCTAssertEqual(error?.code(), .invalidArgument, json)
        }
        for data in [["type": "chat.message", "call_id": Self.idA], ["call_id": Self.idA], [:]] {
            let error = assertThrowsUTDSync { try parseCallPushData(data: data) }
            XCTAssertEqual(error?.code(), .invalidArgument, "\(data)")
        }
    }

    // MARK: - Wake from killed, against utd-stack

    func testAKilledCalleeWokenByAVoIPPushAnswersFromThePayloadAloneAndBothHearEachOther() async throws {
        let (stack, app) = try await newApp()
        let voip = voipToken()
        try await registerThenKill(stack, app, "alice", "alice-iphone", voip)
        let bob = try controller(stack, app, "bob", "bob-phone")
        try await bob.`init`()

        // Bob dials; the push goes out while his call room is still being joined.
        let dialling = Task { try await bob.startCall(callee: "alice", calleeName: "Alice", streamType: .audioCall) }
        let push = try await voipPush(stack, voip, "the VoIP push to alice's iPhone")
        let callId = try XCTUnwrap(push.strings["call_id"], "\(push)")
        XCTAssertEqual(push.strings["type"], "call")

        // The iPhone wakes: a new controller with its config and the payload alone.
        let dir = try stateDirectory()
        let iphone = try controller(stack, app, "alice", "alice-iphone", tokens: [voip], stateDirectory: dir)
        let events = record(iphone)
        let shown = try reportIncoming(try iphone.handleCallPush(json: push.payloadJSON))
        XCTAssertEqual(shown.callId, callId)
        XCTAssertEqual(shown.callKitUuid, callKitUuid(callId: callId))
        XCTAssertEqual(shown.callerIdentity, "bob")
        XCTAssertEqual(shown.callerName, "BOB")
        XCTAssertEqual(shown.streamType, .audioCall)
        XCTAssertEqual(shown.source, .push)
        iphone.markReported(callId: callId)
        guard case .ringing(let ringing, let timeLeftMs) = try await iphone.reconcile(callId: callId) else {
            return XCTFail("the call should still ring")
        }
        XCTAssertEqual(ringing.callId, callId)
        XCTAssertGreaterThan(timeLeftMs ?? 0, 0, "still ringing for a while")

        // Accept tapped in CallKit, then the app finishes starting: the
        // answer is written down in the state directory first.
        let accepting = Task { try await iphone.acceptIncoming(callId: callId) }
        let intents = dir.appendingPathComponent("utd-call-intents.json")
        try await eventually("the answer is written down before init()") {
            (try? String(contentsOf: intents, encoding: .utf8))?.contains(callId) ?? false
        }
        try await iphone.`init`()
        guard case .joined(let callee) = try await accepting.value else {
            return XCTFail("the accept should join")
        }
        let caller = try await dialling.value
        XCTAssertEqual(caller.callId(), callId)
        try await awaitStatus(caller, .active, "bob")
        XCTAssertEqual(callee.status(), .active, "alice is in the call")
        try await eventually("alice's controller reports the call joined") { events.joined(callId) }
        try await eventually("the carried-out answer is cleared") {
            !((try? String(contentsOf: intents, encoding: .utf8))?.contains(callId) ?? false)
        }

        let bobVoice = sing(caller.room(), 440)
        let aliceVoice = sing(callee.room(), 660)
        defer { bobVoice.cancel(); aliceVoice.cancel() }
        let aliceHearsBob = try await hearTone(callee.room(), "bob", 440)
        XCTAssertTrue(aliceHearsBob, "alice hears bob's 440 Hz tone")
        let bobHearsAlice = try await hearTone(caller.room(), "alice", 660)
        XCTAssertTrue(bobHearsAlice, "bob hears alice's 660 Hz tone")
        XCTAssertEqual(events.incoming(callId), 1, "one incoming call however many paths told of it: \(events.all)")

        try await bob.end()
        try await eventually("alice's call ends") { !events.ended(callId).isEmpty }
        XCTAssertEqual(events.ended(callId), [.hangupCaller])
        try await awaitStatus(callee, .ended, "alice")
    }

    func testAVoIPPushHandledAfterTheCallerCancelledReconcilesAndAnswersAsCancelled() async throws {
        let (stack, app) = try await newApp()
        let voip = voipToken()
        try await registerThenKill(stack, app, "alice", "alice-iphone", voip)
        let bob = try controller(stack, app, "bob", "bob-phone")
        try await bob.`init`()
        let outgoing = try await bob.startCall(callee: "alice", calleeName: nil, streamType: .audioCall)
        let callId = try XCTUnwrap(outgoing.callId())
        let push = try await voipPush(stack, voip, "the VoIP push of \(callId)") { $0.strings["call_id"] == callId }
        try await bob.end()
        try await awaitStatus(outgoing, .cancelled, "bob")

        let iphone = try controller(stack, app, "alice", "alice-iphone", tokens: [voip], stateDirectory: try stateDirectory())
        let events = record(iphone)
        // iOS demands every VoIP push be reported: it is, then reconciled away.
        let shown = try reportIncoming(try iphone.handleCallPush(json: push.payloadJSON))
        XCTAssertEqual(shown.callKitUuid, callKitUuid(callId: callId))
        let reconciled = try await iphone.reconcile(callId: callId)
        XCTAssertEqual(reconciled, .over(reason: .cancelled))
        try await eventually("the reported call is ended as cancelled") { !events.ended(callId).isEmpty }
        XCTAssertEqual(events.ended(callId), [.cancelled])

        try await iphone.`init`()
        guard case .over(let reason) = try await iphone.acceptIncoming(callId: callId) else {
            return XCTFail("answering a cancelled call is the over outcome")
        }
        XCTAssertEqual(reason, .cancelled)
        XCTAssertNil(iphone.currentCall(), "nothing was joined")
        XCTAssertEqual(events.ended(callId), [.cancelled], "ended once")
    }

    func testOnAPlanWithoutCallingInitSucceedsAndStartCallIsRefusedAsSignallingDisabled() async throws {
        let (stack, app) = try await newApp(plan: "free")
        let bob = try controller(stack, app, "bob", "bob-phone")
        let events = record(bob)
        try await bob.`init`()
        XCTAssertEqual(bob.signalingEnabled(), false)
        let refused = await assertThrowsUTD {
            try await bob.startCall(callee: "alice", calleeName: nil, streamType: .audioCall)
        }
        XCTAssertEqual(refused?.isSignalingDisabled(), true, "\(String(describing: refused))")
        try await eventually("callEnded(notActivated) for the call that could not start") { !events.ended(nil).isEmpty }
        XCTAssertEqual(events.ended(nil), [.notActivated])
        XCTAssertNil(bob.currentCall(), "no call was started")
    }
}
