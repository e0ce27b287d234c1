// Firebase rotates the app's token: the new one is registered with the
// engine for this device and replaces the old one, so calls ring only there.
package com.utdstream.robolectric

import com.utdstream.sdk.UTDStreamType
import com.utdstream.sdk.android.UTDAndroidCallEvent
import kotlin.test.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], manifest = Config.NONE)
class PushTokenTests {
    @Before
    fun permissions() = grantCallPermissions()

    @Test
    fun refreshedTokenReplacesTheOldOneAtTheEngine() = withWorld("token") {
        val old = fcmToken()
        val new = fcmToken()
        registeredThenKilled("alice", "alice-pixel", old)
        val calls = install("alice", "alice-pixel", listOf(old))
        // Firebase may hand the new token over before the app has signed in:
        // it is kept, and registered once the calls layer starts.
        refreshFcmToken(new.token)
        awaitMain("nothing is registered before start") { true }
        assertTrue(seen<UTDAndroidCallEvent.PushTokenRegistered>().isEmpty())
        block { calls.start() }
        awaitMain("the new token is registered") { seen<UTDAndroidCallEvent.PushTokenRegistered>().isNotEmpty() }
        assertTrue(seen<UTDAndroidCallEvent.PushTokenFailed>().isEmpty(), "${seen<UTDAndroidCallEvent.PushTokenFailed>()}")

        val bob = ready("bob", "bob-phone")
        val callId = block { bob.startCall("alice", null, UTDStreamType.AUDIO_CALL) }.callId()!!
        fcmMessage(new, "the call rings on the new token") { it.data["call_id"] == callId }
        // One outbox row per token of the callee is written with the call, so
        // a push to the old token would have gone out with the new one.
        Thread.sleep(500)
        val toOld = stack.fcmMessages().filter { it.deviceToken == old.token && it.data["call_id"] == callId }
        assertTrue(toOld.isEmpty(), "nothing goes to the replaced token: $toOld")
    }
}
