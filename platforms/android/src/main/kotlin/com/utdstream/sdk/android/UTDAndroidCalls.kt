// The Android calls layer over the core's call controller: FCM data
// messages and the signalling WebSocket in, a ringing notification and a
// self-managed Telecom Connection out; answers, declines and hang-ups from the
// OS UI or the notification back to the controller.
//
// Every path that tells of a call (push, WebSocket, reconcile, the OS UI) can
// race the others, so each step is idempotent per call id: a call is
// presented once, becomes active once, and ends once, with the first reason.
// Connection calls run on the main thread (Telecom's rule); notification and
// controller calls run where they are made.
package com.utdstream.sdk.android

import android.app.Activity
import android.content.ComponentName
import android.content.Context
import android.net.Uri
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.telecom.ConnectionRequest
import android.telecom.PhoneAccount
import android.telecom.PhoneAccountHandle
import android.telecom.TelecomManager
import android.telecom.VideoProfile
import android.util.Log
import com.google.firebase.messaging.RemoteMessage
import com.utdstream.sdk.UTDAcceptOutcome
import com.utdstream.sdk.UTDCallController
import com.utdstream.sdk.UTDCallControllerEvent
import com.utdstream.sdk.UTDCallControllerListener
import com.utdstream.sdk.UTDCallEndReason
import com.utdstream.sdk.UTDCallSession
import com.utdstream.sdk.UTDCallsConfig
import com.utdstream.sdk.UTDIncomingCall
import com.utdstream.sdk.UTDPushAction
import com.utdstream.sdk.UTDPushPlatform
import com.utdstream.sdk.UTDReconcileResult
import com.utdstream.sdk.UTDStreamException
import com.utdstream.sdk.UTDStreamType
import com.utdstream.sdk.UTDSubscription
import com.utdstream.sdk.UTDTrackSource
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

/** What the host app gives the calls layer besides the core's [UTDCallsConfig]. */
class UTDAndroidCallsOptions(
    /** The host's incoming-call activity: the full-screen intent and the notification's tap open it. */
    val callActivity: Class<out Activity>,
    /** The small icon of the call notifications. */
    val notificationIcon: Int = android.R.drawable.sym_call_incoming,
    /** The name of the self-managed phone account (shown in the OS's calling settings). */
    val phoneAccountLabel: String = "Calls",
    /** The name of the incoming-call notification channel. */
    val incomingCallChannelName: String = "Incoming calls",
    /** The name of the ongoing-call notification channel. */
    val ongoingCallChannelName: String = "Ongoing calls",
)

/** What this device knows of one call. */
private class CallEntry {
    @Volatile var call: UTDIncomingCall? = null
    @Volatile var connection: UTDCallConnection? = null
    @Volatile var session: UTDCallSession? = null
    @Volatile var local = LocalAction.NONE
    @Volatile var ending: UTDCallEndReason? = null
    @Volatile var microphoneBeforeHold = true
    val presented = AtomicBoolean()
    val active = AtomicBoolean()
    val ended = AtomicBoolean()
    val audio = MutableStateFlow<UTDCallAudioState?>(null)
}

/**
 * The calls layer of one signed-in user: install it from
 * `Application.onCreate` (a push can start the process with nothing else
 * running), then [start] it once signed in.
 */
