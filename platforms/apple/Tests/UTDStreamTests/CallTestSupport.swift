// What the calls-kit scenarios share (ColdStartTests, CallKitBridgeTests):
// an app on utd-stack with push stand-ins, VoIP tokens, controllers that
// are disposed with the test, and the pushes the APNs stand-in received.
import Foundation
import UTDStream
import XCTest

/// How long a calls-kit scenario waits for one step.
let callWait: Duration = .seconds(10)

extension XCTestCase {
    /// The stack (with push stand-ins) and a fresh app on `plan`.
    func newApp(plan: String = "signaling") async throws -> (StackEnv, AdminApp) {
        let stack = try StackEnv.require()
        guard stack.apnsUrl != nil, stack.fcmUrl != nil else {
            throw StackError("utd-stack runs no push stand-ins (no apns_url / fcm_url in its env file)")
        }
        let app = try await stack.admin.createApp(name: "swift-calls-\(UUID().uuidString)", plan: plan)
        return (stack, app)
    }

    /// A VoIP token as PushKit hands it out: 32 bytes as 64 hex characters
    /// (random: this test's own).
    func voipToken() -> UTDPushToken {
        UTDPushToken(
            platform: .apnsVoip,
            token: (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined())
    }

    /// A controller of `user` on `device`, disposed when the test ends.
    func controller(
        _ stack: StackEnv, _ app: AdminApp, _ user: String, _ device: String,
        tokens: [UTDPushToken] = [], stateDirectory: URL? = nil
    ) throws -> UTDCallController {
        let config = UTDCallsConfig(
            appId: app.appId, appKey: app.appKey, baseUrl: stack.engineUrl,
            userId: user, userName: user.uppercased(), deviceId: device,
            pushTokens: tokens, stateDirectory: stateDirectory?.path)
        let controller = try UTDCallController(config: config)
        addTeardownBlock { await controller.dispose() }
        return controller
    }

    /// A fresh app-private directory (Application Support), deleted when the test ends.
    func stateDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("utd-coldstart-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// `controller`'s events from now on, until the test ends.
    func record(_ controller: UTDCallController) -> ControllerEvents {
        let events = ControllerEvents(controller)
        addTeardownBlock { events.stop() }
        return events
    }

    /// `user`'s app on `device` starts once, registers `token`, and is killed.
    func registerThenKill(
        _ stack: StackEnv, _ app: AdminApp, _ user: String, _ device: String, _ token: UTDPushToken
    ) async throws {
        let phone = try controller(stack, app, user, device, tokens: [token])
        try await phone.`init`()
        XCTAssertEqual(phone.pushTokens(), [token], "\(device) registered its VoIP token")
        await phone.dispose()
    }

    /// The first VoIP push to `token` matching `predicate`, polled from utd-stack.
    func voipPush(
        _ stack: StackEnv, _ token: UTDPushToken, _ what: String,
        file: StaticString = #filePath, line: UInt = #line,
        where predicate: (RecordedVoIPPush) -> Bool = { _ in true }
    ) async throws -> RecordedVoIPPush {
        let deadline = ContinuousClock.now + callWait
        while true {
            let pushes = try await stack.apnsPushes()
            if let push = pushes.first(where: { $0.deviceToken == token.token && predicate($0) }) { return push }
            guard ContinuousClock.now < deadline else {
                XCTFail("\(what): not within \(callWait); the APNs stand-in received \(pushes)", file: file, line: line)
                throw StackError("timed out waiting for: \(what)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits until `session`'s status is `expected` (the current one counts).
    @discardableResult
    func awaitStatus(
        _ session: UTDCallSession, _ expected: UTDCallStatus, _ who: String,
        within timeout: Duration = callWait,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws -> UTDCallStatus {
        try await awaitElement(
            session.statusUpdates(), "\(who) sees \(expected)", within: timeout, file: file, line: line
        ) { $0 == expected }
    }
}
