// A ringing call that ends without this phone: the caller cancels (the
// engine's call_ended FCM message) or another of the user's devices answers
// (the signalling WebSocket): the notification goes, the Connection is
// disconnected with the matching DisconnectCause.
package com.utdstream.robolectric

import android.telecom.Connection
import android.telecom.DisconnectCause
import com.utdstream.sdk.UTDAcceptOutcome
import com.utdstream.sdk.UTDCallEndReason
import com.utdstream.sdk.android.UTDAndroidCallEvent
import com.utdstream.sdk.android.UTD_INCOMING_CALL_NOTIFICATION_ID
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], manifest = Config.NONE)
class CallEndTests {
    @Before
    fun permissions() = grantCallPermissions()

    @Test
    fun callerCancellingDismissesTheRingingPhoneAsMissed() = withWorld("cancel") {
        val phone = ringKilledPhone()
        val calls = phone.calls
        val callId = phone.callId
        val connection = assertNotNull(calls.connection(callId))
        assertNotNull(notifications.getNotification(callId, UTD_INCOMING_CALL_NOTIFICATION_ID))

        block { phone.bob.end() }
        val ended = fcmMessage(phone.token, "the call_ended message of $callId") { it.data["type"] == "call_ended" && it.data["call_id"] == callId }
        assertEquals("cancelled", ended.data["reason"], "$ended")
        deliverFcm(ended.data)

        awaitMain("the Connection is disconnected") { connection.state == Connection.STATE_DISCONNECTED }
        assertEquals(DisconnectCause.MISSED, connection.disconnectCause.code, "a call the caller gave up on is a missed call here")
        assertEquals("cancelled", connection.disconnectCause.reason)
        assertNull(notifications.getNotification(callId, UTD_INCOMING_CALL_NOTIFICATION_ID), "the notification is gone")
        val end = seen<UTDAndroidCallEvent.CallEnded>().single()
        assertEquals(UTDCallEndReason.Cancelled, end.reason)
        // The same message again (FCM may deliver twice) changes nothing.
        deliverFcm(ended.data)
        awaitMain("the repeat is handled") { true }
        assertEquals(1, seen<UTDAndroidCallEvent.CallEnded>().size, "ended once: ${seen<UTDAndroidCallEvent.CallEnded>()}")
    }

    @Test
    fun anotherDeviceAnsweringDisconnectsThePhoneAsAnsweredElsewhere() = withWorld("elsewhere") {
        val phone = ringKilledPhone(withTablet = true)
        val calls = phone.calls
        val callId = phone.callId
        val connection = assertNotNull(calls.connection(callId))
        // The woken app finishes starting: it connects and follows the call live.
        block { calls.start() }

        awaitMain("the tablet rings too") { phone.tablet!!.incomingCalls().any { it.callId == callId } }
        val outcome = block { phone.tablet!!.acceptIncoming(callId) }
        assertTrue(outcome is UTDAcceptOutcome.Joined, "the tablet joins: $outcome")

        awaitMain("the phone's Connection is disconnected") { connection.state == Connection.STATE_DISCONNECTED }
        assertEquals(DisconnectCause.ANSWERED_ELSEWHERE, connection.disconnectCause.code)
        assertEquals("answered_elsewhere", connection.disconnectCause.reason)
        assertNull(notifications.getNotification(callId, UTD_INCOMING_CALL_NOTIFICATION_ID), "the notification is gone")
        assertEquals(UTDCallEndReason.AnsweredElsewhere, seen<UTDAndroidCallEvent.CallEnded>().single().reason)
    }

    @Test
    fun anotherDeviceDecliningDisconnectsThePhoneAsRejected() = withWorld("declined") {
        val phone = ringKilledPhone(withTablet = true)
        val calls = phone.calls
        val callId = phone.callId
        val connection = assertNotNull(calls.connection(callId))

        awaitMain("the tablet rings too") { phone.tablet!!.incomingCalls().any { it.callId == callId } }
        block { phone.tablet!!.reject(callId) }
        // The phone never started: the engine's call_ended message tells it.
        val ended = fcmMessage(phone.token, "the call_ended message of $callId") { it.data["type"] == "call_ended" && it.data["call_id"] == callId }
        deliverFcm(ended.data)

        awaitMain("the phone's Connection is disconnected") { connection.state == Connection.STATE_DISCONNECTED }
        assertEquals(DisconnectCause.REJECTED, connection.disconnectCause.code)
        assertEquals("declined_elsewhere", connection.disconnectCause.reason)
        assertNull(notifications.getNotification(callId, UTD_INCOMING_CALL_NOTIFICATION_ID), "the notification is gone")
    }
}
