// The calls kit's wake-from-killed scenarios from Kotlin: those of
// tests/calls_cold_start.rs through the generated bindings, against
// utd-stack's engine + livekit-server, whose push dispatch goes to the
// APNs and FCM stand-ins it runs (GET /pushes/apns, /pushes/fcm on its
// control endpoint show what they received).
//
// A "killed" app is a controller that registered its push token and was
// disposed: no client of that device runs when the call comes. The woken
// app is a NEW controller built from its config and the push alone, as a
// PushKit / FirebaseMessagingService handler builds it. Every test has its
// own app and random push tokens, so it tells its pushes from those of the
// tests before it (the stand-ins keep everything of the run).
//
// utd-stack rings for 8 s: the scenarios that answer do so right after the
// push arrives (the caller's startCall runs meanwhile), well within it.
// Controller events are awaited through eventsFlow() (Flows.kt).
package com.utdstream.tests

import com.utdstream.sdk.UTDAcceptOutcome
import com.utdstream.sdk.UTDCallController
import com.utdstream.sdk.UTDCallControllerEvent
import com.utdstream.sdk.UTDCallEndReason
import com.utdstream.sdk.UTDCallPushEvent
import com.utdstream.sdk.UTDCallSession
import com.utdstream.sdk.UTDCallSource
import com.utdstream.sdk.UTDCallStatus
import com.utdstream.sdk.UTDCallsConfig
import com.utdstream.sdk.UTDErrorCode
import com.utdstream.sdk.UTDIncomingCall
import com.utdstream.sdk.UTDPushAction
import com.utdstream.sdk.UTDPushPlatform
import com.utdstream.sdk.UTDPushToken
import com.utdstream.sdk.UTDReconcileResult
import com.utdstream.sdk.UTDRoom
import com.utdstream.sdk.UTDStreamException
import com.utdstream.sdk.UTDStreamType
import com.utdstream.sdk.callKitUuid
import com.utdstream.sdk.eventsFlow
import com.utdstream.sdk.parseCallPush
import com.utdstream.sdk.parseCallPushData
import com.utdstream.sdk.remoteParticipantsFlow
import com.utdstream.sdk.statusFlow
import java.io.File
import java.security.SecureRandom
import java.util.concurrent.ConcurrentLinkedQueue
import kotlin.io.path.createTempDirectory
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull

/** How long a push, an event or a status may take. */
private val WAIT = 10.seconds

/** A whole scenario, media included. */
private val TEST_TIMEOUT = 60.seconds

private val random = SecureRandom()

private fun hex(bytes: Int): String {
    val raw = ByteArray(bytes).also { random.nextBytes(it) }
    return raw.joinToString("") { "%02x".format(it) }
}

/** A VoIP token as PushKit hands it out: 32 bytes, 64 hex characters (random: this test's own). */
private fun voipToken() = UTDPushToken(UTDPushPlatform.APNS_VOIP, hex(32))

/** An FCM registration token (random: this test's own). */
private fun fcmToken() = UTDPushToken(UTDPushPlatform.FCM, "fcm:${hex(8)}:APA91b-kotlin-cold-start")

/** Every controller event seen so far, collected through [eventsFlow]. */
private class EventFeed(controller: UTDCallController, scope: CoroutineScope) {
    val seen = MutableStateFlow<List<UTDCallControllerEvent>>(emptyList())

    // Unconfined: the flow's body (observeEvents) runs before launch
    // returns, so nothing the next statement causes is missed.
    val job: Job = scope.launch(Dispatchers.Unconfined) {
        controller.eventsFlow().collect { event -> seen.update { it + event } }
    }

    /** Waits until [predicate] holds of the events seen so far. */
    suspend fun await(what: String, predicate: (List<UTDCallControllerEvent>) -> Boolean) {
        seen.firstWithin(what, WAIT, predicate)
    }

    /** How many `IncomingCall` events named [callId]. */
    fun incoming(callId: String) =
        seen.value.count { it is UTDCallControllerEvent.IncomingCall && it.call.callId == callId }

