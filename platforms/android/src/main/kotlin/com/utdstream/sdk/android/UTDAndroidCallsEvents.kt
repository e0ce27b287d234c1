// What the Android calls layer tells the host app, and how it listens.
package com.utdstream.sdk.android

import com.utdstream.sdk.UTDCallEndReason
import com.utdstream.sdk.UTDCallSession
import com.utdstream.sdk.UTDStreamException
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/** One thing that happened to a call on this device, in order. */
sealed class UTDAndroidCallEvent {
    /**
     * An incoming call is ringing here. [notificationPosted] is false when the
     * app may not post notifications; [fullScreenIntentAllowed] false means it
     * shows as a heads-up notification only (API 34+, see
     * [UTDCallRequirements.settingsIntent]); [connectionRequested] false means
     * Telecom was not asked (no MANAGE_OWN_CALLS / phone account).
     */
    data class IncomingCallShown(
        val callId: String,
        val callerName: String?,
        val notificationPosted: Boolean,
        val fullScreenIntentAllowed: Boolean,
        val connectionRequested: Boolean,
        val missing: List<UTDCallRequirement>,
    ) : UTDAndroidCallEvent()

    /** Telecom refused the call's Connection; the notification still rings. */
    data class ConnectionRefused(val callId: String) : UTDAndroidCallEvent()

    /** This device is in the call: its media room is joined, the Connection active. */
    class CallActive(val callId: String, val session: UTDCallSession) : UTDAndroidCallEvent() {
        override fun toString() = "CallActive(callId=$callId)"
    }

    /** The call is over here: notification gone, Connection disconnected with [disconnectCode] (a `DisconnectCause` code). */
    data class CallEnded(val callId: String, val reason: UTDCallEndReason, val disconnectCode: Int) : UTDAndroidCallEvent()

    /** The OS changed the call's audio route or the routes on offer. */
    data class AudioStateChanged(val callId: String, val state: UTDCallAudioState) : UTDAndroidCallEvent()

    /** A call push could not be used (malformed, unknown call id format): nothing was shown. */
    class PushRejected(val error: UTDStreamException) : UTDAndroidCallEvent() {
        override fun toString() = "PushRejected(${error.code()}: ${error.message()})"
    }

    /** A new FCM token is registered with the engine (it replaces this device's previous one). */
    object PushTokenRegistered : UTDAndroidCallEvent() {
        override fun toString() = "PushTokenRegistered"
    }

    /** Registering a new FCM token failed; calls will not wake this device until it succeeds. */
    class PushTokenFailed(val error: UTDStreamException) : UTDAndroidCallEvent() {
        override fun toString() = "PushTokenFailed(${error.code()}: ${error.message()})"
    }

    /** The ongoing-call foreground service runs with these `ServiceInfo.FOREGROUND_SERVICE_TYPE_*` bits. */
    data class ForegroundServiceStarted(val callId: String, val serviceTypes: Int) : UTDAndroidCallEvent()

    /** The OS refused the ongoing-call foreground service (background start, missing permission). */
    class ForegroundServiceRefused(val callId: String, val error: RuntimeException) : UTDAndroidCallEvent() {
        override fun toString() = "ForegroundServiceRefused(callId=$callId, ${error.javaClass.simpleName})"
    }
}

/** Receives [UTDAndroidCallEvent]s, on the thread that caused them. */
fun interface UTDAndroidCallsListener {
    /** One event. */
    fun onEvent(event: UTDAndroidCallEvent)
}

/** A listener registration; [cancel] (or close) removes it. */
class UTDAndroidCallsSubscription internal constructor(private val onCancel: () -> Unit) : AutoCloseable {
    /** Removes the listener; later calls do nothing. */
    fun cancel() = onCancel()

    override fun close() = cancel()
}

/** The listeners of one [UTDAndroidCalls]: a host listener that throws never stops the others. */
internal class EventListeners {
    private val listeners = CopyOnWriteArrayList<UTDAndroidCallsListener>()

    fun add(listener: UTDAndroidCallsListener): UTDAndroidCallsSubscription {
        listeners += listener
        return UTDAndroidCallsSubscription { listeners.remove(listener) }
    }

    fun emit(event: UTDAndroidCallEvent) {
        for (listener in listeners) {
            try {
                listener.onEvent(event)
            } catch (e: RuntimeException) {
                android.util.Log.e(UTDAndroidCalls.TAG, "a UTDAndroidCallsListener threw on $event", e)
            }
        }
    }
}

/** The events from now on, as a Flow (collecting subscribes; cancelling unsubscribes). */
fun UTDAndroidCalls.eventsFlow(): Flow<UTDAndroidCallEvent> = callbackFlow {
    val subscription = addListener { trySend(it) }
    awaitClose { subscription.cancel() }
}.buffer(capacity = 256, onBufferOverflow = BufferOverflow.DROP_OLDEST)
