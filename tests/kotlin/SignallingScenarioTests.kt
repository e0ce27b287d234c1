// Issue 3 end to end from Kotlin: the scenarios of tests/client_signalling.rs
// against the real engine of utd-stack (authenticate, plan flags including
// the null case, presence, reconnect after an engine restart with fresh
// flags, bans, the plan gate and rate limits). Each test makes its own app
// through the admin API, so plans, bans and limits never leak between tests.
package com.utdstream.tests

import com.utdstream.sdk.UTDConnectionState
import com.utdstream.sdk.UTDStreamClient
import com.utdstream.sdk.UTDStreamException
import com.utdstream.sdk.connectionStateFlow
import com.utdstream.sdk.presenceFlow
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout

private val WAIT = 15.seconds
private val appCounter = AtomicInteger()

/** A fresh app on [plan] in the stack's engine, and the admin that made it. */
private fun newApp(plan: String): Triple<StackEnv, EngineAdmin, AdminApp> {
    val stack = StackEnv.require()
    val admin = EngineAdmin(stack)
    val app = admin.createApp("kt-scenario-${appCounter.incrementAndGet()}-${System.nanoTime()}", plan)
    return Triple(stack, admin, app)
}

private fun StackEnv.client(app: AdminApp) = UTDStreamClient(app.appId, app.appKey, engineUrl)

/** The first connection state matching [predicate] (the current one counts), within [timeout]. */
private suspend fun UTDStreamClient.awaitState(
    what: String,
    timeout: Duration = WAIT,
    predicate: (UTDConnectionState) -> Boolean,
): UTDConnectionState =
    try {
        withTimeout(timeout) { connectionStateFlow().first(predicate) }
    } catch (e: kotlinx.coroutines.TimeoutCancellationException) {
        throw AssertionError("$what: not within $timeout; state is ${connectionState()}", e)
    }

