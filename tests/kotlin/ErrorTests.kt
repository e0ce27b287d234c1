// The one public error and the helpers a UI branches on, built from engine
// replies exactly as the SDK builds them for its own requests.
package com.utdstream.tests

import com.utdstream.sdk.UTDErrorCode
import com.utdstream.sdk.UTDStreamException
import com.utdstream.sdk.parseEngineReply
import com.utdstream.sdk.streamTypeFromWireValue
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

private fun reply(status: Int, body: String, retryAfter: String? = null): UTDStreamException =
    parseEngineReply(status.toUShort(), body, retryAfter)

/** The helper flags of [e] in one string, so a failure shows all of them. */
private fun flags(e: UTDStreamException): String =
    listOf(
        "banned" to e.isBanned(),
        "rateLimited" to e.isRateLimited(),
        "forbidden" to e.isForbidden(),
        "featureDisabled" to e.isFeatureDisabled(),
        "signalingDisabled" to e.isSignalingDisabled(),
        "chatDisabled" to e.isChatDisabled(),
        "network" to e.isNetwork(),
    ).filter { it.second }.joinToString(",") { it.first }

fun registerErrorTests(suite: TestSuite) {
    suite.test("error: banned (403) is banned and forbidden, nothing else") {
        val e = reply(403, """{"error":{"code":"banned","message":"user u1 is banned"}}""")
        assertEquals(UTDErrorCode.BANNED, e.code())
        assertEquals(403.toUShort(), e.statusCode())
        assertEquals("banned", e.engineCode())
        assertEquals("user u1 is banned", e.message())
        assertEquals("banned,forbidden", flags(e))
        assertNull(e.retryAfterMs())
        // The thrown object shows the engine's message, like any exception.
        assertTrue(e.toString().contains("user u1 is banned"), e.toString())
    }

    suite.test("error: feature_disabled(signaling) is a plan gate for signalling only") {
        val e = reply(
            403,
            """{"error":{"code":"feature_disabled","message":"upgrade","capability":"signaling"}}""",
        )
        assertEquals(UTDErrorCode.FEATURE_DISABLED, e.code())
        assertEquals("signaling", e.capability())
        assertEquals("forbidden,featureDisabled,signalingDisabled", flags(e))
    }

    suite.test("error: feature_disabled(chat) is a plan gate for chat only") {
        val e = reply(403, """{"error":{"code":"feature_disabled","message":"upgrade","capability":"chat"}}""")
        assertEquals(UTDErrorCode.FEATURE_DISABLED, e.code())
        assertEquals("chat", e.capability())
        assertEquals("forbidden,featureDisabled,chatDisabled", flags(e))
    }

    suite.test("error: rate_limited takes its delay from the Retry-After header") {
        val e = reply(429, """{"error":{"code":"rate_limited","message":"slow down"}}""", "7")
        assertEquals(UTDErrorCode.RATE_LIMITED, e.code())
        assertEquals(429.toUShort(), e.statusCode())
        assertEquals(7000UL, e.retryAfterMs())
        assertEquals("rateLimited", flags(e))
    }

    suite.test("error: rate_limited prefers the body's retry_after_ms over the header") {
        // The body is more precise (milliseconds) than the header (seconds).
        val e = reply(429, """{"error":{"code":"rate_limited","retry_after_ms":1500}}""", "7")
        assertEquals(1500UL, e.retryAfterMs())
        assertTrue(e.isRateLimited())
        // Without a message the SDK still says what happened.
        assertTrue(e.message().contains("rate_limited"), e.message())
    }

    suite.test("error: a malformed body is still typed from the HTTP status") {
        val gateway = reply(502, "<html>bad gateway</html>")
        assertEquals(UTDErrorCode.SERVER, gateway.code())
        assertEquals(502.toUShort(), gateway.statusCode())
        assertNull(gateway.engineCode())
        assertTrue(gateway.message().contains("without a contract error body"), gateway.message())
        assertEquals("", flags(gateway))

        val proxyLimit = reply(429, "Too Many Requests", "3")
        assertEquals("rateLimited", flags(proxyLimit))
        assertEquals(3000UL, proxyLimit.retryAfterMs())

        val proxyForbidden = reply(403, "")
        assertEquals(UTDErrorCode.FORBIDDEN, proxyForbidden.code())
        assertEquals("forbidden", flags(proxyForbidden))
    }

    suite.test("error: an engine code the SDK does not know falls back to the status") {
        val e = reply(409, """{"error":{"code":"seat_taken_v2","message":"taken"}}""")
        assertEquals(UTDErrorCode.CONFLICT, e.code())
        assertEquals("seat_taken_v2", e.engineCode(), "the raw code is kept for logs")
    }

    suite.test("error: errors the SDK raises itself carry no HTTP status") {
        val e = assertFailsWith<UTDStreamException> { streamTypeFromWireValue("nope") }
        assertNull(e.statusCode())
        assertNull(e.engineCode())
        assertFalse(e.isForbidden() || e.isNetwork() || e.isRateLimited())
    }
}