    /** The reasons of the `CallEnded` events naming [callId], in order. */
    fun ended(callId: String?): List<UTDCallEndReason> =
        seen.value.filterIsInstance<UTDCallControllerEvent.CallEnded>().filter { it.callId == callId }.map { it.reason }
}

/**
 * One test's world: its own app on [plan], its controllers (disposed at the
 * end), their state directories (deleted) and event feeds (cancelled).
 */
private class ColdStart(label: String, plan: String, private val scope: CoroutineScope) {
    val stack = StackEnv.require()
    private val app = EngineAdmin(stack).createApp("kt-coldstart-$label-${System.nanoTime()}", plan)
    private val controllers = ConcurrentLinkedQueue<UTDCallController>()
    private val directories = ConcurrentLinkedQueue<File>()
    private val feeds = ConcurrentLinkedQueue<EventFeed>()

    init {
        check(stack.apnsUrl != null && stack.fcmUrl != null) {
            "utd-stack runs no push stand-ins (no apns_url / fcm_url in its env file)"
        }
    }

    /** A controller of [user] on [device]: does no I/O until used. */
    fun controller(user: String, device: String, tokens: List<UTDPushToken> = emptyList(), stateDirectory: File? = null): UTDCallController {
        val config = UTDCallsConfig(
            appId = app.appId,
            appKey = app.appKey,
            baseUrl = stack.engineUrl,
            userId = user,
            userName = user.uppercase(),
            deviceId = device,
            pushTokens = tokens,
            stateDirectory = stateDirectory?.absolutePath,
        )
        return UTDCallController(config).also { controllers += it }
    }

    /** A fresh app-private directory (Android: filesDir), deleted at the end. */
    fun stateDirectory(): File = createTempDirectory("utd-coldstart-").toFile().also { directories += it }

    /** Collects [controller]'s events from now on. */
    fun events(controller: UTDCallController): EventFeed = EventFeed(controller, scope).also { feeds += it }

    /** [user]'s app on [device] starts once, registers [token], and is killed. */
    suspend fun registerThenKill(user: String, device: String, token: UTDPushToken) {
        val app = controller(user, device, listOf(token))
        app.init()
        assertEquals(listOf(token), app.pushTokens(), "$device registered its push token")
        app.dispose()
    }

    /** A signed-in, connected controller of [user]. */
    suspend fun ready(user: String, device: String): UTDCallController = controller(user, device).also { it.init() }

    /** The first VoIP push to [token] matching [predicate], polled from utd-stack within [WAIT]. */
    suspend fun voipPush(token: UTDPushToken, what: String, predicate: (RecordedVoipPush) -> Boolean = { true }): RecordedVoipPush =
        poll(what, { stack.apnsPushes() }) { it.deviceToken == token.token && predicate(it) }

    /** The first FCM message to [token] matching [predicate], polled from utd-stack within [WAIT]. */
    suspend fun fcmMessage(token: UTDPushToken, what: String, predicate: (RecordedFcmMessage) -> Boolean): RecordedFcmMessage =
        poll(what, { stack.fcmMessages() }) { it.deviceToken == token.token && predicate(it) }

    private suspend fun <T> poll(what: String, fetch: () -> List<T>, predicate: (T) -> Boolean): T {
        val started = TimeSource.Monotonic.markNow()
        while (true) {
            val all = withContext(Dispatchers.IO) { fetch() }
            all.firstOrNull(predicate)?.let { return it }
            if (started.elapsedNow() > WAIT) throw AssertionError("$what: not within $WAIT; the stand-in received: $all")
            delay(50.milliseconds)
        }
    }

    suspend fun dispose() = coroutineScope {
        feeds.forEach { it.job.cancel() }
        controllers.map { async { it.dispose() } }.forEach { it.await() }
        directories.forEach { it.deleteRecursively() }
    }
}

/** Runs [body] with a fresh [ColdStart]; disposes it whatever happened (bounded, even when cancelled). */
private suspend fun withColdStart(label: String, plan: String = "signaling", body: suspend CoroutineScope.(ColdStart) -> Unit) = coroutineScope {
    val world = ColdStart(label, plan, this)
    try {
        body(world)
    } finally {
        withContext(NonCancellable) { withTimeoutOrNull(15.seconds) { world.dispose() } }
    }
}

