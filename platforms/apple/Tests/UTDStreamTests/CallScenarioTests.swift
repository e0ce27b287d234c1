// 1:1 calls end to end from Swift: the scenarios of tests/calls.rs through
// the generated bindings, against utd-stack's engine + livekit-server. The
// engine decides every transition and pushes it to every device of both
// parties; each session's status follows, never backwards, and both sides
// end in the same terminal state.
//
// A user on two devices is two clients authenticated as the same identity
// with different device ids. Every test makes its own app (so its own
// identities). utd-stack runs the engine with an 8 s ring
// timeout (reported in its env file), so the missed-call test waits seconds.
// Waits go through the AsyncStream adapters of AsyncStreams.swift.
import Foundation
import UTDStream
import XCTest

final class CallScenarioTests: XCTestCase {
    private static let wait: Duration = .seconds(10)

    // MARK: - Helpers

    /// One device of `identity`: its own client, signed in as `deviceId` and
    /// connected (invitations only reach connected devices). Disposed when
    /// the test ends, pass or fail.
    private func device(
        _ stack: StackEnv, _ app: AdminApp, _ identity: String, _ deviceId: String
    ) async throws -> UTDStreamClient {
        let client = try UTDStreamClient(appId: app.appId, appKey: app.appKey, baseUrl: stack.engineUrl)
        addTeardownBlock { client.dispose() }
        _ = try await client.authenticate(identity: identity, name: identity.uppercased(), deviceId: deviceId)
        try await client.connect()
        return client
    }

    /// A call session on `client`, hung up and disposed when the test ends
    /// (before its client: teardown blocks run last-in, first-out).
    private func session(_ client: UTDStreamClient, _ streamType: UTDStreamType) throws -> UTDCallSession {
        let session = try client.callSession(streamType: streamType)
        addTeardownBlock {
            try? await session.end()
            await session.dispose()
        }
        return session
    }

