// Pushes that are not calls, and call pushes that cannot be used: nothing
// rings, a typed error is logged and reported, nothing crashes.
package com.utdstream.robolectric

import com.utdstream.sdk.UTDErrorCode
import com.utdstream.sdk.android.UTDAndroidCallEvent
import com.utdstream.sdk.android.UTDAndroidCalls
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config
import org.robolectric.shadows.ShadowLog

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], manifest = Config.NONE)
class PushParsingTests {
    @Test
    fun malformedCallPushShowsNothingAndLogsATypedError() = withWorld("malformed") {
        install("alice", "alice-pixel", emptyList())
        ShadowLog.clear()
        deliverFcm(mapOf("type" to "call", "call_id" to "not a call id", "caller_identity" to "bob"))
        awaitMain("the rejection is reported") { seen<UTDAndroidCallEvent.PushRejected>().isNotEmpty() }

        val rejected = seen<UTDAndroidCallEvent.PushRejected>().single()
        assertEquals(UTDErrorCode.INVALID_ARGUMENT, rejected.error.code(), "$rejected")
        assertEquals(0, notifications.size(), "no notification for a malformed push")
        assertTrue(telecom.allIncomingCalls.isEmpty(), "Telecom was not asked to ring")
        assertTrue(seen<UTDAndroidCallEvent.IncomingCallShown>().isEmpty())
        val logged = ShadowLog.getLogsForTag(UTDAndroidCalls.TAG)
        assertTrue(
            logged.any { it.type == android.util.Log.WARN && it.msg.contains("INVALID_ARGUMENT") && it.msg.contains("call push rejected") },
            "a warning naming the error code: ${logged.map { it.msg }}",
        )
    }

    @Test
    fun messagesThatAreNotCallsAreLeftToTheHost() = withWorld("not-ours") {
        install("alice", "alice-pixel", emptyList())
        assertFalse(UTDAndroidCalls.onMessageReceived(mapOf("type" to "promo", "title" to "50% off")), "a host message is not ours")
        assertFalse(UTDAndroidCalls.onMessageReceived(emptyMap()), "a message without a type is not ours")
        assertTrue(UTDAndroidCalls.onMessageReceived(mapOf("type" to "call_ended")), "a call message without a call id is ours, and rejected")
        awaitMain("the call_ended without an id is rejected") { seen<UTDAndroidCallEvent.PushRejected>().size == 1 }
        assertEquals(0, notifications.size())
        assertTrue(telecom.allIncomingCalls.isEmpty())
    }
}
