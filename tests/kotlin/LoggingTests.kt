// Log forwarding: records logged by the SDK's Rust tasks on its own threads
// reach a Kotlin listener, filtered by level, redacted, and stop on cancel().
package com.utdstream.tests

import com.utdstream.sdk.UTDLogLevel
import com.utdstream.sdk.UTDStreamClient
import com.utdstream.sdk.UTDStreamException
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.delay

private const val APP_KEY = "pk_test_kotlin_app_key_7f3a"

/** Makes the SDK log from its runtime: one REST call to an engine that is not there. */
private suspend fun triggerSdkRequestLog() {
    val client = UTDStreamClient("app_kotlin", APP_KEY, "http://127.0.0.1:1")
    try {
        assertFailsWith<UTDStreamException> { client.authenticate("log-trigger") }
    } finally {
        client.dispose()
    }
}

private fun isAuthRequestLog(r: com.utdstream.sdk.UTDLogRecord) =
    r.target == "utd_stream::api" && r.message.contains("/api/v1/auth/session")

fun registerLoggingTests(suite: TestSuite) {
    suite.test("logs: a subscription is live until cancel(), and cancel() is idempotent") {
        val (_, subscription) = collectLogs(UTDLogLevel.INFO)
        assertFalse(subscription.isCancelled())
        subscription.cancel()
        assertTrue(subscription.isCancelled())
        subscription.cancel()
        assertTrue(subscription.isCancelled())
    }

    suite.asyncTest("logs: a record logged by a Rust task on an SDK thread reaches a Kotlin listener") {
        val (collector, subscription) = collectLogs(UTDLogLevel.DEBUG)
        try {
            val before = System.currentTimeMillis()
            triggerSdkRequestLog()
            val record = assertNotNull(collector.awaitRecord(5.seconds, ::isAuthRequestLog), "the request log arrives")
            assertEquals(UTDLogLevel.DEBUG, record.level)
            val thread = assertNotNull(record.threadName, "SDK runtime threads are named")
            assertTrue(thread.startsWith("utd-stream"), "logged on an SDK runtime thread, not the caller's: $thread")
            assertTrue(record.timestampMs.toLong() in (before - 1_000)..(System.currentTimeMillis() + 1_000))
            // Nothing the SDK forwards may carry the app key.
            val all = listOf(record) + collector.drain()
            assertTrue(all.none { it.message.contains(APP_KEY) }, "app key leaked into logs: $all")
        } finally {
            subscription.cancel()
        }
    }

    suite.asyncTest("logs: credentials in a logged engine reply are redacted before they reach the app") {
        // A stand-in engine whose 429 message echoes credentials; the SDK logs
        // 429s at WARN with the engine's message.
        val jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
        val body = """{"error":{"code":"rate_limited","message":"slow down Bearer utdst_leak42 then retry with $jwt"}}"""
        ScriptedHttpServer(429, body, mapOf("Retry-After" to "2")).use { engine ->
            val (collector, subscription) = collectLogs(UTDLogLevel.WARN)
            try {
                val client = UTDStreamClient("app_kotlin", APP_KEY, engine.url)
                val error = assertFailsWith<UTDStreamException> { client.authenticate("alice") }
                client.dispose()
                assertTrue(error.isRateLimited())
                val record = assertNotNull(
                    collector.awaitRecord(5.seconds) { it.message.contains("slow down") },
                    "the 429 is logged at WARN",
                )
                assertEquals(UTDLogLevel.WARN, record.level)
                assertTrue(record.message.contains("Bearer [redacted]"), record.message)
                assertFalse(record.message.contains("utdst_leak42"), record.message)
                assertFalse(record.message.contains(jwt), record.message)
                assertFalse(record.message.contains("eyJ"), record.message)
            } finally {
                subscription.cancel()
            }
        }
    }

    suite.asyncTest("logs: records below the subscribed level are not delivered") {
        val (warnOnly, warnSubscription) = collectLogs(UTDLogLevel.WARN)
        val (debug, debugSubscription) = collectLogs(UTDLogLevel.DEBUG)
        try {
            triggerSdkRequestLog()
            // The DEBUG listener seeing the record proves it was logged.
            assertNotNull(debug.awaitRecord(5.seconds, ::isAuthRequestLog))
            delay(200.milliseconds)
            val leaked = warnOnly.drain().filter(::isAuthRequestLog)
            assertTrue(leaked.isEmpty(), "a WARN listener got DEBUG records: $leaked")
        } finally {
            warnSubscription.cancel()
            debugSubscription.cancel()
        }
    }

    suite.asyncTest("logs: nothing arrives after cancel()") {
        val (cancelled, cancelledSubscription) = collectLogs(UTDLogLevel.DEBUG)
        val (witness, witnessSubscription) = collectLogs(UTDLogLevel.DEBUG)
        try {
            cancelledSubscription.cancel()
            triggerSdkRequestLog()
            // Records go out in order to all live listeners; once the witness
            // has this one, the cancelled listener would have had it too.
            assertNotNull(witness.awaitRecord(5.seconds, ::isAuthRequestLog))
            delay(200.milliseconds)
            val late = cancelled.drain()
            assertTrue(late.isEmpty(), "records after cancel(): $late")
        } finally {
            witnessSubscription.cancel()
        }
    }
}