class UTDAndroidCalls private constructor(
    context: Context,
    /** The core's call controller (start calls, read incoming calls, timings). */
    val controller: UTDCallController,
    /** The host's options. */
    val options: UTDAndroidCallsOptions,
) : AutoCloseable {
    private val app = context.applicationContext
    private val main = Handler(Looper.getMainLooper())
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    private val calls = ConcurrentHashMap<String, CallEntry>()
    private val listeners = EventListeners()
    private val notifications = UTDCallNotifications(app, options)
    private val telecom = app.telecomManager()
    private val controllerEvents: UTDSubscription
    private val starting = Mutex()
    @Volatile private var started = false
    private var pendingToken: String? = null

    /** Android 13/14 rules as they stand now. */
    val requirements = UTDCallRequirements(app)

    /** The self-managed phone account the calls are placed in. */
    val phoneAccount = PhoneAccountHandle(ComponentName(app, UTDConnectionService::class.java), PHONE_ACCOUNT_ID)

    /** Whether Telecom accepted the phone account (false without MANAGE_OWN_CALLS: calls ring by notification only). */
    val phoneAccountRegistered: Boolean

    init {
        notifications.createChannel()
        phoneAccountRegistered = try {
            telecom.registerPhoneAccount(
                PhoneAccount.builder(phoneAccount, options.phoneAccountLabel)
                    .setCapabilities(PhoneAccount.CAPABILITY_SELF_MANAGED or PhoneAccount.CAPABILITY_VIDEO_CALLING)
                    .setSupportedUriSchemes(listOf(URI_SCHEME))
                    .build(),
            )
            true
        } catch (e: SecurityException) {
            Log.w(TAG, "the self-managed phone account was refused (MANAGE_OWN_CALLS missing?): ${e.message}")
            false
        }
        controllerEvents = controller.observeEvents(object : UTDCallControllerListener {
            override fun onEvent(event: UTDCallControllerEvent) = onControllerEvent(event)
        })
    }

    /**
     * Signs in and connects (the controller's `init`): calls then also ring
     * through the WebSocket. A token Firebase handed over before this is
     * registered now.
     */
    suspend fun start() {
        starting.withLock {
            if (started) return
            controller.init()
            val token = synchronized(this) {
                started = true
                pendingToken.also { pendingToken = null }
            }
            token?.let { registerFcmToken(it) }
        }
    }

    /** Adds a listener; cancel the returned subscription to remove it. */
    fun addListener(listener: UTDAndroidCallsListener): UTDAndroidCallsSubscription = listeners.add(listener)

    /**
     * Handles an FCM data message. Returns false when it is not a call message
     * (the host handles it); a call message that cannot be used is logged and
     * reported as [UTDAndroidCallEvent.PushRejected], and shows nothing.
     */
    fun handlePushData(data: Map<String, String>): Boolean {
        if (!isCallMessage(data)) return false
        val action = try {
            controller.handleCallPushData(data)
        } catch (e: UTDStreamException) {
            Log.w(TAG, "call push rejected (${e.code()}): ${e.message()}")
            listeners.emit(UTDAndroidCallEvent.PushRejected(e))
            return true
        }
        when (action) {
            is UTDPushAction.ReportIncoming -> {
                present(action.call)
                reconcile(action.call.callId)
            }
            is UTDPushAction.ReportEnded -> finish(action.callId, action.reason)
        }
        return true
    }

    /**
     * Registers a refreshed FCM token with the engine (it replaces this
     * device's old one); before [start] it is kept and registered by it.
     */
    fun registerFcmToken(token: String) {
        synchronized(this) {
            if (!started) {
                pendingToken = token
                return
            }
        }
        scope.launch {
            try {
                controller.registerPushToken(UTDPushPlatform.FCM, token)
                listeners.emit(UTDAndroidCallEvent.PushTokenRegistered)
            } catch (e: UTDStreamException) {
                Log.w(TAG, "FCM token registration failed (${e.code()}): ${e.message()}")
                listeners.emit(UTDAndroidCallEvent.PushTokenFailed(e))
            }
        }
    }

    /** Answers [callId] (the OS UI, the notification or the host's own button). */
    fun answer(callId: String) {
        val entry = entry(callId)
        if (entry.ended.get() || entry.local == LocalAction.ANSWERED) return
        entry.local = LocalAction.ANSWERED
        notifications.cancel(callId)
        // A phone woken by a push may not have started yet: the controller
        // keeps the answer until it has, so both run side by side.
        startInBackground()
        scope.launch {
            try {
                when (val outcome = controller.acceptIncoming(callId)) {
                    is UTDAcceptOutcome.Joined -> joined(callId, outcome.session)
                    is UTDAcceptOutcome.Over -> finish(callId, outcome.reason)
                }
            } catch (e: UTDStreamException) {
                Log.w(TAG, "answering $callId failed (${e.code()}): ${e.message()}")
                finish(callId, UTDCallEndReason.Failed(e.message()))
            }
        }
    }

    /** Declines the ringing call [callId]. */
    fun decline(callId: String) {
        val entry = entry(callId)
        if (entry.ended.get()) return
        entry.local = LocalAction.DECLINED
        finish(callId, UTDCallEndReason.Rejected)
        scope.launch {
            try {
                start()
                controller.reject(callId)
            } catch (e: UTDStreamException) {
                Log.w(TAG, "declining $callId failed (${e.code()}): ${e.message()}")
            }
        }
    }

    /** Hangs up [callId] (declines it while it rings). */
    fun hangUp(callId: String) {
        val entry = entry(callId)
        if (entry.ended.get()) return
        if (!entry.active.get() && entry.local != LocalAction.ANSWERED) return decline(callId)
        entry.local = LocalAction.HUNG_UP
        finish(callId, UTDCallEndReason.HangupCallee)
        scope.launch {
            try {
                controller.end()
            } catch (e: UTDStreamException) {
                Log.w(TAG, "hanging up $callId failed (${e.code()}): ${e.message()}")
            }
        }
    }

    /** Puts the active call on hold: the Connection held, the microphone off. */
    fun hold(callId: String) {
        val entry = calls[callId] ?: return
        val session = entry.session ?: return
        onMain { entry.connection?.setOnHold() }
        scope.launch {
            entry.microphoneBeforeHold =
                session.room().localParticipant()?.publishedSources?.contains(UTDTrackSource.MICROPHONE) ?: false
            setMicrophone(callId, session, false)
        }
    }

    /** Takes the call off hold: the Connection active, the microphone as it was. */
    fun unhold(callId: String) {
        val entry = calls[callId] ?: return
        val session = entry.session ?: return
        onMain { entry.connection?.setActive() }
        scope.launch { setMicrophone(callId, session, entry.microphoneBeforeHold) }
    }

    /** The audio route state of [callId] as the OS reports it (null until it does). */
    fun audioState(callId: String): StateFlow<UTDCallAudioState?> = entry(callId).audio

    /**
     * Asks the OS to play [callId]'s audio through [route]. False when the call
     * has no Connection or the OS does not offer that route now.
     */
    fun setAudioRoute(callId: String, route: UTDAudioRoute): Boolean {
        val entry = calls[callId] ?: return false
        val connection = entry.connection ?: return false
        val state = entry.audio.value
        if (state != null && route !in state.available) return false
        // API 34 added CallEndpoint requests; setAudioRoute still works there
        // and is the one call that covers API 26 onwards.
        @Suppress("DEPRECATION")
        onMain { connection.setAudioRoute(route.telecomRoute) }
        return true
    }

    /** The Connection Telecom holds for [callId], if one was created. */
    fun connection(callId: String): UTDCallConnection? = calls[callId]?.connection

    /** Stops listening to the controller and disposes it. */
    suspend fun dispose() {
        close()
        controller.dispose()
    }

    /** Stops listening to the controller (without disposing it). */
    override fun close() {
        controllerEvents.cancel()
        scope.cancel()
        synchronized(Companion) { if (installed === this) installed = null }
    }

    // ---- from the controller, Telecom and the services ----

    private fun onControllerEvent(event: UTDCallControllerEvent) {
        // Runs on a core thread: an exception must not cross back into the core.
        try {
            when (event) {
                is UTDCallControllerEvent.IncomingCall -> present(event.call)
                is UTDCallControllerEvent.CallJoined -> joined(event.callId, event.session)
                is UTDCallControllerEvent.CallEnded -> event.callId?.let { finish(it, event.reason) }
            }
        } catch (e: RuntimeException) {
            Log.e(TAG, "handling $event failed", e)
        }
    }

    internal fun createIncomingConnection(callId: String, request: ConnectionRequest): UTDCallConnection {
        val entry = entry(callId)
        val connection = UTDCallConnection(callId, this)
        request.address?.let { connection.setAddress(it, TelecomManager.PRESENTATION_ALLOWED) }
        entry.call?.let { call ->
            (call.callerName ?: call.callerIdentity)?.let { connection.setCallerDisplayName(it, TelecomManager.PRESENTATION_ALLOWED) }
        }
        connection.videoState = request.videoState
        connection.setRinging()
        entry.connection = connection
        // The call may have ended while Telecom was creating the Connection.
        entry.ending?.let { reason ->
            connection.setDisconnected(disconnectCause(reason, entry.local))
            connection.destroy()
        }
        return connection
    }

    internal fun incomingConnectionRefused(callId: String) {
        Log.w(TAG, "Telecom refused the connection of $callId; it rings by notification only")
        listeners.emit(UTDAndroidCallEvent.ConnectionRefused(callId))
    }

    internal fun showIncomingUi(callId: String) {
        val entry = calls[callId] ?: return
        val call = entry.call ?: return
        if (entry.ended.get() || entry.local != LocalAction.NONE) return
        notifications.showIncoming(call, requirements.notificationsAllowed())
    }

    internal fun audioStateChanged(callId: String, state: UTDCallAudioState) {
        entry(callId).audio.value = state
        listeners.emit(UTDAndroidCallEvent.AudioStateChanged(callId, state))
    }

    internal fun callerName(callId: String): String? = calls[callId]?.call?.let { it.callerName ?: it.callerIdentity }

    internal fun foregroundStarted(callId: String, types: Int) =
        listeners.emit(UTDAndroidCallEvent.ForegroundServiceStarted(callId, types))

    internal fun foregroundRefused(callId: String, error: RuntimeException) =
        listeners.emit(UTDAndroidCallEvent.ForegroundServiceRefused(callId, error))

    // ---- the three steps of a call here ----

    private fun present(call: UTDIncomingCall) {
        val entry = entry(call.callId)
        entry.call = call
        if (entry.ended.get() || !entry.presented.compareAndSet(false, true)) return
        // The notification first, from this thread: an FCM handler's process
        // may be frozen soon after it returns.
        val posted = notifications.showIncoming(call, requirements.notificationsAllowed())
        if (!posted) Log.w(TAG, "incoming call ${call.callId}: notifications are not allowed; nothing rings on screen")
        onMain {
            val requested = requestConnection(call)
            listeners.emit(
                UTDAndroidCallEvent.IncomingCallShown(
                    callId = call.callId,
                    callerName = call.callerName ?: call.callerIdentity,
                    notificationPosted = posted,
                    fullScreenIntentAllowed = requirements.fullScreenIntentAllowed(),
                    connectionRequested = requested,
                    missing = requirements.missing(),
                ),
            )
        }
    }

    private fun joined(callId: String, session: UTDCallSession) {
        val entry = entry(callId)
        if (entry.ended.get() || !entry.active.compareAndSet(false, true)) return
        entry.session = session
        notifications.cancel(callId)
        onMain { entry.connection?.setActive() }
        try {
            UTDCallForegroundService.start(app, callId)
        } catch (e: RuntimeException) {
            // Android 12+ refuses a foreground-service start from the background.
            Log.w(TAG, "ongoing-call service for $callId not started: ${e.javaClass.simpleName}: ${e.message}")
            listeners.emit(UTDAndroidCallEvent.ForegroundServiceRefused(callId, e))
        }
        listeners.emit(UTDAndroidCallEvent.CallActive(callId, session))
    }

    private fun finish(callId: String, reason: UTDCallEndReason) {
        val entry = entry(callId)
        if (!entry.ended.compareAndSet(false, true)) return
        entry.ending = reason
        val cause = disconnectCause(reason, entry.local)
        // Also a notification a killed process left behind.
        notifications.cancel(callId)
        onMain {
            entry.connection?.let { connection ->
                connection.setDisconnected(cause)
                connection.destroy()
            }
        }
        if (entry.active.get()) UTDCallForegroundService.stop(app)
        listeners.emit(UTDAndroidCallEvent.CallEnded(callId, reason, cause.code))
    }

    // ---- helpers ----

    private fun reconcile(callId: String) {
        scope.launch {
            try {
                val result = controller.reconcile(callId)
                if (result is UTDReconcileResult.Over) finish(callId, result.reason)
            } catch (e: UTDStreamException) {
                // The push stays shown: the WebSocket or the ring deadline ends it.
                Log.w(TAG, "reconciling $callId failed (${e.code()}): ${e.message()}")
            }
        }
    }

    private fun startInBackground() {
        if (started) return
        scope.launch {
            try {
                start()
            } catch (e: UTDStreamException) {
                Log.w(TAG, "starting the calls layer failed (${e.code()}): ${e.message()}")
            }
        }
    }

    private fun requestConnection(call: UTDIncomingCall): Boolean {
        if (!phoneAccountRegistered) return false
        val extras = Bundle().apply {
            putString(EXTRA_CALL_ID, call.callId)
            putParcelable(TelecomManager.EXTRA_INCOMING_CALL_ADDRESS, Uri.fromParts(URI_SCHEME, call.callerIdentity ?: call.callId, null))
            if (call.streamType == UTDStreamType.VIDEO_CALL) {
                putInt(TelecomManager.EXTRA_INCOMING_VIDEO_STATE, VideoProfile.STATE_BIDIRECTIONAL)
            }
        }
        return try {
            telecom.addNewIncomingCall(phoneAccount, extras)
            true
        } catch (e: SecurityException) {
            Log.w(TAG, "Telecom refused incoming call ${call.callId}: ${e.message}")
            false
        }
    }

    private suspend fun setMicrophone(callId: String, session: UTDCallSession, enabled: Boolean) {
        try {
            session.room().setMicrophone(enabled)
        } catch (e: UTDStreamException) {
            Log.w(TAG, "microphone ${if (enabled) "on" else "off"} for $callId failed (${e.code()}): ${e.message()}")
        }
    }

    private fun entry(callId: String): CallEntry = calls.getOrPut(callId) { CallEntry() }

    private fun onMain(block: () -> Unit) {
        if (Looper.myLooper() == Looper.getMainLooper()) block() else main.post(block)
    }

    /** Installation and the one-line entry points for the host's FCM service. */
    companion object {
        /** The log tag of the calls layer. */
        const val TAG = "UTDStream"

        /** The call id extra of the intents and Telecom bundles of this layer. */
        const val EXTRA_CALL_ID = "com.utdstream.sdk.android.CALL_ID"

        /** The action of the intent that opens the host's call activity for a ringing call. */
        const val ACTION_SHOW_INCOMING_CALL = "com.utdstream.sdk.android.SHOW_INCOMING_CALL"

        /** The id of the self-managed phone account. */
        const val PHONE_ACCOUNT_ID = "utd-stream-calls"

        private const val URI_SCHEME = "utd"

        @Volatile private var installed: UTDAndroidCalls? = null

        /** The installed calls layer, if any. */
        val current: UTDAndroidCalls? get() = installed

        /**
         * Builds the calls layer for [config] (replacing one installed before):
         * creates the notification channel, registers the phone account and
         * listens to the controller. Does no network I/O.
         */
        fun install(context: Context, config: UTDCallsConfig, options: UTDAndroidCallsOptions): UTDAndroidCalls =
            synchronized(this) {
                installed?.close()
                UTDAndroidCalls(context, UTDCallController(config), options).also { installed = it }
            }

        /** The host's `FirebaseMessagingService.onMessageReceived`, in one line. False: not a call message. */
        fun onMessageReceived(message: RemoteMessage): Boolean = onMessageReceived(message.data)

        /** The same for the message's data map. */
        fun onMessageReceived(data: Map<String, String>): Boolean {
            val calls = installed ?: return isCallMessage(data).also { ours ->
                if (ours) Log.w(TAG, "a call push arrived before UTDAndroidCalls.install (call it in Application.onCreate)")
            }
            return calls.handlePushData(data)
        }

        /** The host's `FirebaseMessagingService.onNewToken`, in one line. */
        fun onNewToken(token: String) {
            val calls = installed
            if (calls == null) {
                Log.w(TAG, "an FCM token arrived before UTDAndroidCalls.install; pass it in UTDCallsConfig.pushTokens")
                return
            }
            calls.registerFcmToken(token)
        }

        private fun isCallMessage(data: Map<String, String>) = data["type"] == "call" || data["type"] == "call_ended"
    }
}
