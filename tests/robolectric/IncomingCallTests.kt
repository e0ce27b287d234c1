// A killed phone rung by the engine's real FCM message: the notification
// with its full-screen intent, the ringing self-managed Connection, Android
// 14's full-screen rule surfaced; then answered or declined from the OS UI.
package com.utdstream.robolectric

import android.app.Notification
import android.content.pm.ServiceInfo
import android.provider.Settings
import android.telecom.Connection
import android.telecom.DisconnectCause
import android.telecom.TelecomManager
import com.utdstream.sdk.UTDCallStatus
import com.utdstream.sdk.UTDStreamType
import com.utdstream.sdk.android.UTDAndroidCallEvent
import com.utdstream.sdk.android.UTDAndroidCalls
import com.utdstream.sdk.android.UTDCallForegroundService
import com.utdstream.sdk.android.UTDCallRequirement
import com.utdstream.sdk.android.UTD_INCOMING_CALL_CHANNEL
import com.utdstream.sdk.android.UTD_INCOMING_CALL_NOTIFICATION_ID
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/** Grants what a phone's user grants at the first call (all but the full-screen one). */
fun grantCallPermissions() {
    shadowOf(RuntimeEnvironment.getApplication()).grantPermissions(
        android.Manifest.permission.POST_NOTIFICATIONS,
        android.Manifest.permission.RECORD_AUDIO,
        android.Manifest.permission.MANAGE_OWN_CALLS,
        android.Manifest.permission.BLUETOOTH_CONNECT,
    )
}

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], manifest = Config.NONE)
class IncomingCallTests {
    @Before
    fun permissions() = grantCallPermissions()

    @Test
    fun fcmCallMessageRingsWithAFullScreenNotificationAndARingingConnection() = withWorld("ring") {
        val phone = ringKilledPhone(calleeName = "Alice")
        val calls = phone.calls
        val callId = phone.callId

        val notification = assertNotNull(notifications.getNotification(callId, UTD_INCOMING_CALL_NOTIFICATION_ID), "the ringing notification")
        assertEquals(UTD_INCOMING_CALL_CHANNEL, notification.channelId)
        assertEquals(Notification.CATEGORY_CALL, notification.category)
        assertNotNull(notification.fullScreenIntent, "a full-screen intent")
        val opens = shadowOf(notification.fullScreenIntent).savedIntent
        assertEquals(HostCallActivity::class.java.name, opens.component?.className)
        assertEquals(callId, opens.getStringExtra(UTDAndroidCalls.EXTRA_CALL_ID))
        assertEquals("BOB", notification.extras.getCharSequence(Notification.EXTRA_TITLE)?.toString())
        assertEquals(Notification.CallStyle::class.java.name, notification.extras.getString(Notification.EXTRA_TEMPLATE), "CallStyle on API 31+")
        assertTrue(notification.flags and Notification.FLAG_ONGOING_EVENT != 0, "ongoing while it rings")

        val request = telecom.onlyIncomingCall
        assertEquals(calls.phoneAccount, request.phoneAccount)
        assertEquals(callId, request.extras.getString(UTDAndroidCalls.EXTRA_CALL_ID))
        val connection = assertNotNull(calls.connection(callId), "Telecom created our Connection")
        assertEquals(Connection.STATE_RINGING, connection.state)
        assertTrue(connection.connectionProperties and Connection.PROPERTY_SELF_MANAGED != 0, "self-managed")
        assertEquals("BOB", connection.callerDisplayName)
        assertEquals("bob", connection.address.schemeSpecificPart)

        // Robolectric's NotificationManager says no to full-screen intents,
        // as Android 14 does until the user grants it: surfaced, with the way there.
        val shown = seen<UTDAndroidCallEvent.IncomingCallShown>().single()
        assertTrue(shown.notificationPosted)
        assertTrue(shown.connectionRequested)
        assertFalse(shown.fullScreenIntentAllowed, "$shown")
        assertEquals(listOf(UTDCallRequirement.FULL_SCREEN_INTENT), shown.missing)
        val settings = assertNotNull(calls.requirements.settingsIntent(UTDCallRequirement.FULL_SCREEN_INTENT))
        assertEquals(Settings.ACTION_MANAGE_APP_USE_FULL_SCREEN_INTENT, settings.action)
        assertEquals("package:${context.packageName}", settings.dataString)
    }

