// One Robolectric test's world: an app on the real engine (utd-stack, with
// livekit-server and the APNs/FCM stand-ins), the Android calls layer of
// "alice" installed as a phone's Application.onCreate would, and plain core
// controllers for the other people and devices. FCM messages are the ones
// the engine really sent to the FCM stand-in, handed to our
// FirebaseMessagingService as Google Play services would.
//
// Robolectric runs the test on the main looper's thread with the looper
// paused: work the calls layer posts to the main thread runs when a test
// waits through [awaitMain], which idles the looper between polls.
package com.utdstream.robolectric

import android.app.Activity
import android.app.Application
import android.app.NotificationManager
import android.content.Context
import android.os.Looper
import android.telecom.TelecomManager
import org.robolectric.RuntimeEnvironment
import com.google.firebase.messaging.RemoteMessage
import com.utdstream.sdk.UTDCallController
import com.utdstream.sdk.UTDCallSession
import com.utdstream.sdk.UTDCallsConfig
import com.utdstream.sdk.UTDPushPlatform
import com.utdstream.sdk.UTDPushToken
import com.utdstream.sdk.UTDStreamType
import com.utdstream.sdk.android.UTDAndroidCallEvent
import com.utdstream.sdk.android.UTDAndroidCalls
import com.utdstream.sdk.android.UTDAndroidCallsOptions
import com.utdstream.sdk.android.UTDFirebaseMessagingService
import com.utdstream.tests.EngineAdmin
import com.utdstream.tests.RecordedFcmMessage
import com.utdstream.tests.StackEnv
import java.security.SecureRandom
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.robolectric.Robolectric
import org.robolectric.Shadows.shadowOf
import org.robolectric.shadows.ShadowNotificationManager
import org.robolectric.shadows.ShadowTelecomManager

/** How long a push, an event or a state may take. */
const val WAIT_MS = 10_000L

/** The host app's call activity (what the full-screen intent opens). */
class HostCallActivity : Activity()

private val random = SecureRandom()

/** A random FCM registration token (this test's own). */
fun fcmToken(): UTDPushToken {
    val raw = ByteArray(8).also { random.nextBytes(it) }
    return UTDPushToken(UTDPushPlatform.FCM, "fcm:${raw.joinToString("") { "%02x".format(it) }}:APA91b-robolectric")
}

/** A call ringing alice's phone: its calls layer, the call, her token, bob's side and her tablet. */
class RingingPhone(
    val calls: UTDAndroidCalls,
    val callId: String,
    val token: UTDPushToken,
    val bob: UTDCallController,
    val outgoing: UTDCallSession,
    val tablet: UTDCallController?,
)

/** Runs [body] in a fresh [AndroidWorld] and tears it down whatever happened. */
fun withWorld(label: String, body: AndroidWorld.() -> Unit) {
    val world = AndroidWorld(label)
    try {
        world.body()
    } finally {
        world.close()
    }
}

class AndroidWorld(label: String) : AutoCloseable {
    val stack = StackEnv.require()
    private val app = EngineAdmin(stack).createApp("robolectric-$label-${System.nanoTime()}", "signaling")
    val context: Application = RuntimeEnvironment.getApplication()
    val telecom: ShadowTelecomManager = shadowOf(context.getSystemService(TelecomManager::class.java))
    val notifications: ShadowNotificationManager =
        shadowOf(context.getSystemService(Context.NOTIFICATION_SERVICE) as NotificationManager)
    private val controllers = ConcurrentLinkedQueue<UTDCallController>()
    private var installed: UTDAndroidCalls? = null

    /** Every event the installed calls layer emitted, in order. */
    val events = CopyOnWriteArrayList<UTDAndroidCallEvent>()

    init {
        // Telecom accepts every self-managed call request, as a phone with no
        // other call does: addNewIncomingCall creates our Connection at once.
        telecom.setCallRequestMode(ShadowTelecomManager.CallRequestMode.ALLOW_ALL)
    }

    fun config(user: String, device: String, tokens: List<UTDPushToken> = emptyList()) = UTDCallsConfig(
        appId = app.appId,
        appKey = app.appKey,
        baseUrl = stack.engineUrl,
        userId = user,
        userName = user.uppercase(),
        deviceId = device,
        pushTokens = tokens,
        stateDirectory = context.filesDir.absolutePath,
    )

