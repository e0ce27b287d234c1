// UTDStreamClient's async calls awaited from coroutines, against stand-ins for
// the engine (unreachable, silent, scripted). Scenarios against the real
// engine read UTD_STACK_ENV (see StackTests.kt).
package com.utdstream.tests

import com.utdstream.sdk.UTDErrorCode
import com.utdstream.sdk.UTDStreamClient
import com.utdstream.sdk.UTDStreamException
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull

fun registerClientTests(suite: TestSuite) {
    suite.asyncTest("client: authenticate() against an unreachable engine throws a network error") {
        val client = UTDStreamClient("app_kotlin", "pk_test", "http://127.0.0.1:1")
        try {
            val error = assertFailsWith<UTDStreamException> { client.authenticate("alice") }
            assertEquals(UTDErrorCode.NETWORK, error.code())
            assertTrue(error.isNetwork())
            assertNull(error.statusCode(), "no HTTP reply, no status")
            assertNull(client.identity(), "a failed authenticate leaves no identity")
        } finally {
            client.dispose()
        }
    }

    suite.asyncTest("client: an engine 429 surfaces isRateLimited with the Retry-After delay") {
        ScriptedHttpServer(429, """{"error":{"code":"rate_limited","message":"slow down"}}""", mapOf("Retry-After" to "4"))
            .use { engine ->
                val client = UTDStreamClient("app_kotlin", "pk_test", engine.url)
                try {
                    val error = assertFailsWith<UTDStreamException> { client.authenticate("alice") }
                    assertTrue(error.isRateLimited())
                    assertEquals(4000UL, error.retryAfterMs())
                    assertEquals(429.toUShort(), error.statusCode())
                    val request = assertNotNull(engine.requests.poll())
                    assertEquals("POST", request.method)
                    assertEquals("/api/v1/auth/session", request.path)
                    assertEquals("app_kotlin", request.headers["x-utd-app-id"])
                    assertTrue(request.body.contains("\"alice\""), request.body)
                } finally {
                    client.dispose()
                }
            }
    }

    suite.asyncTest("client: cancelling the awaiting coroutine aborts the request in flight") {
        SilentServer().use { engine ->
            val client = UTDStreamClient("app_kotlin", "pk_test", engine.url)
            try {
                val result = withTimeoutOrNull(500.milliseconds) { client.authenticate("alice") }
                assertNull(result, "the silent engine never answers")
                val connection = assertNotNull(engine.awaitConnection(2_000), "the request was sent")
                // The SDK drops its side of the connection once nobody waits.
                val closed = withContext(Dispatchers.IO) { peerCloses(connection, 5_000) }
                assertTrue(closed, "the SDK kept the cancelled request's connection open")
            } finally {
                client.dispose()
            }
        }
    }

    suite.asyncTest("client: bad arguments are rejected before anything is sent") {
        assertEquals(
            UTDErrorCode.INVALID_ARGUMENT,
            assertFailsWith<UTDStreamException> { UTDStreamClient("", "pk_test", "http://127.0.0.1:1") }.code(),
        )
        assertEquals(
            UTDErrorCode.INVALID_ARGUMENT,
            assertFailsWith<UTDStreamException> { UTDStreamClient("app", "pk_test", "ftp://127.0.0.1/") }.code(),
        )
        SilentServer().use { engine ->
            val client = UTDStreamClient("app_kotlin", "pk_test", engine.url)
            try {
                val error = assertFailsWith<UTDStreamException> { client.authenticate("not an identity!") }
                assertEquals(UTDErrorCode.INVALID_ARGUMENT, error.code())
                assertNull(engine.awaitConnection(200), "nothing reached the engine")
            } finally {
                client.dispose()
            }
        }
    }

    suite.asyncTest("client: connect() before authenticate() is an INVALID_STATE error") {
        val client = UTDStreamClient("app_kotlin", "pk_test", "http://127.0.0.1:1")
        try {
            val error = assertFailsWith<UTDStreamException> { client.connect() }
            assertEquals(UTDErrorCode.INVALID_STATE, error.code())
        } finally {
            client.dispose()
        }
    }

    suite.asyncTest("client: a disposed client refuses calls with DISPOSED") {
        val client = UTDStreamClient("app_kotlin", "pk_test", "http://127.0.0.1:1")
        client.dispose()
        val error = assertFailsWith<UTDStreamException> { client.authenticate("alice") }
        assertEquals(UTDErrorCode.DISPOSED, error.code())
    }
}