    /// Waits for the invitation to `callId` on a stream made before the call.
    @discardableResult
    private func awaitInvitation(
        _ invitations: AsyncStream<UTDCall>, _ callId: String, _ who: String,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws -> UTDCall {
        try await awaitElement(
            invitations, "\(who) gets the invitation to \(callId)", within: Self.wait, file: file, line: line
        ) { $0.callId == callId }
    }

    // MARK: - Scenarios

    func testCallRingAcceptTalkAndHangUpOnBothSides() async throws {
        let (stack, app) = try await newApp()
        let alice = try await device(stack, app, "alice", "alice-phone")
        let bob = try await device(stack, app, "bob", "bob-phone")
        // An event stream: made before the call so the invitation is in it.
        let bobRings = bob.callInvitations()

        let caller = try session(alice, .videoCall)
        XCTAssertNil(caller.status(), "no call yet")
        let call = try await caller.start(
            calleeIdentity: "bob", calleeName: "Bob", metadataJson: #"{"topic":"lunch"}"#)
        XCTAssertEqual(call.status, .initiating)
        XCTAssertEqual(call.calleeIdentity, "bob")
        XCTAssertEqual(caller.callId(), call.callId)
        XCTAssertTrue(caller.room().isConnected(), "the caller waits in the call room")

        let invitation = try await awaitInvitation(bobRings, call.callId, "bob's phone")
        XCTAssertEqual(invitation.callerIdentity, "alice")
        XCTAssertEqual(invitation.callerName, "ALICE")
        XCTAssertEqual(invitation.calleeName, "Bob")
        XCTAssertEqual(invitation.streamType, .videoCall)
        XCTAssertEqual(invitation.metadataJson, #"{"topic":"lunch"}"#)

        let callee = try session(bob, invitation.streamType)
        _ = try await callee.ringing(callId: invitation.callId)
        try await awaitStatus(caller, .ringing, "the caller")
        let accepted = try await callee.accept(callId: invitation.callId)
        XCTAssertEqual(accepted.status, .active)
        XCTAssertEqual(accepted.answeredByDevice, "bob-phone")
        XCTAssertEqual(callee.status(), .active)
        try await awaitStatus(caller, .active, "the caller")
        XCTAssertTrue(callee.room().isConnected())
        let local = try XCTUnwrap(callee.room().localParticipant(), "the callee is in the room")
        XCTAssertTrue(local.publishedSources.contains(.microphone), "\(local.publishedSources)")
        XCTAssertTrue(local.publishedSources.contains(.camera), "a video call publishes the camera: \(local.publishedSources)")
        try await awaitElement(caller.room().remoteParticipantUpdates(), "the caller sees bob in the room") {
            $0.contains { $0.identity == "bob" }
        }
        try await awaitElement(callee.room().remoteParticipantUpdates(), "bob sees the caller in the room") {
            $0.contains { $0.identity == "alice" }
        }

        try await callee.end()
        try await callee.end()  // hanging up twice is harmless
        XCTAssertEqual(callee.status(), .ended)
        let ended = try await awaitElement(caller.callUpdates(), "the caller is pushed the ended call") {
            $0.status == .ended
        }
        XCTAssertEqual(ended.endReason, .hangupCallee)
        try await awaitStatus(caller, .ended, "the caller")
        XCTAssertEqual(caller.call()?.endReason, .hangupCallee)
        try await awaitElement(caller.room().connectedUpdates(), "the caller leaves the room") { !$0 }
        try await awaitElement(callee.room().connectedUpdates(), "the callee leaves the room") { !$0 }
        try await caller.end()  // ending an ended call is harmless
        XCTAssertEqual(caller.status(), .ended, "nothing moved back")
    }

    /// How a call ends before it is answered.
    private enum Unanswered: String {
        case reject, busy, cancel
    }

    /// The callee rejects / is busy, or the caller cancels, while ringing:
    /// both sides end in `terminal`, and a late accept is refused.
    private func assertEndsBeforeAnswer(
        _ answer: Unanswered, callerSees: UTDCallStatus, calleeSees: UTDCallStatus,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let (stack, app) = try await newApp()
        let alice = try await device(stack, app, "alice", "a1")
        let bob = try await device(stack, app, "bob", "b1")
        let bobRings = bob.callInvitations()
        let caller = try session(alice, .audioCall)
        let call = try await caller.start(calleeIdentity: "bob", calleeName: nil, metadataJson: nil)
        try await awaitInvitation(bobRings, call.callId, "bob", file: file, line: line)
        let callee = try session(bob, .audioCall)
        _ = try await callee.ringing(callId: call.callId)
        switch answer {
        case .reject: _ = try await callee.reject(callId: call.callId)
        case .busy: _ = try await callee.busy(callId: call.callId)
        case .cancel: try await caller.end()
        }
        try await awaitStatus(caller, callerSees, "\(answer): the caller", file: file, line: line)
        try await awaitStatus(callee, calleeSees, "\(answer): the callee", file: file, line: line)
        let late = await assertThrowsUTD({ try await callee.accept(callId: call.callId) }, file: file, line: line)
        XCTAssertEqual(late?.code(), .invalidState, "\(answer): \(String(describing: late))", file: file, line: line)
        XCTAssertEqual(callee.status(), calleeSees, "\(answer): nothing moved back", file: file, line: line)
        XCTAssertEqual(caller.status(), callerSees, "\(answer): nothing moved back", file: file, line: line)
    }

    func testARejectedCallIsRejectedOnBothSides() async throws {
        try await assertEndsBeforeAnswer(.reject, callerSees: .rejected, calleeSees: .rejected)
    }

    func testABusyCalleeMakesTheCallBusyOnBothSides() async throws {
        try await assertEndsBeforeAnswer(.busy, callerSees: .busy, calleeSees: .busy)
    }

    func testACallCancelledWhileRingingIsCancelledOnBothSides() async throws {
        try await assertEndsBeforeAnswer(.cancel, callerSees: .cancelled, calleeSees: .cancelled)
    }

    func testAnUnansweredCallBecomesMissedOnBothSides() async throws {
        let (stack, app) = try await newApp()
        let ringMs = try XCTUnwrap(stack.ringTimeoutMs, "utd-stack reports the engine's ring timeout")
        let ringTimeout = Duration.milliseconds(Int64(ringMs))
        XCTAssertLessThanOrEqual(ringTimeout, .seconds(10), "a ring timeout this test can wait out")
        let alice = try await device(stack, app, "alice", "a1")
        let bob = try await device(stack, app, "bob", "b1")
        let bobRings = bob.callInvitations()
        let caller = try session(alice, .audioCall)
        let started = ContinuousClock.now
        let call = try await caller.start(calleeIdentity: "bob", calleeName: nil, metadataJson: nil)
        try await awaitInvitation(bobRings, call.callId, "bob")
        let callee = try session(bob, .audioCall)
        _ = try await callee.ringing(callId: call.callId)
        XCTAssertEqual(callee.status(), .ringing)

        try await awaitStatus(caller, .missed, "the caller", within: ringTimeout + Self.wait)
        let elapsed = ContinuousClock.now - started
        XCTAssertGreaterThanOrEqual(elapsed, ringTimeout - .milliseconds(250), "not missed before the ring timeout")
        try await awaitStatus(callee, .missed, "the callee")
        XCTAssertEqual(caller.call()?.endReason, .ringTimeout)
        try await awaitElement(caller.room().connectedUpdates(), "the caller left the room") { !$0 }
    }

    func testOneDeviceAnswersAndTheOtherIsToldAndStops() async throws {
        let (stack, app) = try await newApp()
        let alice = try await device(stack, app, "alice", "a1")
        let bobPhone = try await device(stack, app, "bob", "bob-phone")
        let bobTablet = try await device(stack, app, "bob", "bob-tablet")
        let phoneRings = bobPhone.callInvitations()
        let tabletRings = bobTablet.callInvitations()

        let caller = try session(alice, .audioCall)
        let call = try await caller.start(calleeIdentity: "bob", calleeName: nil, metadataJson: nil)
        try await awaitInvitation(phoneRings, call.callId, "bob's phone")
        try await awaitInvitation(tabletRings, call.callId, "bob's tablet")
        let phone = try session(bobPhone, .audioCall)
        let tablet = try session(bobTablet, .audioCall)
        _ = try await phone.ringing(callId: call.callId)
        _ = try await tablet.ringing(callId: call.callId)

        let accepted = try await phone.accept(callId: call.callId)
        XCTAssertEqual(accepted.answeredByDevice, "bob-phone")
        try await awaitStatus(tablet, .answeredElsewhere, "the tablet")
        try await awaitElement(tablet.callUpdates(), "the tablet learns which device answered") {
            $0.answeredByDevice == "bob-phone"
        }
        try await awaitStatus(caller, .active, "the caller")
        let second = await assertThrowsUTD { try await tablet.accept(callId: call.callId) }
        XCTAssertEqual(second?.code(), .invalidState, "the tablet cannot answer too: \(String(describing: second))")
        XCTAssertFalse(tablet.room().isConnected(), "the tablet never joined")
        XCTAssertEqual(phone.status(), .active)

        try await caller.end()
        try await awaitStatus(phone, .ended, "the phone")
        XCTAssertEqual(tablet.status(), .answeredElsewhere, "terminal stays")
    }

    func testTwoDevicesAnsweringAtOnceMakeExactlyOneAnswer() async throws {
        let (stack, app) = try await newApp()
        let alice = try await device(stack, app, "alice", "a1")
        let bobPhone = try await device(stack, app, "bob", "bob-phone")
        let bobTablet = try await device(stack, app, "bob", "bob-tablet")
        let phoneRings = bobPhone.callInvitations()
        let tabletRings = bobTablet.callInvitations()
        let caller = try session(alice, .audioCall)
        let call = try await caller.start(calleeIdentity: "bob", calleeName: nil, metadataJson: nil)
        try await awaitInvitation(phoneRings, call.callId, "bob's phone")
        try await awaitInvitation(tabletRings, call.callId, "bob's tablet")
        let devices = [try session(bobPhone, .audioCall), try session(bobTablet, .audioCall)]

        let callId = call.callId
        let outcomes = await withTaskGroup(of: (Int, Result<UTDCall, any Error>).self) { group in
            for (i, device) in devices.enumerated() {
                group.addTask {
                    do {
                        return (i, .success(try await device.accept(callId: callId)))
                    } catch {
                        return (i, .failure(error))
                    }
                }
            }
            var outcomes = [Result<UTDCall, any Error>?](repeating: nil, count: devices.count)
            for await (i, outcome) in group { outcomes[i] = outcome }
            return outcomes.compactMap { $0 }
        }
        let winners = outcomes.indices.filter {
            if case .success = outcomes[$0] { return true } else { return false }
        }
        XCTAssertEqual(winners.count, 1, "exactly one answer: \(outcomes)")
        guard winners.count == 1, let winnerIndex = winners.first else { return }
        let winner = devices[winnerIndex]
        let loser = devices[1 - winnerIndex]
        if case .failure(let error) = outcomes[1 - winnerIndex] {
            let code = (error as? UTDStreamError)?.code()
            XCTAssertTrue(code == .conflict || code == .invalidState, "the other device is refused: \(error)")
        }
        XCTAssertEqual(winner.status(), .active)
        try await awaitStatus(loser, .answeredElsewhere, "the other device")
        try await awaitStatus(caller, .active, "the caller")
        try await caller.end()
        try await awaitStatus(winner, .ended, "the answering device")
    }

    func testAThirdUserCannotAnswerTheCall() async throws {
        let (stack, app) = try await newApp()
        let alice = try await device(stack, app, "alice", "a1")
        let bob = try await device(stack, app, "bob", "b1")
        let mallory = try await device(stack, app, "mallory", "m1")
        let bobRings = bob.callInvitations()
        let malloryRings = mallory.callInvitations()
        let caller = try session(alice, .audioCall)
        let call = try await caller.start(calleeIdentity: "bob", calleeName: nil, metadataJson: nil)
        try await awaitInvitation(bobRings, call.callId, "bob")
        let callee = try session(bob, .audioCall)
        _ = try await callee.accept(callId: call.callId)
        try await awaitStatus(caller, .active, "the caller")

        let intruder = try session(mallory, .audioCall)
        let refused = await assertThrowsUTD { try await intruder.accept(callId: call.callId) }
        XCTAssertEqual(refused?.code(), .forbidden, "not a party: \(String(describing: refused))")
        XCTAssertFalse(intruder.room().isConnected(), "the intruder never joined")
        XCTAssertNil(intruder.status(), "the intruder cannot read the call either")
        let strayInvitation = await first(malloryRings, within: .milliseconds(100))
        XCTAssertNil(strayInvitation, "only the callee was invited")
        XCTAssertEqual(callee.status(), .active, "the call goes on")
        XCTAssertEqual(caller.status(), .active)
        try await caller.end()
    }

    func testIllegalMovesAreRefusedWithTypedErrors() async throws {
        let (stack, app) = try await newApp()
        let alice = try await device(stack, app, "alice", "a1")
        let bob = try await device(stack, app, "bob", "b1")

        let notACall = assertThrowsUTDSync { try alice.callSession(streamType: .liveStream) }
        XCTAssertEqual(notACall?.code(), .invalidArgument, "not a call type: \(String(describing: notACall))")

        let caller = try session(alice, .audioCall)
        let call = try await caller.start(calleeIdentity: "bob", calleeName: nil, metadataJson: nil)
        let again = await assertThrowsUTD {
            try await caller.start(calleeIdentity: "bob", calleeName: nil, metadataJson: nil)
        }
        XCTAssertEqual(again?.code(), .invalidState, "one call per session: \(String(describing: again))")

        let own = try session(alice, .audioCall)
        let notCallee = await assertThrowsUTD { try await own.accept(callId: call.callId) }
        XCTAssertEqual(notCallee?.code(), .forbidden, "the caller cannot accept: \(String(describing: notCallee))")

        let badMeta = try session(alice, .audioCall)
        let meta = await assertThrowsUTD {
            try await badMeta.start(calleeIdentity: "bob", calleeName: nil, metadataJson: "[1,2]")
        }
        XCTAssertEqual(meta?.code(), .invalidArgument, "metadata must be an object: \(String(describing: meta))")

        let selfCall = try session(alice, .audioCall)
        let myself = await assertThrowsUTD {
            try await selfCall.start(calleeIdentity: "alice", calleeName: nil, metadataJson: nil)
        }
        XCTAssertEqual(myself?.code(), .invalidArgument, "calling yourself: \(String(describing: myself))")

        let videoCallee = try session(bob, .videoCall)
        let wrongType = await assertThrowsUTD { try await videoCallee.accept(callId: call.callId) }
        XCTAssertEqual(
            wrongType?.code(), .invalidArgument, "an audio call in a video session: \(String(describing: wrongType))")

        XCTAssertEqual(caller.status(), .initiating, "none of that moved the call")
        try await caller.end()
        XCTAssertEqual(caller.status(), .cancelled)
    }
}