    @Test
    fun answeringFromTheConnectionJoinsTheCallOnBothSides() = withWorld("answer") {
        val phone = ringKilledPhone(calleeName = "Alice")
        val calls = phone.calls
        val callId = phone.callId
        val connection = calls.connection(callId)!!

        connection.onAnswer()
        awaitMain("alice's phone joins the call") { seen<UTDAndroidCallEvent.CallActive>().any { it.callId == callId } }
        awaitMain("the Connection is active") { connection.state == Connection.STATE_ACTIVE }
        val active = seen<UTDAndroidCallEvent.CallActive>().single()
        assertEquals(UTDCallStatus.ACTIVE, active.session.status(), "alice is in the call")
        awaitMain("bob's call is active") { phone.outgoing.status() == UTDCallStatus.ACTIVE }
        assertNull(notifications.getNotification(callId, UTD_INCOMING_CALL_NOTIFICATION_ID), "the ringing notification is gone")

        // The ongoing call runs in a phoneCall|microphone foreground service.
        val started = shadowOf(context).nextStartedService
        assertEquals(UTDCallForegroundService::class.java.name, started.component?.className)
        org.robolectric.Robolectric.buildService(UTDCallForegroundService::class.java, started).create().startCommand(0, 1)
        val types = seen<UTDAndroidCallEvent.ForegroundServiceStarted>().first().serviceTypes
        assertEquals(ServiceInfo.FOREGROUND_SERVICE_TYPE_PHONE_CALL or ServiceInfo.FOREGROUND_SERVICE_TYPE_MICROPHONE, types)

        // Hanging up from the OS UI ends it for bob too.
        connection.onDisconnect()
        awaitMain("the Connection is disconnected") { connection.state == Connection.STATE_DISCONNECTED }
        assertEquals(DisconnectCause.LOCAL, connection.disconnectCause.code)
        awaitMain("bob's call ends") { phone.outgoing.status() == UTDCallStatus.ENDED }
    }

    @Test
    fun rejectingFromTheConnectionDeclinesTheCall() = withWorld("reject") {
        val phone = ringKilledPhone(UTDStreamType.VIDEO_CALL)
        val calls = phone.calls
        val callId = phone.callId
        val connection = calls.connection(callId)!!
        assertEquals(android.telecom.VideoProfile.STATE_BIDIRECTIONAL, telecom.onlyIncomingCall.extras.getInt(TelecomManager.EXTRA_INCOMING_VIDEO_STATE))

        connection.onReject()
        awaitMain("the Connection is disconnected") { connection.state == Connection.STATE_DISCONNECTED }
        assertEquals(DisconnectCause.REJECTED, connection.disconnectCause.code)
        assertEquals("rejected", connection.disconnectCause.reason)
        assertNull(notifications.getNotification(callId, UTD_INCOMING_CALL_NOTIFICATION_ID))
        awaitMain("bob sees the call rejected") { phone.outgoing.status() == UTDCallStatus.REJECTED }
    }
}

/** A phone whose user has granted nothing yet. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], manifest = Config.NONE)
class UngrantedPhoneTests {
    @Test
    fun withoutNotificationPermissionTheCallStillRingsThroughTelecomAndSaysWhy() = withWorld("ungranted") {
        val phone = ringKilledPhone()
        val calls = phone.calls
        val callId = phone.callId

        val shown = seen<UTDAndroidCallEvent.IncomingCallShown>().single()
        assertFalse(shown.notificationPosted, "POST_NOTIFICATIONS is not granted: $shown")
        assertNull(notifications.getNotification(callId, UTD_INCOMING_CALL_NOTIFICATION_ID))
        assertTrue(shown.connectionRequested, "Telecom still rings the self-managed call")
        assertEquals(Connection.STATE_RINGING, calls.connection(callId)?.state)
        assertEquals(
            listOf(
                UTDCallRequirement.POST_NOTIFICATIONS,
                UTDCallRequirement.FULL_SCREEN_INTENT,
                UTDCallRequirement.RECORD_AUDIO,
                UTDCallRequirement.MANAGE_OWN_CALLS,
                UTDCallRequirement.BLUETOOTH_CONNECT,
            ),
            shown.missing,
        )
        val settings = assertNotNull(calls.requirements.settingsIntent(UTDCallRequirement.POST_NOTIFICATIONS))
        assertEquals(Settings.ACTION_APP_NOTIFICATION_SETTINGS, settings.action)
        assertEquals(
            listOf(android.Manifest.permission.RECORD_AUDIO, android.Manifest.permission.POST_NOTIFICATIONS, android.Manifest.permission.BLUETOOTH_CONNECT),
            calls.requirements.runtimePermissions(),
        )
    }
}