/** The call a push says to report to the OS call UI; fails on anything else. */
private fun reportIncoming(action: UTDPushAction): UTDIncomingCall =
    (action as? UTDPushAction.ReportIncoming)?.call ?: throw AssertionError("expected reportIncoming, got $action")

/** Waits until this session's status is [expected] (the current one counts). */
private suspend fun UTDCallSession.statusBecomes(expected: UTDCallStatus, who: String) {
    statusFlow().firstWithin("$who sees $expected", WAIT) { it == expected }
}

/** Waits until [identity] is in [room] (its audio can only be observed then). */
private suspend fun awaitParticipant(room: UTDRoom, identity: String, who: String) {
    room.remoteParticipantsFlow().firstWithin("$who sees $identity in the call room", WAIT) { list -> list.any { it.identity == identity } }
}

private const val ID_A = "call_AAAAAAAAAAAAAAAAAAAAAA"
private const val ID_Y = "call_Yf3abcdefghijklmnopqrs"
private const val ID_DIGITS = "call_0123456789-_abcdefghij"

fun registerColdStartTests(suite: TestSuite) {
    registerPushParsingTests(suite)
    registerWakeFromKilledTests(suite)
}

private fun registerPushParsingTests(suite: TestSuite) {
    suite.test("coldstart: callKitUuid gives the documented v5 UUID of each call id") {
        assertEquals("0e900213-bd54-5b9a-af2e-00d34e636a3c", callKitUuid(ID_A))
        assertEquals("9d350f04-df41-5513-9d7a-e44d26e3f4a7", callKitUuid(ID_Y))
        assertEquals("af1360bb-175c-5b58-b6f7-dd0648f31bb8", callKitUuid(ID_DIGITS))
        assertEquals(callKitUuid(ID_A), callKitUuid(ID_A), "the same on every call")
    }

    suite.test("coldstart: parseCallPush reads a full and a minimal VoIP payload") {
        val full = """{"aps":{},"type":"call","call_id":"$ID_Y","caller_identity":"bob","caller_name":"Bob","call_type":"video_call","sent_at_ms":1700000000000,"ring_expires_at_ms":1700000030000}"""
        val push = (parseCallPush(full) as? UTDCallPushEvent.Incoming)?.push ?: throw AssertionError("not incoming: ${parseCallPush(full)}")
        assertEquals(ID_Y, push.callId)
        assertEquals("9d350f04-df41-5513-9d7a-e44d26e3f4a7", push.callKitUuid)
        assertEquals("bob", push.callerIdentity)
        assertEquals("Bob", push.callerName)
        assertEquals(UTDStreamType.VIDEO_CALL, push.streamType)
        assertEquals(1_700_000_000_000uL, push.sentAtMs)
        assertEquals(1_700_000_030_000uL, push.ringExpiresAtMs)

        val minimal = (parseCallPush("""{"type":"call","call_id":"$ID_A"}""") as? UTDCallPushEvent.Incoming)?.push
            ?: throw AssertionError("a minimal call push is incoming")
        assertEquals(ID_A, minimal.callId)
        assertEquals("0e900213-bd54-5b9a-af2e-00d34e636a3c", minimal.callKitUuid)
        assertNull(minimal.callerIdentity)
        assertNull(minimal.callerName)
        assertEquals(UTDStreamType.AUDIO_CALL, minimal.streamType, "audio when the push does not say")
        assertNull(minimal.sentAtMs)
        assertNull(minimal.ringExpiresAtMs)
    }

    suite.test("coldstart: parseCallPushData reads a full and a minimal FCM data message, and call_ended") {
        val full = mapOf(
            "type" to "call", "call_id" to ID_DIGITS, "caller_identity" to "bob", "caller_name" to "Bob",
            "call_type" to "audio_call", "sent_at_ms" to "1700000000000", "ring_expires_at_ms" to "1700000030000",
        )
        val push = (parseCallPushData(full) as? UTDCallPushEvent.Incoming)?.push ?: throw AssertionError("not incoming")
        assertEquals(ID_DIGITS, push.callId)
        assertEquals("af1360bb-175c-5b58-b6f7-dd0648f31bb8", push.callKitUuid)
        assertEquals("bob", push.callerIdentity)
        assertEquals("Bob", push.callerName)
        assertEquals(UTDStreamType.AUDIO_CALL, push.streamType)
        assertEquals(1_700_000_000_000uL, push.sentAtMs, "FCM gives numbers as strings")
        assertEquals(1_700_000_030_000uL, push.ringExpiresAtMs)

        val minimal = (parseCallPushData(mapOf("type" to "call", "call_id" to ID_A)) as? UTDCallPushEvent.Incoming)?.push
            ?: throw AssertionError("a minimal data message is incoming")
        assertEquals("0e900213-bd54-5b9a-af2e-00d34e636a3c", minimal.callKitUuid)
        assertNull(minimal.callerIdentity)
        assertEquals(UTDStreamType.AUDIO_CALL, minimal.streamType)
        assertNull(minimal.sentAtMs)

        val ended = (parseCallPushData(mapOf("type" to "call_ended", "call_id" to ID_A, "reason" to "answered_elsewhere")) as? UTDCallPushEvent.Ended)?.push
            ?: throw AssertionError("call_ended is ended")
        assertEquals(ID_A, ended.callId)
        assertEquals("0e900213-bd54-5b9a-af2e-00d34e636a3c", ended.callKitUuid)
        assertEquals(UTDCallEndReason.AnsweredElsewhere, ended.reason)
    }

    suite.test("coldstart: a payload that is not a call push is invalidArgument, from JSON and from a data map") {
        for (json in listOf(
            """{"type":"chat.message","call_id":"$ID_A"}""",
            """{"type":"call"}""",
            """{"type":"call","call_id":"../../admin"}""",
            "[1]",
            "not json",
        )) {
            val e = assertFailsWith<UTDStreamException>(json) { parseCallPush(json) }
            assertEquals(UTDErrorCode.INVALID_ARGUMENT, e.code(), "$json: $e")
        }
        for (data in listOf(mapOf("type" to "chat.message", "call_id" to ID_A), mapOf("call_id" to ID_A), emptyMap())) {
            val e = assertFailsWith<UTDStreamException>("$data") { parseCallPushData(data) }
            assertEquals(UTDErrorCode.INVALID_ARGUMENT, e.code(), "$data: $e")
        }
    }
}

