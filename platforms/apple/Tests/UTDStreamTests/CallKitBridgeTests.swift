// UTDCallKit's decisions over every ordering that matters, against
// utd-stack's engine + livekit-server and its APNs stand-in, with fakes of
// CallKit's provider and PushKit's registry (FakeCallSystem.swift) in place
// of the Apple frameworks. Each test asserts what the fake provider was
// told, in which order, and what the PushKit completion ran inside.
//
// A woken iPhone is a new controller + bridge built from its config and
// the VoIP payload the stand-in received, as the PushKit handler builds it.
import Foundation
import UTDStream
import UTDStreamCallKit
import XCTest

final class CallKitBridgeTests: XCTestCase {
    /// A bridge over a new controller of `user` on `device`, with a fake
    /// provider and registry; events recorded until the test ends.
    private func bridge(
        _ stack: StackEnv, _ app: AdminApp, _ user: String, _ device: String, tokens: [UTDPushToken] = []
    ) throws -> (UTDCallKit, FakeCallProvider, FakeVoIPRegistry, BridgeEvents) {
        let phone = try controller(stack, app, user, device, tokens: tokens, stateDirectory: try stateDirectory())
        let provider = FakeCallProvider()
        let registry = FakeVoIPRegistry()
        let calls = UTDCallKit(controller: phone, provider: provider, registry: registry)
        let events = BridgeEvents(calls)
        addTeardownBlock { events.stop() }
        return (calls, provider, registry, events)
    }

    /// A killed callee `alice` with a VoIP token, and a started caller `bob`.
    private func killedCallee(
        _ stack: StackEnv, _ app: AdminApp
    ) async throws -> (voip: UTDPushToken, bob: UTDCallController) {
        let voip = voipToken()
        try await registerThenKill(stack, app, "alice", "alice-iphone", voip)
        let bob = try controller(stack, app, "bob", "bob-phone")
        try await bob.`init`()
        return (voip, bob)
    }

    /// Bob calls alice; returns his session, the call id and the VoIP push.
    private func bobCalls(
        _ stack: StackEnv, _ bob: UTDCallController, _ voip: UTDPushToken
    ) async throws -> (UTDCallSession, String, RecordedVoIPPush) {
        let outgoing = try await bob.startCall(callee: "alice", calleeName: "Alice", streamType: .audioCall)
        let callId = try XCTUnwrap(outgoing.callId())
        let push = try await voipPush(stack, voip, "the VoIP push of \(callId)") { $0.strings["call_id"] == callId }
        return (outgoing, callId, push)
    }

    /// Hands `push` to the bridge as PushKit would; asserts the report was
    /// made before the handler returned.
    private func deliver(
        _ push: RecordedVoIPPush, to calls: UTDCallKit, _ provider: FakeCallProvider, _ uuid: UUID,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let before = provider.reportCount(uuid)
        calls.handleVoIPPush(json: push.payloadJSON, completion: provider.pushCompletion())
        XCTAssertEqual(provider.reportCount(uuid), before + 1, "reported synchronously, on the PushKit queue", file: file, line: line)
    }

    /// A killed `alice` rung by `bob`, woken by the VoIP push: a new bridge
    /// with the push delivered and the call reported.
    private struct WokenCallee {
        let stack: StackEnv
        let bob: UTDCallController
        let outgoing: UTDCallSession
        let callId: String
        let push: RecordedVoIPPush
        let calls: UTDCallKit
        let provider: FakeCallProvider
        let events: BridgeEvents
        let uuid: UUID
    }

    private func wokenByPush(file: StaticString = #filePath, line: UInt = #line) async throws -> WokenCallee {
        let (stack, app) = try await newApp()
        let (voip, bob) = try await killedCallee(stack, app)
        let (outgoing, callId, push) = try await bobCalls(stack, bob, voip)
        let (calls, provider, _, events) = try bridge(stack, app, "alice", "alice-iphone", tokens: [voip])
        let uuid = try uuid(callId)
        deliver(push, to: calls, provider, uuid, file: file, line: line)
        try await eventually("reported", file: file, line: line) { events.reported(callId) == 1 }
        return WokenCallee(
            stack: stack, bob: bob, outgoing: outgoing, callId: callId, push: push,
            calls: calls, provider: provider, events: events, uuid: uuid)
    }

