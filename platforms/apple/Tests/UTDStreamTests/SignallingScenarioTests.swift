// Issue 3 end to end from Swift: the scenarios of tests/client_signalling.rs
// against the real engine of utd-stack (authenticate, plan flags including
// the null case, presence, reconnect after an engine restart with fresh
// flags, bans, the plan gate and rate limits). Each test makes its own app
// through the admin API, so plans, bans and limits never leak between tests.
// Waits go through the AsyncStream extensions of AsyncStreams.swift.
import Foundation
import UTDStream
import XCTest

final class SignallingScenarioTests: XCTestCase {
    private static let wait: Duration = .seconds(15)

    /// A fresh app on `plan` in the stack's engine.
    private func newApp(_ plan: String) async throws -> (StackEnv, AdminApp) {
        let stack = try StackEnv.require()
        let app = try await stack.admin.createApp(name: "swift-scenario-\(UUID().uuidString)", plan: plan)
        return (stack, app)
    }

    private func makeClient(_ stack: StackEnv, _ app: AdminApp) throws -> UTDStreamClient {
        try UTDStreamClient(appId: app.appId, appKey: app.appKey, baseUrl: stack.engineUrl)
    }

    /// Waits for a connection state matching `predicate` (the current one counts).
    private func awaitState(
        _ client: UTDStreamClient, _ what: String, within timeout: Duration = wait,
        file: StaticString = #filePath, line: UInt = #line,
        where predicate: @escaping @Sendable (UTDConnectionState) -> Bool
    ) async throws -> UTDConnectionState {
        guard let state = await first(client.connectionStates(), within: timeout, where: predicate) else {
            XCTFail("\(what): not within \(timeout); state is \(client.connectionState())", file: file, line: line)
            throw StackError(what)
        }
        return state
    }

    /// Waits for a presence snapshot matching `predicate` (the current one counts).
    private func awaitPresence(
        _ client: UTDStreamClient, _ what: String,
        file: StaticString = #filePath, line: UInt = #line,
        where predicate: @escaping @Sendable ([UTDPresence]) -> Bool
    ) async throws -> [UTDPresence] {
        guard let snapshot = await first(client.presenceUpdates(), within: Self.wait, where: predicate) else {
            XCTFail("\(what): not within \(Self.wait); presence is \(client.presence())", file: file, line: line)
            throw StackError(what)
        }
        return snapshot
    }

    func testAuthenticateReturnsABearerAndTheFlagsOfEachPlan() async throws {
        let expectations: [(String, Bool, Bool)] = [
            ("free", false, false),
            ("signaling", true, false),
            ("pro", true, true),
            ("enterprise", true, true),
        ]
        for (plan, signaling, chat) in expectations {
            let (stack, app) = try await newApp(plan)
            let client = try makeClient(stack, app)
            defer { client.dispose() }
            XCTAssertNil(client.identity())
            let token = try await client.authenticate(identity: "alice", name: "Alice", deviceId: "phone-1")
            XCTAssertTrue(token.hasPrefix("utdst_"), "plan \(plan): bearer has the engine's prefix")
            XCTAssertEqual(client.identity(), "alice")
            XCTAssertEqual(client.signalingEnabled(), signaling, "plan \(plan)")
            XCTAssertEqual(client.chatEnabled(), chat, "plan \(plan)")
            let caps = client.capabilities()
            XCTAssertEqual(caps.plan, plan)
            XCTAssertNotNil(caps.limits, "plan \(plan) reports limits")
            XCTAssertNotNil(client.planLimits(), "plan \(plan) reports limits")
        }
    }

    func testFlagsAreNilWhenTheEngineDoesNotReportThem() async throws {
        let (stack, app) = try await newApp("pro")
        try await stack.admin.setPlan(appId: app.appId, plan: "pro", reportCapabilities: false)
        let client = try makeClient(stack, app)
        defer { client.dispose() }
        _ = try await client.authenticate(identity: "bob")
        XCTAssertNil(client.signalingEnabled())
        XCTAssertNil(client.chatEnabled())
        XCTAssertNil(client.planLimits())
        // The stream agrees with the getters: its first value is the current one.
        let caps = await first(client.capabilityUpdates(), within: .seconds(2))
        XCTAssertNotNil(caps)
        XCTAssertNil(caps?.signalingEnabled)
        XCTAssertNil(caps?.chatEnabled)
        XCTAssertNil(caps?.limits)
    }

    func testASecondUserSeesPresenceComeAndGo() async throws {
        let (stack, app) = try await newApp("signaling")
        let alice = try makeClient(stack, app)
        let bob = try makeClient(stack, app)
        defer {
            alice.dispose()
            bob.dispose()
        }
        _ = try await alice.authenticate(identity: "alice")
        _ = try await bob.authenticate(identity: "bob")
        try await alice.connect()
        XCTAssertEqual(alice.connectionState(), .connected)

        try await alice.watchPresence(identities: ["bob"])
        _ = try await awaitPresence(alice, "bob reported offline") {
            $0.contains { $0.identity == "bob" && !$0.online }
        }

        try await bob.connect()
        _ = try await awaitPresence(alice, "bob seen online") {
            $0.contains { $0.identity == "bob" && $0.online }
        }

        await bob.disconnect()
        let offline = try await awaitPresence(alice, "bob seen offline with a last-seen time") {
            $0.contains { $0.identity == "bob" && !$0.online && $0.lastSeenMs != nil }
        }
        let lastSeen = try XCTUnwrap(offline.first { $0.identity == "bob" }?.lastSeenMs)
        XCTAssertGreaterThan(lastSeen, 0)

        try await alice.unwatchPresence(identities: ["bob"])
        XCTAssertTrue(alice.presence().isEmpty, "\(alice.presence())")
        await alice.disconnect()
        XCTAssertEqual(alice.connectionState(), .disconnected)
    }

