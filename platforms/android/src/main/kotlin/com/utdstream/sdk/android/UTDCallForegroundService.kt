// Keeps the process and the microphone while a call is active. Android 14
// requires a declared foreground-service type: `phoneCall` (allowed with
// MANAGE_OWN_CALLS for a self-managed call) and `microphone` (only with
// RECORD_AUDIO granted); the types used are the ones the app holds, and a
// refusal is reported to the host, not swallowed.
package com.utdstream.sdk.android

import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.Service
import android.content.Context
import android.content.Intent
import android.content.pm.ServiceInfo
import android.os.Build
import android.os.IBinder
import android.util.Log

/** The ongoing-call foreground service (declared in the library manifest). */
class UTDCallForegroundService : Service() {
    override fun onBind(intent: Intent?): IBinder? = null

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        val callId = intent?.getStringExtra(UTDAndroidCalls.EXTRA_CALL_ID)
        val calls = UTDAndroidCalls.current
        if (callId == null || calls == null) {
            stopSelf()
            return START_NOT_STICKY
        }
        val manager = notificationManager()
        manager.createNotificationChannel(
            NotificationChannel(ONGOING_CHANNEL, calls.options.ongoingCallChannelName, NotificationManager.IMPORTANCE_LOW),
        )
        val notification = Notification.Builder(this, ONGOING_CHANNEL)
            .setSmallIcon(calls.options.notificationIcon)
            .setContentTitle(calls.callerName(callId) ?: "Call")
            .setContentText("Call in progress")
            .setCategory(Notification.CATEGORY_CALL)
            .setOngoing(true)
            .build()
        val types = serviceTypes(calls.requirements)
        try {
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
                startForeground(ONGOING_NOTIFICATION_ID, notification, types)
            } else {
                startForeground(ONGOING_NOTIFICATION_ID, notification)
            }
            calls.foregroundStarted(callId, types)
        } catch (e: RuntimeException) {
            // SecurityException / ForegroundServiceStartNotAllowedException:
            // the call goes on, but the OS may stop the microphone in the background.
            Log.w(UTDAndroidCalls.TAG, "foreground service for $callId refused: ${e.javaClass.simpleName}: ${e.message}")
            calls.foregroundRefused(callId, e)
            stopSelf()
        }
        return START_NOT_STICKY
    }

    internal companion object {
        const val ONGOING_CHANNEL = "utd_stream_ongoing_calls"
        const val ONGOING_NOTIFICATION_ID = 0x7574_6402

        /** The foreground-service types the app may use now (0 below API 29, where there are none). */
        fun serviceTypes(requirements: UTDCallRequirements): Int {
            if (Build.VERSION.SDK_INT < Build.VERSION_CODES.Q) return 0
            var types = 0
            if (requirements.manageOwnCallsAllowed()) types = types or ServiceInfo.FOREGROUND_SERVICE_TYPE_PHONE_CALL
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R && requirements.microphoneAllowed()) {
                types = types or ServiceInfo.FOREGROUND_SERVICE_TYPE_MICROPHONE
            }
            return types
        }

        fun start(context: Context, callId: String) {
            val intent = Intent(context, UTDCallForegroundService::class.java).putExtra(UTDAndroidCalls.EXTRA_CALL_ID, callId)
            context.startForegroundService(intent)
        }

        fun stop(context: Context) {
            context.stopService(Intent(context, UTDCallForegroundService::class.java))
        }
    }
}
