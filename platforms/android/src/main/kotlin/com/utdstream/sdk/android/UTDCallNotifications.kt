// The incoming-call notification: what a self-managed calling app must post
// itself (Telecom shows no UI for it). High-importance channel, category
// CALL, a full-screen intent to the host's call activity, answer / decline
// buttons (CallStyle on API 31+), and a timeout at the ring deadline so it
// goes away even if the process dies before the call ends.
package com.utdstream.sdk.android

import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.app.Person
import android.content.Context
import android.content.Intent
import android.os.Build
import com.utdstream.sdk.UTDIncomingCall
import com.utdstream.sdk.UTDStreamType

/** The channel id of incoming calls (created on install). */
const val UTD_INCOMING_CALL_CHANNEL = "utd_stream_incoming_calls"

/** The notification id of every incoming call (the tag is the call id). */
const val UTD_INCOMING_CALL_NOTIFICATION_ID = 0x7574_6401

internal class UTDCallNotifications(context: Context, private val options: UTDAndroidCallsOptions) {
    private val app = context.applicationContext
    private val manager = app.notificationManager()

    fun createChannel() {
        val channel = NotificationChannel(UTD_INCOMING_CALL_CHANNEL, options.incomingCallChannelName, NotificationManager.IMPORTANCE_HIGH)
        channel.description = "Rings for incoming calls"
        channel.lockscreenVisibility = Notification.VISIBILITY_PUBLIC
        manager.createNotificationChannel(channel)
    }

    /** Posts the ringing notification of [call]; false when the app may not post notifications. */
    fun showIncoming(call: UTDIncomingCall, allowed: Boolean): Boolean {
        if (!allowed) return false
        val caller = call.callerName ?: call.callerIdentity ?: "Unknown caller"
        val kind = if (call.streamType == UTDStreamType.VIDEO_CALL) "video" else "audio"
        val fullScreen = PendingIntent.getActivity(
            app,
            requestCode(call.callId, 0),
            Intent(app, options.callActivity)
                .setAction(UTDAndroidCalls.ACTION_SHOW_INCOMING_CALL)
                .putExtra(UTDAndroidCalls.EXTRA_CALL_ID, call.callId)
                .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK or Intent.FLAG_ACTIVITY_NO_USER_ACTION),
            PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
        )
        val answer = actionIntent(call.callId, UTDCallActionReceiver.ACTION_ANSWER, 1)
        val decline = actionIntent(call.callId, UTDCallActionReceiver.ACTION_DECLINE, 2)
        val builder = Notification.Builder(app, UTD_INCOMING_CALL_CHANNEL)
            .setSmallIcon(options.notificationIcon)
            .setContentTitle(caller)
            .setContentText("Incoming $kind call")
            .setCategory(Notification.CATEGORY_CALL)
            .setVisibility(Notification.VISIBILITY_PUBLIC)
            .setOngoing(true)
            .setAutoCancel(false)
            .setContentIntent(fullScreen)
            .setFullScreenIntent(fullScreen, true)
        call.ringExpiresAtMs?.let { expires ->
            val left = expires.toLong() - System.currentTimeMillis()
            if (left > 0) builder.setTimeoutAfter(left)
        }
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
            val person = Person.Builder().setName(caller).setImportant(true).build()
            builder.setStyle(Notification.CallStyle.forIncomingCall(person, decline, answer))
        } else {
            builder.addAction(Notification.Action.Builder(null, "Decline", decline).build())
            builder.addAction(Notification.Action.Builder(null, "Answer", answer).build())
        }
        manager.notify(call.callId, UTD_INCOMING_CALL_NOTIFICATION_ID, builder.build())
        return true
    }

    /** Removes [callId]'s ringing notification (also one a previous process posted). */
    fun cancel(callId: String) = manager.cancel(callId, UTD_INCOMING_CALL_NOTIFICATION_ID)

    private fun actionIntent(callId: String, action: String, slot: Int): PendingIntent = PendingIntent.getBroadcast(
        app,
        requestCode(callId, slot),
        Intent(app, UTDCallActionReceiver::class.java).setAction(action).putExtra(UTDAndroidCalls.EXTRA_CALL_ID, callId),
        PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
    )

    // Distinct per call and per button, so one call's PendingIntent never
    // replaces another's extras.
    private fun requestCode(callId: String, slot: Int) = callId.hashCode() * 4 + slot
}