fun registerSignallingScenarioTests(suite: TestSuite) {
    suite.asyncTest("scenario: authenticate returns a utdst_ bearer and the flags of each plan") {
        val expectations = listOf(
            Triple("free", false, false),
            Triple("signaling", true, false),
            Triple("pro", true, true),
            Triple("enterprise", true, true),
        )
        for ((plan, signaling, chat) in expectations) {
            val (stack, _, app) = newApp(plan)
            val client = stack.client(app)
            try {
                assertNull(client.identity())
                val token = client.authenticate("alice", name = "Alice", deviceId = "phone-1")
                assertTrue(token.startsWith("utdst_"), "plan $plan: bearer has the engine's prefix")
                assertEquals("alice", client.identity())
                assertEquals(signaling, client.signalingEnabled(), "plan $plan")
                assertEquals(chat, client.chatEnabled(), "plan $plan")
                val caps = client.capabilities()
                assertEquals(plan, caps.plan)
                assertNotNull(caps.limits, "plan $plan reports limits")
                assertNotNull(client.planLimits(), "plan $plan reports limits")
            } finally {
                client.dispose()
            }
        }
    }

    suite.asyncTest("scenario: flags are null when the engine does not report them") {
        val (stack, admin, app) = newApp("pro")
        admin.setPlan(app.appId, "pro", reportCapabilities = false)
        val client = stack.client(app)
        try {
            client.authenticate("bob")
            assertNull(client.signalingEnabled())
            assertNull(client.chatEnabled())
            assertNull(client.planLimits())
        } finally {
            client.dispose()
        }
    }

    suite.asyncTest("scenario: a second user sees presence come and go (presenceFlow)", timeout = 60.seconds) {
        val (stack, _, app) = newApp("signaling")
        val alice = stack.client(app)
        val bob = stack.client(app)
        try {
            alice.authenticate("alice")
            bob.authenticate("bob")
            alice.connect()
            assertEquals(UTDConnectionState.Connected, alice.connectionState())

            alice.watchPresence(listOf("bob"))
            withTimeout(WAIT) { alice.presenceFlow().first { list -> list.any { it.identity == "bob" && !it.online } } }

            bob.connect()
            withTimeout(WAIT) { alice.presenceFlow().first { list -> list.any { it.identity == "bob" && it.online } } }

            bob.disconnect()
            val offline = withTimeout(WAIT) {
                alice.presenceFlow().first { list -> list.any { it.identity == "bob" && !it.online && it.lastSeenMs != null } }
            }
            val lastSeen = offline.first { it.identity == "bob" }.lastSeenMs!!
            assertTrue(lastSeen > 0u, "last seen $lastSeen")

            alice.unwatchPresence(listOf("bob"))
            assertTrue(alice.presence().isEmpty(), "unwatched: ${alice.presence()}")
            alice.disconnect()
            assertEquals(UTDConnectionState.Disconnected, alice.connectionState())
        } finally {
            alice.dispose()
            bob.dispose()
        }
    }

    suite.asyncTest("scenario: the engine restarts under a connected client, which reconnects by itself with fresh flags", timeout = 90.seconds) {
        val (stack, admin, app) = newApp("signaling")
        val alice = stack.client(app)
        val bob = stack.client(app)
        var engineStopped = false
        try {
            alice.authenticate("alice")
            bob.authenticate("bob")
            alice.connect()
            alice.watchPresence(listOf("bob"))
            assertEquals(false, alice.chatEnabled())

            // The plan changes while alice is connected; she learns it on reconnect.
            admin.setPlan(app.appId, "pro")
            stack.stopEngine()
            engineStopped = true
            alice.awaitState("alice notices the engine is gone") { it is UTDConnectionState.Reconnecting }

            stack.startEngine()
            engineStopped = false
            alice.awaitState("alice reconnected by herself", timeout = 45.seconds) { it == UTDConnectionState.Connected }
            assertEquals(true, alice.chatEnabled(), "flags refreshed from the reconnect")
            assertEquals(true, alice.signalingEnabled())
            assertEquals("pro", alice.capabilities().plan)

            // The watch was replayed: bob coming online is still seen.
            bob.connect()
            withTimeout(WAIT) { alice.presenceFlow().first { list -> list.any { it.identity == "bob" && it.online } } }
            alice.disconnect()
            bob.disconnect()
        } finally {
            // Later tests need the engine whatever happened above.
            if (engineStopped) stack.startEngine()
            alice.dispose()
            bob.dispose()
        }
    }

    suite.asyncTest("scenario: a banned user is dropped when connected and refused afterwards", timeout = 60.seconds) {
        val (stack, admin, app) = newApp("signaling")
        val mallory = stack.client(app)
        try {
            mallory.authenticate("mallory")
            mallory.connect()
            admin.ban(app.appId, "mallory")
            val failed = mallory.awaitState("connected client told it is banned") {
                it is UTDConnectionState.Failed && it.code == "banned"
            }
            assertTrue(failed is UTDConnectionState.Failed)

            val error = assertFailsWith<UTDStreamException>("banned user cannot mint") {
                mallory.authenticate("mallory")
            }
            assertTrue(error.isBanned() && error.isForbidden(), "$error")
            assertEquals(403.toUShort(), error.statusCode())
            assertFalse(error.isFeatureDisabled())

            admin.unban(app.appId, "mallory")
            mallory.authenticate("mallory")
        } finally {
            mallory.dispose()
        }
    }

    suite.asyncTest("scenario: the free plan gates signalling with the upsell helpers") {
        val (stack, _, app) = newApp("free")
        val client = stack.client(app)
        try {
            client.authenticate("carol")
            assertEquals(false, client.signalingEnabled())
            val error = assertFailsWith<UTDStreamException>("signalling is gated") { client.connect() }
            assertTrue(error.isFeatureDisabled(), "$error")
            assertTrue(error.isSignalingDisabled() && !error.isChatDisabled(), "$error")
            assertTrue(error.isForbidden() && !error.isBanned(), "$error")
            assertEquals("signaling", error.capability())
            assertTrue(client.connectionState() is UTDConnectionState.Failed, "${client.connectionState()}")
        } finally {
            client.dispose()
        }
    }

    suite.asyncTest("scenario: too many requests surface isRateLimited with a delay") {
        val (stack, admin, app) = newApp("pro")
        admin.setRateLimits(app.appId, perUserPerMinute = 3, perAppPerMinute = 1000)
        val client = stack.client(app)
        try {
            var limited: UTDStreamException? = null
            for (attempt in 0 until 10) {
                try {
                    client.authenticate("dave")
                } catch (e: UTDStreamException) {
                    limited = e
                    break
                }
            }
            val error = assertNotNull(limited, "the 4th request within a minute is limited")
            assertTrue(error.isRateLimited(), "$error")
            assertEquals(429.toUShort(), error.statusCode())
            val delay = assertNotNull(error.retryAfterMs(), "a retry delay")
            assertTrue(delay > 0u && delay <= 60_000u, "delay $delay ms")
        } finally {
            client.dispose()
        }
    }
}
