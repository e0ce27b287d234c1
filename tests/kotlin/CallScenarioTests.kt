// 1:1 calls end to end from Kotlin: the scenarios of tests/calls.rs through
// the generated bindings, against the real engine + livekit-server of
// utd-stack. The engine decides every transition and pushes it to every
// device of both parties; each session's status follows, never backwards,
// and both sides end in the same terminal state.
//
// Each test runs on its own app (so its own identities).
// utd-stack runs the engine with an 8 s ring timeout (StackEnv.ringTimeoutMs):
// the missed-call test waits it out, and every other test answers (or ends)
// its calls well within it. Statuses and calls are awaited through the Flow
// adapters of Flows.kt, invitations through callInvitationsFlow collected
// from the moment each device connects.
package com.utdstream.tests

import com.utdstream.sdk.UTDCall
import com.utdstream.sdk.UTDCallEndReason
import com.utdstream.sdk.UTDCallSession
import com.utdstream.sdk.UTDCallStatus
import com.utdstream.sdk.UTDErrorCode
import com.utdstream.sdk.UTDStreamClient
import com.utdstream.sdk.UTDStreamException
import com.utdstream.sdk.UTDStreamType
import com.utdstream.sdk.UTDTrackSource
import com.utdstream.sdk.callFlow
import com.utdstream.sdk.callInvitationsFlow
import com.utdstream.sdk.connectedFlow
import com.utdstream.sdk.remoteParticipantsFlow
import com.utdstream.sdk.statusFlow
import java.util.concurrent.ConcurrentLinkedQueue
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.channels.ReceiveChannel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.produceIn
import kotlinx.coroutines.plus
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull

/** How long a push may take to arrive. */
private val WAIT = 10.seconds

/** A whole test, joins included: under LiveKit's 60 s for a media-less session. */
private val TEST_TIMEOUT = 45.seconds

/** The ring timeout the missed-call test expects of utd-stack at most (it runs 8 s). */
private val SHORT_RING_TIMEOUT = 10.seconds

/**
 * One test's world: its own app on the `signaling` plan, one client per
 * device, and everything disposed at the end. Invitation feeds are collected
 * in [scope] until [dispose].
 */
private class Calls(label: String, private val scope: CoroutineScope) {
    val stack = StackEnv.require()
    private val app = EngineAdmin(stack).createApp("kt-calls-$label-${System.nanoTime()}", "signaling")
    private val clients = ConcurrentLinkedQueue<UTDStreamClient>()
    private val sessions = ConcurrentLinkedQueue<UTDCallSession>()
    private val feeds = ConcurrentLinkedQueue<ReceiveChannel<UTDCall>>()

    /** One signed-in, connected device of [identity] and the invitations it is given. */
    inner class Device(val identity: String, val deviceId: String, val client: UTDStreamClient, private val invitations: ReceiveChannel<UTDCall>) {
        /** A new call session of [type] on this device. */
        fun session(type: UTDStreamType): UTDCallSession = client.callSession(type).also { sessions += it }

        /** The invitation to [callId] (earlier invitations are skipped), within [WAIT]. */
        suspend fun invitation(callId: String): UTDCall =
            withTimeoutOrNull(WAIT) {
                var call = invitations.receive()
                while (call.callId != callId) call = invitations.receive()
                call
            } ?: throw AssertionError("$identity on $deviceId is invited to $callId: not within $WAIT")
    }

    /** [identity] signs in on [deviceId], connects signalling and starts collecting invitations. */
    suspend fun device(identity: String, deviceId: String): Device {
        val client = UTDStreamClient(app.appId, app.appKey, stack.engineUrl).also { clients += it }
        try {
            client.authenticate(identity, name = identity.uppercase(), deviceId = deviceId)
            client.connect()
        } catch (e: UTDStreamException) {
            throw AssertionError("$identity signs in on $deviceId: $e", e)
        }
        // Unconfined: the flow's body (observeCallInvitations) runs before
        // produceIn returns, so no invitation of a call started next is missed.
        val feed = client.callInvitationsFlow().produceIn(scope + Dispatchers.Unconfined)
        feeds += feed
        return Device(identity, deviceId, client, feed)
    }