    private func uuid(_ callId: String) throws -> UUID {
        try XCTUnwrap(UUID(uuidString: callKitUuid(callId: callId)))
    }

    private func microphoneOn(_ session: UTDCallSession) -> Bool {
        session.room().localParticipant()?.publishedSources.contains(.microphone) ?? false
    }

    // MARK: - Orderings

    func testAPushForARingingCallIsReportedAnsweredAndTheMicrophoneWaitsForTheAudioSession() async throws {
        let (stack, app) = try await newApp()
        let (voip, bob) = try await killedCallee(stack, app)
        let (outgoing, callId, push) = try await bobCalls(stack, bob, voip)
        let (calls, provider, registry, events) = try bridge(stack, app, "alice", "alice-iphone", tokens: [voip])
        let uuid = try uuid(callId)

        deliver(push, to: calls, provider, uuid)
        try await eventually("the report is answered and the push completed") {
            provider.entries.contains(.pushCompleted(insideReportOf: uuid))
        }
        XCTAssertEqual(
            Array(provider.entries.prefix(3)),
            [.reported(uuid, UTDSystemCallUpdate(displayName: "BOB", handle: "bob", hasVideo: false)),
             .reportAnswered(uuid, nil), .pushCompleted(insideReportOf: uuid)],
            "reported, then the PushKit completion inside the report's completion")
        await assertEventuallyEqual(events.reported(callId), 1)

        // Answer from the lock screen: the app starts meanwhile.
        try await calls.start()
        XCTAssertEqual(registry.enabled, [true], "VoIP pushes enabled on start")
        let answered = await provider.answer(uuid, on: calls)
        XCTAssertTrue(answered, "the answer action is fulfilled once joined: \(provider.entries)")
        let callee = try XCTUnwrap(events.joined(callId), "callJoined")
        try await awaitStatus(outgoing, .active, "bob")
        XCTAssertFalse(microphoneOn(callee), "no microphone before CallKit activates the audio session")

        let aliceVoice = sing(callee.room(), 660)
        defer { aliceVoice.cancel() }
        calls.audioSessionDidActivate()
        try await eventually("the microphone goes on with the audio session") { microphoneOn(callee) }
        let bobHearsAlice = try await hearTone(outgoing.room(), "alice", 660)
        XCTAssertTrue(bobHearsAlice, "bob hears alice once her audio session is active")

        try await bob.end()
        try await eventually("the remote hang-up ends the system call") { !provider.endings(uuid).isEmpty }
        XCTAssertEqual(provider.endings(uuid), [.remoteEnded])
        await assertEventuallyEqual(events.ended(callId), [.hangupCaller])
        await assertEventuallyEqual(events.reported(callId), 1, "one report however many paths told of it")
    }

    func testAPushForACallCancelledBeforeItArrivedIsReportedThenEndedAsRemoteEnded() async throws {
        let (stack, app) = try await newApp()
        let (voip, bob) = try await killedCallee(stack, app)
        let (outgoing, callId, push) = try await bobCalls(stack, bob, voip)
        try await bob.end()
        try await awaitStatus(outgoing, .cancelled, "bob")
        let (calls, provider, _, events) = try bridge(stack, app, "alice", "alice-iphone", tokens: [voip])
        let uuid = try uuid(callId)

        deliver(push, to: calls, provider, uuid)
        try await eventually("the reconcile ends the reported call") { !provider.endings(uuid).isEmpty }
        let entries = provider.entries
        XCTAssertEqual(provider.endings(uuid), [.remoteEnded])
        let completed = try XCTUnwrap(entries.firstIndex(of: .pushCompleted(insideReportOf: uuid)))
        let ended = try XCTUnwrap(entries.firstIndex(of: .ended(uuid, .remoteEnded)))
        XCTAssertLessThan(completed, ended, "PushKit completed inside the report, then the call ended: \(entries)")
        await assertEventuallyEqual(events.ended(callId), [.cancelled])
        XCTAssertTrue(provider.shownCalls.isEmpty)
    }

