// An answered call's audio route and hold, as the OS and the host drive them.
package com.utdstream.robolectric

import android.telecom.CallAudioState
import android.telecom.Connection
import android.telecom.RecordingConnectionListener
import com.utdstream.sdk.android.UTDAndroidCallEvent
import com.utdstream.sdk.android.UTDAudioRoute
import com.utdstream.sdk.android.UTDCallAudioState
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], manifest = Config.NONE)
class AudioRouteTests {
    @Before
    fun permissions() = grantCallPermissions()

    @Test
    fun audioRoutesAndHoldOfAnAnsweredCall() = withWorld("route") {
        val phone = ringKilledPhone()
        val calls = phone.calls
        val callId = phone.callId
        val connection = calls.connection(callId)!!
        val telecomSide = RecordingConnectionListener().also { it.attach(connection) }
        assertNull(calls.audioState(callId).value, "nothing known before the OS reports")

        connection.onAnswer()
        awaitMain("the Connection is active") { connection.state == Connection.STATE_ACTIVE }

        // The OS reports the earpiece in use, with the speaker and a Bluetooth headset on offer.
        val mask = CallAudioState.ROUTE_EARPIECE or CallAudioState.ROUTE_SPEAKER or CallAudioState.ROUTE_BLUETOOTH
        @Suppress("DEPRECATION")
        connection.onCallAudioStateChanged(CallAudioState(false, CallAudioState.ROUTE_EARPIECE, mask))
        val expected = UTDCallAudioState(UTDAudioRoute.EARPIECE, setOf(UTDAudioRoute.EARPIECE, UTDAudioRoute.SPEAKER, UTDAudioRoute.BLUETOOTH), false)
        assertEquals(expected, calls.audioState(callId).value)
        assertEquals(expected, seen<UTDAndroidCallEvent.AudioStateChanged>().last().state)

        assertTrue(calls.setAudioRoute(callId, UTDAudioRoute.SPEAKER), "the speaker is on offer")
        awaitMain("Telecom is asked for the speaker") { telecomSide.requestedRoutes == listOf(CallAudioState.ROUTE_SPEAKER) }
        assertFalse(calls.setAudioRoute(callId, UTDAudioRoute.WIRED_HEADSET), "no wired headset is plugged in")
        assertEquals(listOf(CallAudioState.ROUTE_SPEAKER), telecomSide.requestedRoutes.toList())
        assertFalse(calls.setAudioRoute("call_unknownAAAAAAAAAAAAAA", UTDAudioRoute.SPEAKER), "no such call")

        // Another call takes the line: the OS holds ours, then gives it back.
        connection.onHold()
        awaitMain("the Connection is held") { connection.state == Connection.STATE_HOLDING }
        connection.onUnhold()
        awaitMain("the Connection is active again") { connection.state == Connection.STATE_ACTIVE }
    }
}