    suspend fun dispose() = coroutineScope {
        feeds.forEach { it.cancel() }
        sessions.map { async { it.dispose() } }.awaitAll()
        clients.forEach { it.dispose() }
    }
}

/** Runs [body] with a fresh [Calls]; disposes it whatever happened (bounded, even when cancelled). */
private suspend fun withCalls(label: String, body: suspend CoroutineScope.(Calls) -> Unit) = coroutineScope {
    val calls = Calls(label, this)
    try {
        body(calls)
    } finally {
        withContext(NonCancellable) { withTimeoutOrNull(15.seconds) { calls.dispose() } }
    }
}

/** Runs [block], which must fail with [code]; returns the error. */
private inline fun expectError(code: UTDErrorCode, what: String, block: () -> Unit): UTDStreamException {
    val error = assertFailsWith<UTDStreamException>("$what: expected $code") { block() }
    assertEquals(code, error.code(), "$what: $error")
    return error
}

/** Waits until this session's status is [expected] (the current one counts). */
private suspend fun UTDCallSession.statusBecomes(expected: UTDCallStatus, who: String, timeout: Duration = WAIT) {
    statusFlow().firstWithin("$who sees $expected", timeout) { it == expected }
}

/** The engine's call as this session sees it once its status is [status]. */
private suspend fun UTDCallSession.callWhen(status: UTDCallStatus, who: String): UTDCall =
    callFlow().firstWithin("$who's call is $status", WAIT) { it.status == status }