    func testAPushAndTheWebSocketForOneCallReportItOnceAndStillCompleteThePush() async throws {
        let (stack, app) = try await newApp()
        let voip = voipToken()
        let (calls, provider, _, events) = try bridge(stack, app, "alice", "alice-iphone", tokens: [voip])
        try await calls.start()
        let bob = try controller(stack, app, "bob", "bob-phone")
        try await bob.`init`()
        let (outgoing, callId, push) = try await bobCalls(stack, bob, voip)
        let uuid = try uuid(callId)

        // The running app heard of the call on the WebSocket first.
        try await eventually("the WebSocket's call is reported") { events.reported(callId) == 1 }
        XCTAssertEqual(provider.reportCount(uuid), 1)
        deliver(push, to: calls, provider, uuid)
        try await eventually("the push completes") {
            provider.entries.contains(.pushCompleted(insideReportOf: uuid))
        }
        XCTAssertTrue(
            provider.entries.contains(.reportAnswered(uuid, .callUUIDAlreadyExists)),
            "the push is reported again, as iOS demands: \(provider.entries)")
        XCTAssertEqual(provider.shownCalls, [uuid], "one call shown")
        await assertEventuallyEqual(events.reported(callId), 1)

        let answered = await provider.answer(uuid, on: calls)
        XCTAssertTrue(answered)
        try await awaitStatus(outgoing, .active, "bob")
        try await bob.end()
        try await eventually("ended once") { events.ended(callId) == [.hangupCaller] }
        XCTAssertEqual(provider.endings(uuid), [.remoteEnded])
    }

    func testAnAnswerTheCallerCancelledFirstFailsTheActionAndEndsTheCallOnce() async throws {
        let woken = try await wokenByPush()
        let (bob, outgoing, callId, calls, provider, events, uuid) =
            (woken.bob, woken.outgoing, woken.callId, woken.calls, woken.provider, woken.events, woken.uuid)

        // Bob gives up as alice's thumb reaches Answer on a phone still starting.
        try await bob.end()
        try await awaitStatus(outgoing, .cancelled, "bob")
        let answered = await provider.answer(uuid, on: calls)
        XCTAssertFalse(answered, "the answer action fails for a cancelled call")
        try await eventually("the system call is ended") { !provider.endings(uuid).isEmpty }
        XCTAssertEqual(provider.endings(uuid), [.remoteEnded], "\(provider.entries)")
        await assertEventuallyEqual(events.ended(callId), [.cancelled])
        XCTAssertNil(events.joined(callId), "nothing joined")
        XCTAssertNil(calls.controller.currentCall())
    }

    func testAnAnswerAfterTheCallWasMissedFailsAndEndsItAsUnanswered() async throws {
        let woken = try await wokenByPush()
        let (outgoing, callId, calls, provider, events, uuid) =
            (woken.outgoing, woken.callId, woken.calls, woken.provider, woken.events, woken.uuid)
        let ringMs = try XCTUnwrap(woken.stack.ringTimeoutMs, "utd-stack reports the engine's ring timeout")

        try await awaitStatus(outgoing, .missed, "bob", within: .milliseconds(Int64(ringMs)) + callWait)
        let answered = await provider.answer(uuid, on: calls)
        XCTAssertFalse(answered, "too late to answer")
        try await eventually("the system call is ended") { !provider.endings(uuid).isEmpty }
        XCTAssertEqual(provider.endings(uuid), [.unanswered], "\(provider.entries)")
        await assertEventuallyEqual(events.ended(callId), [.ringTimeout])
    }

    func testTwoPushesForOneCallAreBothReportedAndCompletedWithOneCallShown() async throws {
        let (stack, app) = try await newApp()
        let (voip, bob) = try await killedCallee(stack, app)
        let (_, callId, push) = try await bobCalls(stack, bob, voip)
        let (calls, provider, _, events) = try bridge(stack, app, "alice", "alice-iphone", tokens: [voip])
        let uuid = try uuid(callId)

        deliver(push, to: calls, provider, uuid)
        deliver(push, to: calls, provider, uuid)
        try await eventually("both pushes complete") {
            provider.entries.filter { $0 == .pushCompleted(insideReportOf: uuid) }.count == 2
        }
        XCTAssertEqual(provider.reportCount(uuid), 2)
        XCTAssertTrue(provider.entries.contains(.reportAnswered(uuid, .callUUIDAlreadyExists)), "\(provider.entries)")
        XCTAssertEqual(provider.shownCalls, [uuid])
        await assertEventuallyEqual(events.reported(callId), 1, "reported to the host once")
        // The woken app finishes launching: the WebSocket tells of the cancel.
        try await calls.start()
        try await bob.end()
        try await eventually("ended") { provider.endings(uuid) == [.remoteEnded] }
    }