private fun registerWakeFromKilledTests(suite: TestSuite) {
    suite.asyncTest("coldstart: a killed callee woken by a VoIP push answers from the payload alone, both hear each other, and the caller's hang-up ends it", TEST_TIMEOUT) {
        withColdStart("voip") { world ->
            val voip = voipToken()
            world.registerThenKill("alice", "alice-iphone", voip)
            val bob = world.ready("bob", "bob-phone")

            // Bob dials; the push goes out while his call room is still being joined.
            val dialling = async { bob.startCall("alice", "Alice", UTDStreamType.AUDIO_CALL) }
            val push = world.voipPush(voip, "the VoIP push to alice's iPhone")
            val callId = push.payload["call_id"] as? String ?: throw AssertionError("no call_id in $push")
            assertEquals("call", push.payload["type"], "$push")

            // The iPhone wakes: a new controller with nothing but its config and the payload.
            val dir = world.stateDirectory()
            val iphone = world.controller("alice", "alice-iphone", listOf(voip), dir)
            val events = world.events(iphone)
            val shown = reportIncoming(iphone.handleCallPush(push.payloadJson))
            assertEquals(callId, shown.callId)
            assertEquals(callKitUuid(callId), shown.callKitUuid)
            assertEquals("bob", shown.callerIdentity)
            assertEquals("BOB", shown.callerName)
            assertEquals(UTDStreamType.AUDIO_CALL, shown.streamType)
            assertEquals(UTDCallSource.PUSH, shown.source)
            iphone.markReported(callId)
            when (val reconciled = iphone.reconcile(callId)) {
                is UTDReconcileResult.Ringing -> {
                    assertEquals(callId, reconciled.call.callId)
                    val left = reconciled.timeLeftMs
                    assertTrue(left != null && left > 0uL, "still ringing for a while: $left ms")
                }
                else -> throw AssertionError("the call should still ring: $reconciled")
            }

            // Accept tapped on the lock screen, then the app finishes starting:
            // the answer is written down in the state directory first.
            val accepting = async(start = CoroutineStart.UNDISPATCHED) { iphone.acceptIncoming(callId) }
            val intents = File(dir, "utd-call-intents.json")
            eventually("the answer is written down before init()", WAIT) { intents.isFile && callId in intents.readText() }
            iphone.init()
            val callee = when (val outcome = withTimeout(WAIT) { accepting.await() }) {
                is UTDAcceptOutcome.Joined -> outcome.session
                else -> throw AssertionError("the accept should join: $outcome")
            }
            val caller = withTimeout(WAIT) { dialling.await() }
            assertEquals(callId, caller.callId())
            caller.statusBecomes(UTDCallStatus.ACTIVE, "bob")
            assertEquals(UTDCallStatus.ACTIVE, callee.status(), "alice is in the call")
            events.await("alice's controller reports the call joined") { seen ->
                seen.any { it is UTDCallControllerEvent.CallJoined && it.callId == callId }
            }
            eventually("the carried-out answer is cleared", WAIT) { !intents.isFile || callId !in intents.readText() }

            val bobVoice = sing(caller.room(), Tone(440.0))
            val aliceVoice = sing(callee.room(), Tone(660.0))
            try {
                awaitParticipant(callee.room(), "bob", "alice")
                awaitParticipant(caller.room(), "alice", "bob")
                hearTone(callee.room(), "bob", 440.0, WAIT)
                hearTone(caller.room(), "alice", 660.0, WAIT)
            } finally {
                bobVoice.cancel()
                aliceVoice.cancel()
            }
            assertEquals(1, events.incoming(callId), "one incoming call however many paths told of it: ${events.seen.value}")

            bob.end()
            events.await("alice's call ends with hangupCaller") { events.ended(callId).isNotEmpty() }
            assertEquals(listOf<UTDCallEndReason>(UTDCallEndReason.HangupCaller), events.ended(callId))
            callee.statusBecomes(UTDCallStatus.ENDED, "alice")
        }
    }

    suite.asyncTest("coldstart: a VoIP push handled after the caller cancelled reconciles to over(cancelled); answering it is over(cancelled), not an error", TEST_TIMEOUT) {
        withColdStart("cancelled") { world ->
            val voip = voipToken()
            world.registerThenKill("alice", "alice-iphone", voip)
            val bob = world.ready("bob", "bob-phone")
            val outgoing = bob.startCall("alice", null, UTDStreamType.AUDIO_CALL)
            val callId = outgoing.callId() ?: throw AssertionError("the call has an id")
            val push = world.voipPush(voip, "the VoIP push of $callId") { it.payload["call_id"] == callId }
            bob.end()
            outgoing.statusBecomes(UTDCallStatus.CANCELLED, "bob")

            val iphone = world.controller("alice", "alice-iphone", listOf(voip), world.stateDirectory())
            val events = world.events(iphone)
            // iOS demands every VoIP push be reported: it is, then reconciled away.
            val shown = reportIncoming(iphone.handleCallPush(push.payloadJson))
            assertEquals(callKitUuid(callId), shown.callKitUuid)
            assertEquals(UTDReconcileResult.Over(UTDCallEndReason.Cancelled), iphone.reconcile(callId))
            events.await("the reported call is ended as cancelled") { events.ended(callId).isNotEmpty() }
            assertEquals(listOf<UTDCallEndReason>(UTDCallEndReason.Cancelled), events.ended(callId))

            iphone.init()
            assertEquals(UTDAcceptOutcome.Over(UTDCallEndReason.Cancelled), iphone.acceptIncoming(callId))
            assertNull(iphone.currentCall(), "nothing was joined")
            assertEquals(listOf<UTDCallEndReason>(UTDCallEndReason.Cancelled), events.ended(callId), "ended once")
        }
    }

    suite.asyncTest("coldstart: Android — the FCM data message rings the killed phone; another device answers and call_ended dismisses it as answeredElsewhere", TEST_TIMEOUT) {
        withColdStart("fcm") { world ->
            val fcm = fcmToken()
            world.registerThenKill("alice", "alice-android", fcm)
            val tablet = world.controller("alice", "alice-tablet")
            val tabletEvents = world.events(tablet)
            tablet.init()
            val bob = world.ready("bob", "bob-phone")
            val outgoing = bob.startCall("alice", null, UTDStreamType.AUDIO_CALL)
            val callId = outgoing.callId() ?: throw AssertionError("the call has an id")

            val ring = world.fcmMessage(fcm, "the FCM call message to alice's phone") { it.data["type"] == "call" && it.data["call_id"] == callId }
            val android = world.controller("alice", "alice-android", listOf(fcm))
            val androidEvents = world.events(android)
            val shown = reportIncoming(android.handleCallPushData(ring.data))
            assertEquals(callId, shown.callId)
            assertEquals(callKitUuid(callId), shown.callKitUuid)
            assertEquals("bob", shown.callerIdentity)
            assertEquals(UTDStreamType.AUDIO_CALL, shown.streamType)

            // The connected tablet rings too, and answers.
            tabletEvents.await("the tablet rings") { tabletEvents.incoming(callId) == 1 }
            when (val outcome = tablet.acceptIncoming(callId)) {
                is UTDAcceptOutcome.Joined -> assertEquals(callId, outcome.session.callId())
                else -> throw AssertionError("the tablet should join: $outcome")
            }
            outgoing.statusBecomes(UTDCallStatus.ACTIVE, "bob")

            val ended = world.fcmMessage(fcm, "call_ended to alice's phone") { it.data["type"] == "call_ended" && it.data["call_id"] == callId }
            assertEquals("answered_elsewhere", ended.data["reason"], "$ended")
            when (val action = android.handleCallPushData(ended.data)) {
                is UTDPushAction.ReportEnded -> {
                    assertEquals(callId, action.callId)
                    assertEquals(shown.callKitUuid, action.callKitUuid, "the same system call is dismissed")
                    assertEquals(UTDCallEndReason.AnsweredElsewhere, action.reason)
                }
                else -> throw AssertionError("the phone's call UI should be dismissed: $action")
            }
            androidEvents.await("the phone's call ends as answered elsewhere") { androidEvents.ended(callId).isNotEmpty() }
            assertEquals(listOf<UTDCallEndReason>(UTDCallEndReason.AnsweredElsewhere), androidEvents.ended(callId))
            // A late answer on the phone loses, typed.
            android.init()
            assertEquals(UTDAcceptOutcome.Over(UTDCallEndReason.AnsweredElsewhere), android.acceptIncoming(callId))
            assertNull(android.currentCall(), "the phone never joined")
            assertTrue(tablet.currentCall() != null, "the tablet is still in the call")
            bob.end()
            tabletEvents.await("the tablet's call ends with hangupCaller") { tabletEvents.ended(callId).isNotEmpty() }
            assertEquals(listOf<UTDCallEndReason>(UTDCallEndReason.HangupCaller), tabletEvents.ended(callId))
        }
    }

    suite.asyncTest("coldstart: on a plan without calling init() succeeds, signalingEnabled is false and startCall is refused as signalling disabled", TEST_TIMEOUT) {
        withColdStart("free", plan = "free") { world ->
            val bob = world.controller("bob", "bob-phone")
            val events = world.events(bob)
            bob.init()
            assertEquals(false, bob.signalingEnabled())
            val refused = assertFailsWith<UTDStreamException>("startCall on the free plan") {
                bob.startCall("alice", null, UTDStreamType.AUDIO_CALL)
            }
            assertTrue(refused.isSignalingDisabled(), "refused as signalling disabled: $refused")
            events.await("callEnded(notActivated) for the call that could not start") { events.ended(null).isNotEmpty() }
            assertEquals(listOf<UTDCallEndReason>(UTDCallEndReason.NotActivated), events.ended(null))
            assertNull(bob.currentCall(), "no call was started")
            assertFalse(bob.signalingEnabled() ?: true, "still off")
        }
    }
}