fun registerCallScenarioTests(suite: TestSuite) {
    suite.asyncTest("calls: media — both parties of an audio call hear each other's tone", TEST_TIMEOUT) {
        withCalls("tones") { calls ->
            val alice = calls.device("alice", "alice-phone")
            val bob = calls.device("bob", "bob-phone")
            val caller = alice.session(UTDStreamType.AUDIO_CALL)
            val call = caller.start("bob", "Bob", null)
            val callee = bob.session(UTDStreamType.AUDIO_CALL)
            callee.accept(bob.invitation(call.callId).callId)
            caller.statusBecomes(UTDCallStatus.ACTIVE, "alice")
            val aliceVoice = sing(caller.room(), Tone(440.0))
            val bobVoice = sing(callee.room(), Tone(660.0))
            hearTone(callee.room(), "alice", 440.0, WAIT)
            hearTone(caller.room(), "bob", 660.0, WAIT)
            aliceVoice.cancel()
            bobVoice.cancel()
            caller.end()
        }
    }

    suite.asyncTest("calls: a video call rings, is answered, both are in the call room, and a hang-up ends it on both sides", TEST_TIMEOUT) {
        withCalls("talk") { calls ->
            val alice = calls.device("alice", "alice-phone")
            val bob = calls.device("bob", "bob-phone")

            val caller = alice.session(UTDStreamType.VIDEO_CALL)
            assertNull(caller.status(), "no call yet")
            val call = caller.start("bob", calleeName = "Bob", metadataJson = """{"topic":"lunch"}""")
            assertEquals(UTDCallStatus.INITIATING, call.status)
            assertEquals(call.callId, caller.callId())
            assertTrue(caller.room().isConnected(), "the caller waits in the call room")

            val invitation = bob.invitation(call.callId)
            assertEquals("alice", invitation.callerIdentity)
            assertEquals("ALICE", invitation.callerName)
            assertEquals("bob", invitation.calleeIdentity)
            assertEquals("Bob", invitation.calleeName)
            assertEquals(UTDStreamType.VIDEO_CALL, invitation.streamType)
            assertEquals("""{"topic":"lunch"}""", invitation.metadataJson)

            val callee = bob.session(invitation.streamType)
            callee.ringing(call.callId)
            caller.statusBecomes(UTDCallStatus.RINGING, "the caller")
            val accepted = callee.accept(call.callId)
            assertEquals(UTDCallStatus.ACTIVE, accepted.status)
            assertEquals("bob-phone", accepted.answeredByDevice)
            assertEquals(UTDCallStatus.ACTIVE, callee.status())
            caller.statusBecomes(UTDCallStatus.ACTIVE, "the caller")
            assertTrue(callee.room().isConnected(), "the callee joined the call room")
            val local = assertNotNull(callee.room().localParticipant(), "the callee is in the room")
            assertTrue(UTDTrackSource.MICROPHONE in local.publishedSources, "video call: microphone on: ${local.publishedSources}")
            assertTrue(UTDTrackSource.CAMERA in local.publishedSources, "video call: camera on: ${local.publishedSources}")
            caller.room().remoteParticipantsFlow().firstWithin("the caller sees bob in the room", WAIT) { list ->
                list.any { it.identity == "bob" }
            }
            callee.room().remoteParticipantsFlow().firstWithin("the callee sees alice in the room", WAIT) { list ->
                list.any { it.identity == "alice" }
            }

            callee.end()
            callee.end() // hanging up twice is harmless
            assertEquals(UTDCallStatus.ENDED, callee.status())
            caller.statusBecomes(UTDCallStatus.ENDED, "the caller")
            assertEquals(UTDCallEndReason.HangupCallee, caller.callWhen(UTDCallStatus.ENDED, "the caller").endReason)
            assertEquals(UTDCallEndReason.HangupCallee, callee.call()?.endReason)
            caller.room().connectedFlow().firstWithin("the caller leaves the room", WAIT) { !it }
            callee.room().connectedFlow().firstWithin("the callee leaves the room", WAIT) { !it }
            caller.end() // ending an ended call is harmless
            assertEquals(UTDCallStatus.ENDED, caller.status(), "nothing moved back")
        }
    }

    suite.asyncTest("calls: reject, busy and a caller cancelling while ringing end the same way on both sides; a late accept is invalidState", TEST_TIMEOUT) {
        withCalls("decline") { calls ->
            val alice = calls.device("alice", "a1")
            val bob = calls.device("bob", "b1")
            val table = listOf(
                Triple("reject", UTDCallStatus.REJECTED, UTDCallEndReason.Rejected),
                Triple("busy", UTDCallStatus.BUSY, UTDCallEndReason.Busy),
                Triple("cancel", UTDCallStatus.CANCELLED, UTDCallEndReason.Cancelled),
            )
            for ((answer, terminal, reason) in table) {
                val caller = alice.session(UTDStreamType.AUDIO_CALL)
                val call = caller.start("bob")
                bob.invitation(call.callId)
                val callee = bob.session(UTDStreamType.AUDIO_CALL)
                callee.ringing(call.callId)
                when (answer) {
                    "reject" -> callee.reject(call.callId)
                    "busy" -> callee.busy(call.callId)
                    else -> caller.end() // cancel while ringing
                }
                caller.statusBecomes(terminal, "$answer: the caller")
                callee.statusBecomes(terminal, "$answer: the callee")
                assertEquals(reason, caller.callWhen(terminal, "$answer: the caller").endReason, answer)
                expectError(UTDErrorCode.INVALID_STATE, "$answer: accepting a finished call") { callee.accept(call.callId) }
                assertEquals(terminal, callee.status(), "$answer: nothing moved back")
                assertEquals(terminal, caller.status(), "$answer: nothing moved back")
                caller.room().connectedFlow().firstWithin("$answer: the caller leaves the room", WAIT) { !it }
            }
        }
    }

    suite.asyncTest("calls: an unanswered call becomes missed on both sides after the stack's ring timeout", TEST_TIMEOUT) {
        withCalls("missed") { calls ->
            val ringTimeout = calls.stack.ringTimeoutMs?.milliseconds
                ?: throw AssertionError("utd-stack's env file gives no ring_timeout_ms; this test needs its short ring timeout (8 s)")
            assertTrue(ringTimeout <= SHORT_RING_TIMEOUT, "utd-stack's ring timeout is $ringTimeout; this test needs at most $SHORT_RING_TIMEOUT")
            val alice = calls.device("alice", "a1")
            val bob = calls.device("bob", "b1")
            val caller = alice.session(UTDStreamType.AUDIO_CALL)
            val started = TimeSource.Monotonic.markNow()
            val call = caller.start("bob")
            bob.invitation(call.callId)
            val callee = bob.session(UTDStreamType.AUDIO_CALL)
            assertEquals(UTDCallStatus.RINGING, callee.ringing(call.callId).status, "still ringing before the timeout")

            caller.statusBecomes(UTDCallStatus.MISSED, "the caller", ringTimeout + WAIT)
            // The engine's deadline counts from the call's creation, after `started`.
            assertTrue(started.elapsedNow() >= ringTimeout - 250.milliseconds, "missed only after ${started.elapsedNow()}, not the $ringTimeout ring timeout")
            callee.statusBecomes(UTDCallStatus.MISSED, "the callee")
            assertEquals(UTDCallEndReason.RingTimeout, caller.callWhen(UTDCallStatus.MISSED, "the caller").endReason)
            assertEquals(UTDCallEndReason.RingTimeout, callee.callWhen(UTDCallStatus.MISSED, "the callee").endReason)
            caller.room().connectedFlow().firstWithin("the caller left the room", WAIT) { !it }
            expectError(UTDErrorCode.INVALID_STATE, "answering a missed call") { callee.accept(call.callId) }
            assertEquals(UTDCallStatus.MISSED, callee.status(), "nothing moved back")
        }
    }

    suite.asyncTest("calls: one of the callee's devices answers; the other is told answeredElsewhere and cannot answer too", TEST_TIMEOUT) {
        withCalls("devices") { calls ->
            val alice = calls.device("alice", "a1")
            val bobPhone = calls.device("bob", "bob-phone")
            val bobTablet = calls.device("bob", "bob-tablet")

            val caller = alice.session(UTDStreamType.AUDIO_CALL)
            val call = caller.start("bob")
            bobPhone.invitation(call.callId)
            bobTablet.invitation(call.callId)
            val phone = bobPhone.session(UTDStreamType.AUDIO_CALL)
            val tablet = bobTablet.session(UTDStreamType.AUDIO_CALL)
            phone.ringing(call.callId)
            tablet.ringing(call.callId)

            phone.accept(call.callId)
            tablet.statusBecomes(UTDCallStatus.ANSWERED_ELSEWHERE, "the tablet")
            caller.statusBecomes(UTDCallStatus.ACTIVE, "the caller")
            assertEquals("bob-phone", caller.callWhen(UTDCallStatus.ACTIVE, "the caller").answeredByDevice)
            expectError(UTDErrorCode.INVALID_STATE, "the tablet cannot answer too") { tablet.accept(call.callId) }
            assertFalse(tablet.room().isConnected(), "the tablet never joined")
            assertEquals(UTDCallStatus.ACTIVE, phone.status())
            assertTrue(phone.room().isConnected(), "the phone is in the call room")

            caller.end()
            phone.statusBecomes(UTDCallStatus.ENDED, "the phone")
            assertEquals(UTDCallEndReason.HangupCaller, phone.callWhen(UTDCallStatus.ENDED, "the phone").endReason)
            assertEquals(UTDCallStatus.ANSWERED_ELSEWHERE, tablet.status(), "a terminal status stays")
        }
    }

    suite.asyncTest("calls: two devices answering at once make exactly one answer", TEST_TIMEOUT) {
        withCalls("race") { calls ->
            val alice = calls.device("alice", "a1")
            val bobPhone = calls.device("bob", "bob-phone")
            val bobTablet = calls.device("bob", "bob-tablet")
            val caller = alice.session(UTDStreamType.AUDIO_CALL)
            val call = caller.start("bob")
            bobPhone.invitation(call.callId)
            bobTablet.invitation(call.callId)
            val phone = bobPhone.session(UTDStreamType.AUDIO_CALL)
            val tablet = bobTablet.session(UTDStreamType.AUDIO_CALL)

            val (a, b) = listOf(phone, tablet).map { device -> async { runCatching { device.accept(call.callId) } } }.awaitAll()
            assertEquals(1, listOf(a, b).count { it.isSuccess }, "one answer: $a / $b")
            val (winner, loser, lost) = if (a.isSuccess) Triple(phone, tablet, b) else Triple(tablet, phone, a)
            val refusal = lost.exceptionOrNull()
            assertTrue(
                refusal is UTDStreamException && refusal.code() in setOf(UTDErrorCode.CONFLICT, UTDErrorCode.INVALID_STATE),
                "the other answer is refused with conflict or invalidState: $refusal",
            )
            assertEquals(UTDCallStatus.ACTIVE, winner.status())
            loser.statusBecomes(UTDCallStatus.ANSWERED_ELSEWHERE, "the other device")
            caller.statusBecomes(UTDCallStatus.ACTIVE, "the caller")
            val winnerDevice = if (winner === phone) "bob-phone" else "bob-tablet"
            assertEquals(winnerDevice, caller.callWhen(UTDCallStatus.ACTIVE, "the caller").answeredByDevice)
            assertFalse(loser.room().isConnected(), "the other device never joined")
            caller.end()
            winner.statusBecomes(UTDCallStatus.ENDED, "the answering device")
        }
    }

    suite.asyncTest("calls: a third user cannot answer or decline someone else's call (forbidden)", TEST_TIMEOUT) {
        withCalls("intruder") { calls ->
            val alice = calls.device("alice", "a1")
            val bob = calls.device("bob", "b1")
            val mallory = calls.device("mallory", "m1")
            val caller = alice.session(UTDStreamType.AUDIO_CALL)
            val call = caller.start("bob")
            bob.invitation(call.callId)
            val callee = bob.session(UTDStreamType.AUDIO_CALL)
            callee.accept(call.callId)

            val intruder = mallory.session(UTDStreamType.AUDIO_CALL)
            expectError(UTDErrorCode.FORBIDDEN, "mallory accepts") { intruder.accept(call.callId) }
            expectError(UTDErrorCode.FORBIDDEN, "mallory rejects") { intruder.reject(call.callId) }
            assertFalse(intruder.room().isConnected(), "mallory never joined")
            assertNull(intruder.status(), "mallory's session has no call")
            caller.statusBecomes(UTDCallStatus.ACTIVE, "the caller")
            assertEquals(UTDCallStatus.ACTIVE, callee.status(), "the call went on")
            caller.end()
            callee.statusBecomes(UTDCallStatus.ENDED, "the callee")
        }
    }

    suite.asyncTest("calls: illegal moves are refused with typed errors", TEST_TIMEOUT) {
        withCalls("illegal") { calls ->
            val alice = calls.device("alice", "a1")
            val bob = calls.device("bob", "b1")
            expectError(UTDErrorCode.INVALID_ARGUMENT, "a live stream is not a call type") {
                alice.client.callSession(UTDStreamType.LIVE_STREAM)
            }
            val caller = alice.session(UTDStreamType.AUDIO_CALL)
            val call = caller.start("bob")
            expectError(UTDErrorCode.INVALID_STATE, "one call per session") { caller.start("bob") }
            expectError(UTDErrorCode.FORBIDDEN, "the caller cannot accept") {
                alice.session(UTDStreamType.AUDIO_CALL).accept(call.callId)
            }
            expectError(UTDErrorCode.INVALID_ARGUMENT, "metadata must be a JSON object") {
                alice.session(UTDStreamType.AUDIO_CALL).start("bob", metadataJson = "[1,2]")
            }
            expectError(UTDErrorCode.INVALID_ARGUMENT, "calling yourself") {
                alice.session(UTDStreamType.AUDIO_CALL).start("alice")
            }
            expectError(UTDErrorCode.INVALID_ARGUMENT, "an audio call in a video session") {
                bob.session(UTDStreamType.VIDEO_CALL).accept(call.callId)
            }
            assertEquals(call.callId, caller.callId(), "the refused moves left the call alone")
            caller.end() // cancel
            caller.statusBecomes(UTDCallStatus.CANCELLED, "the caller")
        }
    }
}