    func testDecliningInTheSystemUIRejectsTheCallAndIsNotReportedBack() async throws {
        let woken = try await wokenByPush()
        let (outgoing, callId, calls, provider, events, uuid) =
            (woken.outgoing, woken.callId, woken.calls, woken.provider, woken.events, woken.uuid)

        await provider.end(uuid, on: calls)
        try await awaitStatus(outgoing, .rejected, "bob")
        await assertEventuallyEqual(events.ended(callId), [.rejected])
        XCTAssertEqual(provider.endings(uuid), [], "the OS ended it itself: nothing reported back")
    }

    func testAPushNamingNoCallIsReportedAndEndedAtOnceWithATypedError() async throws {
        let stack = try StackEnv.require()
        let phone = try UTDCallController(config: UTDCallsConfig(
            appId: "app_x", appKey: "pk_x", baseUrl: stack.engineUrl, userId: "alice"))
        addTeardownBlock { await phone.dispose() }
        let provider = FakeCallProvider()
        let calls = UTDCallKit(controller: phone, provider: provider)
        let events = BridgeEvents(calls)
        addTeardownBlock { events.stop() }

        calls.handleVoIPPush(payload: ["aps": [String: Any](), "type": "chat.message"], completion: provider.pushCompletion())
        guard case .reported(let uuid, _) = provider.entries.first else {
            return XCTFail("iOS demands a report for every VoIP push: \(provider.entries)")
        }
        try await eventually("the PushKit completion", within: .seconds(5)) {
            provider.entries.contains(.pushCompleted(insideReportOf: uuid))
        }
        XCTAssertEqual(
            provider.entries,
            [.reported(uuid, UTDSystemCallUpdate(displayName: "Call", handle: "unknown", hasVideo: false)),
             .reportAnswered(uuid, nil), .ended(uuid, .failed), .pushCompleted(insideReportOf: uuid)],
            "reported, ended at once, then the PushKit completion")
        await assertEventuallyEqual(events.pushRejections.first?.code(), .invalidArgument)
    }

    func testVoIPTokensAreRegisteredOnStartAndUnregisteredOnSignOut() async throws {
        let (stack, app) = try await newApp()
        let (calls, _, registry, events) = try bridge(stack, app, "alice", "alice-iphone")
        let token = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        let hex = token.map { String(format: "%02x", $0) }.joined()

        calls.voipTokenUpdated(token)
        XCTAssertEqual(calls.controller.pushTokens(), [], "kept until start")
        try await calls.start()
        XCTAssertEqual(calls.controller.pushTokens(), [UTDPushToken(platform: .apnsVoip, token: hex)])
        await assertEventuallyEqual(events.tokenRegistrations, 1)

        await calls.signOut()
        XCTAssertEqual(registry.enabled, [true, false])
        XCTAssertEqual(calls.controller.pushTokens(), [], "no push reaches a signed-out device")
    }

    func testAnOutgoingCallGoesThroughTheSystemUIAndConnectsWhenAnswered() async throws {
        let (stack, app) = try await newApp()
        let (calls, provider, _, events) = try bridge(stack, app, "bob", "bob-iphone")
        try await calls.start()
        let alice = try controller(stack, app, "alice", "alice-phone")
        let aliceEvents = record(alice)
        try await alice.`init`()

        let session = try await calls.startCall(callee: "alice", calleeName: "Alice")
        let callId = try XCTUnwrap(session.callId())
        let uuid = try XCTUnwrap(calls.uuid(forCall: callId))
        XCTAssertEqual(provider.entries.first, .startRequested(uuid, UTDSystemCallUpdate(displayName: "Alice", handle: "alice", hasVideo: false)))
        try await eventually("the start action is fulfilled and the audio session activated") {
            provider.entries.contains(.actionFulfilled("start", uuid)) && self.microphoneOn(session)
        }
        try await eventually("alice rings") { aliceEvents.incoming(callId) == 1 }
        guard case .joined = try await alice.acceptIncoming(callId: callId) else { return XCTFail("alice joins") }
        try await eventually("connected when alice answers") { provider.entries.contains(.outgoingConnected(uuid)) }

        try await alice.end()
        try await eventually("the remote hang-up ends it") { provider.endings(uuid) == [.remoteEnded] }
        await assertEventuallyEqual(events.ended(callId), [.hangupCallee])
    }
}
