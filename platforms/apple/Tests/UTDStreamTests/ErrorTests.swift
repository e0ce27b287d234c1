// The one public error and the helpers a UI branches on, built from engine
// replies exactly as the SDK builds them for its own requests.
import UTDStream
import XCTest

private func reply(_ status: UInt16, _ body: String, retryAfter: String? = nil) -> UTDStreamError {
    parseEngineReply(statusCode: status, body: body, retryAfter: retryAfter)
}

/// The helper flags that are on, in one string, so a failure shows all of them.
private func flags(_ e: UTDStreamError) -> String {
    [
        ("banned", e.isBanned()),
        ("rateLimited", e.isRateLimited()),
        ("forbidden", e.isForbidden()),
        ("featureDisabled", e.isFeatureDisabled()),
        ("signalingDisabled", e.isSignalingDisabled()),
        ("chatDisabled", e.isChatDisabled()),
        ("network", e.isNetwork()),
    ].filter { $0.1 }.map { $0.0 }.joined(separator: ",")
}

final class ErrorTests: XCTestCase {
    func testBannedIsBannedAndForbiddenOnly() {
        let e = reply(403, #"{"error":{"code":"banned","message":"user u1 is banned"}}"#)
        XCTAssertEqual(e.code(), .banned)
        XCTAssertEqual(e.statusCode(), 403)
        XCTAssertEqual(e.engineCode(), "banned")
        XCTAssertEqual(e.message(), "user u1 is banned")
        XCTAssertEqual(flags(e), "banned,forbidden")
        XCTAssertNil(e.retryAfterMs())
        // What a `catch` shows the user.
        XCTAssertTrue("\(e)".contains("user u1 is banned"), "\(e)")
    }

    func testSignalingGateIsAPlanGateForSignalingOnly() {
        let e = reply(403, #"{"error":{"code":"feature_disabled","message":"upgrade","capability":"signaling"}}"#)
        XCTAssertEqual(e.code(), .featureDisabled)
        XCTAssertEqual(e.capability(), "signaling")
        XCTAssertEqual(flags(e), "forbidden,featureDisabled,signalingDisabled")
    }

    func testChatGateIsAPlanGateForChatOnly() {
        let e = reply(403, #"{"error":{"code":"feature_disabled","message":"upgrade","capability":"chat"}}"#)
        XCTAssertEqual(e.code(), .featureDisabled)
        XCTAssertEqual(e.capability(), "chat")
        XCTAssertEqual(flags(e), "forbidden,featureDisabled,chatDisabled")
    }

    func testRateLimitedTakesItsDelayFromRetryAfter() {
        let e = reply(429, #"{"error":{"code":"rate_limited","message":"slow down"}}"#, retryAfter: "7")
        XCTAssertEqual(e.code(), .rateLimited)
        XCTAssertEqual(e.statusCode(), 429)
        XCTAssertEqual(e.retryAfterMs(), 7000)
        XCTAssertEqual(flags(e), "rateLimited")
    }

    func testRateLimitedPrefersTheBodyDelayOverTheHeader() {
        let e = reply(429, #"{"error":{"code":"rate_limited","retry_after_ms":1500}}"#, retryAfter: "7")
        XCTAssertEqual(e.retryAfterMs(), 1500)
        XCTAssertTrue(e.isRateLimited())
        XCTAssertTrue(e.message().contains("rate_limited"), e.message())
    }

    func testMalformedBodyIsStillTypedFromTheStatus() {
        let gateway = reply(502, "<html>bad gateway</html>")
        XCTAssertEqual(gateway.code(), .server)
        XCTAssertEqual(gateway.statusCode(), 502)
        XCTAssertNil(gateway.engineCode())
        XCTAssertTrue(gateway.message().contains("without a contract error body"), gateway.message())
        XCTAssertEqual(flags(gateway), "")

        let proxyLimit = reply(429, "Too Many Requests", retryAfter: "3")
        XCTAssertEqual(flags(proxyLimit), "rateLimited")
        XCTAssertEqual(proxyLimit.retryAfterMs(), 3000)

        let proxyForbidden = reply(403, "")
        XCTAssertEqual(proxyForbidden.code(), .forbidden)
        XCTAssertEqual(flags(proxyForbidden), "forbidden")
    }

    func testUnknownEngineCodeFallsBackToTheStatus() {
        let e = reply(409, #"{"error":{"code":"seat_taken_v2","message":"taken"}}"#)
        XCTAssertEqual(e.code(), .conflict)
        XCTAssertEqual(e.engineCode(), "seat_taken_v2")
    }

    func testErrorsRaisedByTheSDKItselfCarryNoStatus() {
        let e = assertThrowsUTDSync { try streamTypeFromWireValue(value: "nope") }
        XCTAssertNil(e?.statusCode())
        XCTAssertNil(e?.engineCode())
        XCTAssertEqual(e?.isForbidden(), false)
        XCTAssertEqual(e?.isNetwork(), false)
    }
}