    /** A plain core controller of [user] on [device], signed in and connected. */
    fun ready(user: String, device: String): UTDCallController =
        UTDCallController(config(user, device)).also { controllers += it }.also { block { it.init() } }

    /** [user]'s phone registered [token] once, then was killed: nothing of it runs. */
    fun registeredThenKilled(user: String, device: String, token: UTDPushToken) {
        val once = UTDCallController(config(user, device, listOf(token)))
        block {
            once.init()
            once.dispose()
        }
    }

    /** The phone's process starts (Application.onCreate): the calls layer installed, not yet started. */
    fun install(user: String, device: String, tokens: List<UTDPushToken>): UTDAndroidCalls {
        val calls = UTDAndroidCalls.install(context, config(user, device, tokens), UTDAndroidCallsOptions(HostCallActivity::class.java))
        calls.addListener { events += it }
        installed = calls
        return calls
    }

    /** Google Play services hands [data] to the app's FirebaseMessagingService. */
    fun deliverFcm(data: Map<String, String>) {
        val service = Robolectric.buildService(UTDFirebaseMessagingService::class.java).create().get()
        service.onMessageReceived(RemoteMessage.Builder("utd@fcm.googleapis.com").setData(data).build())
    }

    /** Firebase rotates the app's token. */
    fun refreshFcmToken(token: String) {
        Robolectric.buildService(UTDFirebaseMessagingService::class.java).create().get().onNewToken(token)
    }

    /** The first FCM message the engine sent to [token] that matches [predicate]. */
    fun fcmMessage(token: UTDPushToken, what: String, predicate: (RecordedFcmMessage) -> Boolean): RecordedFcmMessage {
        var found: RecordedFcmMessage? = null
        awaitMain(what) {
            found = stack.fcmMessages().firstOrNull { it.deviceToken == token.token && predicate(it) }
            found != null
        }
        return found!!
    }

    /**
     * Bob calls alice, whose phone registered its FCM token and was killed
     * (and, with [withTablet], whose connected tablet rings too): the phone's
     * process starts (the calls layer installed, not started) and gets the
     * engine's real FCM call message. Returns once the phone rings.
     */
    fun ringKilledPhone(type: UTDStreamType = UTDStreamType.AUDIO_CALL, calleeName: String? = null, withTablet: Boolean = false): RingingPhone {
        val token = fcmToken()
        registeredThenKilled("alice", "alice-pixel", token)
        val tablet = if (withTablet) ready("alice", "alice-tablet") else null
        val bob = ready("bob", "bob-phone")
        val calls = install("alice", "alice-pixel", listOf(token))
        val outgoing = block { bob.startCall("alice", calleeName, type) }
        val callId = outgoing.callId() ?: throw AssertionError("bob's call has no id")
        val ring = fcmMessage(token, "the FCM call message of $callId") { it.data["type"] == "call" && it.data["call_id"] == callId }
        deliverFcm(ring.data)
        awaitMain("alice's phone rings") { seen<UTDAndroidCallEvent.IncomingCallShown>().any { it.callId == callId } }
        return RingingPhone(calls, callId, token, bob, outgoing, tablet)
    }

    /** The events of type [T] seen so far. */
    inline fun <reified T : UTDAndroidCallEvent> seen(): List<T> = events.filterIsInstance<T>()

    /** Runs a suspend call of the core from the test thread. */
    fun <T> block(body: suspend () -> T): T = runBlocking { withTimeout(WAIT_MS) { body() } }

    override fun close() {
        installed?.let { calls -> block { calls.dispose() } }
        controllers.forEach { controller -> runCatching { block { controller.dispose() } } }
    }
}

/**
 * Waits until [condition] holds, running the main looper's posted work
 * between polls; fails naming [what] after [timeoutMs].
 */
fun awaitMain(what: String, timeoutMs: Long = WAIT_MS, condition: () -> Boolean) {
    val deadline = System.nanoTime() + timeoutMs * 1_000_000
    val looper = shadowOf(Looper.getMainLooper())
    while (true) {
        looper.idle()
        if (condition()) return
        if (System.nanoTime() > deadline) throw AssertionError("$what: not within $timeoutMs ms")
        Thread.sleep(20)
    }
}
