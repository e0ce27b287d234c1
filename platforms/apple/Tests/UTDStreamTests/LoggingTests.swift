// Log forwarding: records logged by the SDK's Rust tasks on its own threads
// reach a Swift listener, filtered by level, redacted, and stop on cancel().
import Foundation
import UTDStream
import XCTest

private let appKey = "pk_test_swift_app_key_9c1e"

/// Makes the SDK log from its runtime: one REST call to an engine that is not there.
private func triggerSdkRequestLog() async throws {
    let client = try UTDStreamClient(appId: "app_swift", appKey: appKey, baseUrl: "http://127.0.0.1:1")
    defer { client.dispose() }
    _ = await assertThrowsUTD { try await client.authenticate(identity: "log-trigger") }
}

@Sendable private func isAuthRequestLog(_ r: UTDLogRecord) -> Bool {
    r.target == "utd_stream::api" && r.message.contains("/api/v1/auth/session")
}

final class LoggingTests: XCTestCase {
    func testSubscriptionIsLiveUntilCancelAndCancelIsIdempotent() {
        let (_, subscription) = collectLogs(.info)
        XCTAssertFalse(subscription.isCancelled())
        subscription.cancel()
        XCTAssertTrue(subscription.isCancelled())
        subscription.cancel()
        XCTAssertTrue(subscription.isCancelled())
    }

    func testRecordLoggedByARustTaskReachesASwiftListener() async throws {
        let (collector, subscription) = collectLogs(.debug)
        defer { subscription.cancel() }
        let before = UInt64(Date().timeIntervalSince1970 * 1000)
        try await triggerSdkRequestLog()
        let record = try await XCTUnwrapAsync(
            await first(collector.records, within: .seconds(5), where: isAuthRequestLog))
        XCTAssertEqual(record.level, .debug)
        let thread = try XCTUnwrap(record.threadName, "SDK runtime threads are named")
        XCTAssertTrue(thread.hasPrefix("utd-stream"), "logged on an SDK thread, not the caller's: \(thread)")
        XCTAssertGreaterThanOrEqual(record.timestampMs + 1000, before)
        XCTAssertFalse(record.message.contains(appKey))
    }

    func testCredentialsInALoggedEngineReplyAreRedacted() async throws {
        // A stand-in engine whose 429 message echoes credentials; the SDK logs
        // 429s at WARN with the engine's message.
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
        let body = #"{"error":{"code":"rate_limited","message":"slow down Bearer utdst_leak42 then retry with "#
            + jwt + #""}}"#
        let engine = try ScriptedHTTPServer(status: 429, body: body, headers: ["Retry-After": "2"])
        defer { engine.stop() }
        let (collector, subscription) = collectLogs(.warn)
        defer { subscription.cancel() }
        let client = try UTDStreamClient(appId: "app_swift", appKey: appKey, baseUrl: engine.url)
        defer { client.dispose() }
        let error = await assertThrowsUTD { try await client.authenticate(identity: "alice") }
        XCTAssertEqual(error?.isRateLimited(), true)
        let record = try await XCTUnwrapAsync(
            await first(collector.records, within: .seconds(5)) { $0.message.contains("slow down") })
        XCTAssertEqual(record.level, .warn)
        XCTAssertTrue(record.message.contains("Bearer [redacted]"), record.message)
        XCTAssertFalse(record.message.contains("utdst_leak42"), record.message)
        XCTAssertFalse(record.message.contains("eyJ"), record.message)
    }

    func testRecordsBelowTheSubscribedLevelAreNotDelivered() async throws {
        let (warnOnly, warnSubscription) = collectLogs(.warn)
        let (debug, debugSubscription) = collectLogs(.debug)
        defer {
            warnSubscription.cancel()
            debugSubscription.cancel()
        }
        try await triggerSdkRequestLog()
        // The DEBUG listener seeing the record proves it was logged.
        let seen = await first(debug.records, within: .seconds(5), where: isAuthRequestLog)
        XCTAssertNotNil(seen)
        let leaked = await first(warnOnly.records, within: .milliseconds(300), where: isAuthRequestLog)
        XCTAssertNil(leaked, "a WARN listener got a DEBUG record")
    }

    func testNothingArrivesAfterCancel() async throws {
        let (cancelled, cancelledSubscription) = collectLogs(.debug)
        let (witness, witnessSubscription) = collectLogs(.debug)
        defer { witnessSubscription.cancel() }
        cancelledSubscription.cancel()
        try await triggerSdkRequestLog()
        // Records go out in order to all live listeners: once the witness has
        // this one, the cancelled listener would have had it too.
        let seen = await first(witness.records, within: .seconds(5), where: isAuthRequestLog)
        XCTAssertNotNil(seen)
        let late = await first(cancelled.records, within: .milliseconds(300))
        XCTAssertNil(late, "a record arrived after cancel()")
    }
}

/// XCTUnwrap for a value computed by an `await` expression.
func XCTUnwrapAsync<T>(
    _ value: @autoclosure () async throws -> T?,
    file: StaticString = #filePath,
    line: UInt = #line
) async throws -> T {
    let result = try await value()
    return try XCTUnwrap(result, file: file, line: line)
}
