// The README's iOS set-up, compiled and run here with the fakes in place of
// CallKit and PushKit (on a phone: UTDCallKitProvider and UTDPushKitRegistry,
// the README's Apple-only lines), and checked to be in README.md verbatim.
import Foundation
import UTDStream
import UTDStreamCallKit
import XCTest

// README-SNIPPET-BEGIN
/// From application(_:didFinishLaunchingWithOptions:): a VoIP push can
/// launch the app with nothing else running, and PushKit delivers it as
/// soon as the registry exists.
func makeCalls(
    config: UTDCallsConfig, provider: any UTDCallProviding, pushes: any UTDVoIPPushRegistering
) throws -> UTDCallKit {
    let controller = try UTDCallController(config: config)
    let calls = UTDCallKit(controller: controller, provider: provider, registry: pushes)
    Task { try await calls.start() } // signs in, connects, enables VoIP pushes
    return calls
}
// README-SNIPPET-END

final class CallKitSnippetTests: XCTestCase {
    func testTheReadmeSetUpStartsTheBridgeAndRingsTheSystemUI() async throws {
        let (stack, app) = try await newApp()
        let provider = FakeCallProvider()
        let pushes = FakeVoIPRegistry()
        let calls = try makeCalls(
            config: UTDCallsConfig(
                appId: app.appId, appKey: app.appKey, baseUrl: stack.engineUrl,
                userId: "alice", userName: "Alice", deviceId: "alice-iphone"),
            provider: provider, pushes: pushes)
        addTeardownBlock { await calls.controller.dispose() }
        try await eventually("started") { calls.controller.signalingEnabled() == true && pushes.enabled == [true] }

        let bob = try controller(stack, app, "bob", "bob-phone")
        try await bob.`init`()
        let outgoing = try await bob.startCall(callee: "alice", calleeName: nil, streamType: .audioCall)
        let uuid = try XCTUnwrap(UUID(uuidString: callKitUuid(callId: try XCTUnwrap(outgoing.callId()))))
        try await eventually("the call rings in the system UI") { provider.shownCalls == [uuid] }
        try await bob.end()
        try await eventually("and stops") { provider.endings(uuid) == [.remoteEnded] }
    }

    func testTheReadmeCarriesTheSnippetVerbatim() throws {
        let source = try String(contentsOfFile: #filePath, encoding: .utf8).components(separatedBy: "\n")
        let begin = try XCTUnwrap(source.firstIndex(of: "// README-SNIPPET-BEGIN"))
        let end = try XCTUnwrap(source.firstIndex(of: "// README-SNIPPET-END"))
        let snippet = source[(begin + 1)..<end].joined(separator: "\n")
        let readme = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().appendingPathComponent("../../../../README.md").standardizedFileURL
        let text = try String(contentsOf: readme, encoding: .utf8)
        XCTAssertTrue(text.contains(snippet), "README.md's iOS section differs from the compiled snippet")
    }
}