    func testTheClientReconnectsByItselfAfterAnEngineRestartWithFreshFlags() async throws {
        let (stack, app) = try await newApp("signaling")
        let alice = try makeClient(stack, app)
        let bob = try makeClient(stack, app)
        defer {
            alice.dispose()
            bob.dispose()
        }
        _ = try await alice.authenticate(identity: "alice")
        _ = try await bob.authenticate(identity: "bob")
        try await alice.connect()
        try await alice.watchPresence(identities: ["bob"])
        XCTAssertEqual(alice.chatEnabled(), false)

        // The plan changes while alice is connected; she learns it on reconnect.
        try await stack.admin.setPlan(appId: app.appId, plan: "pro")
        // One stream over the whole restart: it must show Reconnecting and
        // then Connected, in that order.
        // Nothing between stop and start throws, so the shared engine is
        // always started again for the tests after this one.
        let states = alice.connectionStates()
        try await stack.stopEngine()
        do {
            let dropped = await first(states, within: Self.wait) {
                if case .reconnecting = $0 { return true }
                return false
            }
            XCTAssertNotNil(dropped, "alice notices the engine is gone; state \(alice.connectionState())")
        }
        try await stack.startEngine()
        let back = await first(states, within: .seconds(45)) { $0 == .connected }
        XCTAssertEqual(back, .connected, "alice reconnected by herself; state \(alice.connectionState())")
        guard back == .connected else { return }
        XCTAssertEqual(alice.chatEnabled(), true, "flags refreshed from the reconnect")
        XCTAssertEqual(alice.signalingEnabled(), true)
        XCTAssertEqual(alice.capabilities().plan, "pro")

        // The watch was replayed: bob coming online is still seen.
        try await bob.connect()
        _ = try await awaitPresence(alice, "bob seen online after the restart") {
            $0.contains { $0.identity == "bob" && $0.online }
        }
        await alice.disconnect()
        await bob.disconnect()
    }

    func testABannedUserIsDroppedWhenConnectedAndRefusedAfterwards() async throws {
        let (stack, app) = try await newApp("signaling")
        let mallory = try makeClient(stack, app)
        defer { mallory.dispose() }
        _ = try await mallory.authenticate(identity: "mallory")
        try await mallory.connect()

        try await stack.admin.ban(appId: app.appId, identity: "mallory")
        _ = try await awaitState(mallory, "connected client told it is banned") {
            if case .failed(let code, _) = $0 { return code == "banned" }
            return false
        }

        let error = await assertThrowsUTD { try await mallory.authenticate(identity: "mallory") }
        XCTAssertEqual(error?.isBanned(), true)
        XCTAssertEqual(error?.isForbidden(), true)
        XCTAssertEqual(error?.statusCode(), 403)
        XCTAssertEqual(error?.isFeatureDisabled(), false)

        try await stack.admin.unban(appId: app.appId, identity: "mallory")
        _ = try await mallory.authenticate(identity: "mallory")
    }

    func testTheFreePlanGatesSignallingWithTheUpsellHelpers() async throws {
        let (stack, app) = try await newApp("free")
        let client = try makeClient(stack, app)
        defer { client.dispose() }
        _ = try await client.authenticate(identity: "carol")
        XCTAssertEqual(client.signalingEnabled(), false)

        let error = await assertThrowsUTD { try await client.connect() }
        XCTAssertEqual(error?.isFeatureDisabled(), true)
        XCTAssertEqual(error?.isSignalingDisabled(), true)
        XCTAssertEqual(error?.isChatDisabled(), false)
        XCTAssertEqual(error?.isForbidden(), true)
        XCTAssertEqual(error?.isBanned(), false)
        XCTAssertEqual(error?.capability(), "signaling")
        guard case .failed = client.connectionState() else {
            return XCTFail("expected a failed state, got \(client.connectionState())")
        }
    }

    func testTooManyRequestsSurfaceIsRateLimitedWithADelay() async throws {
        let (stack, app) = try await newApp("pro")
        try await stack.admin.setRateLimits(appId: app.appId, perUserPerMinute: 3, perAppPerMinute: 1000)
        let client = try makeClient(stack, app)
        defer { client.dispose() }
        var limited: UTDStreamError?
        for _ in 0..<10 {
            do {
                _ = try await client.authenticate(identity: "dave")
            } catch let error as UTDStreamError {
                limited = error
                break
            }
        }
        let error = try XCTUnwrap(limited, "the 4th request within a minute is limited")
        XCTAssertTrue(error.isRateLimited(), "\(error)")
        XCTAssertEqual(error.statusCode(), 429)
        let delay = try XCTUnwrap(error.retryAfterMs(), "a retry delay")
        XCTAssertTrue(delay > 0 && delay <= 60_000, "delay \(delay) ms")
    }
}
