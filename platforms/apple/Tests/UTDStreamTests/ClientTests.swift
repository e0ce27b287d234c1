// UTDStreamClient's async calls awaited from Swift tasks, against stand-ins
// for the engine and against the real engine from utd-stack.
import Foundation
import UTDStream
import XCTest

final class ClientTests: XCTestCase {
    func testAuthenticateAgainstAnUnreachableEngineThrowsANetworkError() async throws {
        let client = try UTDStreamClient(appId: "app_swift", appKey: "pk_test", baseUrl: "http://127.0.0.1:1")
        defer { client.dispose() }
        let error = await assertThrowsUTD { try await client.authenticate(identity: "alice") }
        XCTAssertEqual(error?.code(), .network)
        XCTAssertEqual(error?.isNetwork(), true)
        XCTAssertNil(error?.statusCode(), "no HTTP reply, no status")
        XCTAssertNil(client.identity(), "a failed authenticate leaves no identity")
    }

    func testAnEngine429SurfacesIsRateLimitedWithItsDelay() async throws {
        let engine = try ScriptedHTTPServer(
            status: 429, body: #"{"error":{"code":"rate_limited","message":"slow down"}}"#,
            headers: ["Retry-After": "4"])
        defer { engine.stop() }
        let client = try UTDStreamClient(appId: "app_swift", appKey: "pk_test", baseUrl: engine.url)
        defer { client.dispose() }
        let error = await assertThrowsUTD { try await client.authenticate(identity: "alice") }
        XCTAssertEqual(error?.isRateLimited(), true)
        XCTAssertEqual(error?.retryAfterMs(), 4000)
        XCTAssertEqual(error?.statusCode(), 429)
        let request = try await XCTUnwrapAsync(await first(engine.requests, within: .seconds(2)))
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/api/v1/auth/session")
        XCTAssertTrue(request.head.lowercased().contains("x-utd-app-id: app_swift"), request.head)
        XCTAssertTrue(request.body.contains(#""alice""#), request.body)
    }

    func testBadArgumentsAreRejectedBeforeAnythingIsSent() async throws {
        XCTAssertEqual(
            assertThrowsUTDSync {
                try UTDStreamClient(appId: "", appKey: "pk_test", baseUrl: "http://127.0.0.1:1")
            }?.code(), .invalidArgument)
        XCTAssertEqual(
            assertThrowsUTDSync {
                try UTDStreamClient(appId: "app", appKey: "pk_test", baseUrl: "ftp://127.0.0.1/")
            }?.code(), .invalidArgument)
        let engine = try ScriptedHTTPServer(status: 500, body: "{}")
        defer { engine.stop() }
        let client = try UTDStreamClient(appId: "app_swift", appKey: "pk_test", baseUrl: engine.url)
        defer { client.dispose() }
        let error = await assertThrowsUTD { try await client.authenticate(identity: "not an identity!") }
        XCTAssertEqual(error?.code(), .invalidArgument)
        let sent = await first(engine.requests, within: .milliseconds(200))
        XCTAssertNil(sent, "nothing reached the engine")
    }

    func testConnectBeforeAuthenticateIsAnInvalidStateError() async throws {
        let client = try UTDStreamClient(appId: "app_swift", appKey: "pk_test", baseUrl: "http://127.0.0.1:1")
        defer { client.dispose() }
        let error = await assertThrowsUTD { try await client.connect() }
        XCTAssertEqual(error?.code(), .invalidState)
    }

    func testADisposedClientRefusesCalls() async throws {
        let client = try UTDStreamClient(appId: "app_swift", appKey: "pk_test", baseUrl: "http://127.0.0.1:1")
        client.dispose()
        let error = await assertThrowsUTD { try await client.authenticate(identity: "alice") }
        XCTAssertEqual(error?.code(), .disposed)
    }

    func testTheRealEngineRefusesAnUnknownAppAsUnauthenticated() async throws {
        // Also proves the chroot reaches utd-stack's engine on the host loopback.
        let stack = try StackEnv.require()
        let client = try UTDStreamClient(appId: "app_does_not_exist", appKey: "pk_wrong", baseUrl: stack.engineUrl)
        defer { client.dispose() }
        let error = await assertThrowsUTD { try await client.authenticate(identity: "alice") }
        XCTAssertEqual(error?.code(), .unauthenticated)
        XCTAssertEqual(error?.statusCode(), 401)
        XCTAssertEqual(error?.engineCode(), "unauthenticated")
    }
}
