// The README's Android set-up, compiled and run: the lines between the
// snippet markers are copied into README.md verbatim (a test checks it).
package com.utdstream.robolectric

import android.app.Activity
import android.app.Application
import com.google.firebase.messaging.FirebaseMessagingService
import com.google.firebase.messaging.RemoteMessage
import com.utdstream.sdk.UTDCallsConfig
import com.utdstream.sdk.android.UTDAndroidCalls
import com.utdstream.sdk.android.UTDAndroidCallsOptions
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

/** The host's own handling of its own messages (the snippet's comment line). */
object HostMessages {
    val received = java.util.concurrent.CopyOnWriteArrayList<Map<String, String>>()
}

class IncomingCallActivity : Activity()

// README-SNIPPET-BEGIN
class MyApplication : Application() {
    override fun onCreate() {
        super.onCreate()
        // Here, not in an activity: an FCM call message may start the process.
        UTDAndroidCalls.install(
            this,
            UTDCallsConfig(
                appId = "app_123",
                appKey = "pk_live_123", // publishable; no server secret in the app
                baseUrl = "https://engine.example.com",
                userId = "alice",
                deviceId = "an-install-id",
                stateDirectory = filesDir.absolutePath,
            ),
            UTDAndroidCallsOptions(callActivity = IncomingCallActivity::class.java),
        )
    }
}

class MyMessagingService : FirebaseMessagingService() {
    override fun onMessageReceived(message: RemoteMessage) {
        if (UTDAndroidCalls.onMessageReceived(message)) return
        HostMessages.received += message.data // the app's own messages
    }

    override fun onNewToken(token: String) = UTDAndroidCalls.onNewToken(token)
}
// README-SNIPPET-END

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], manifest = Config.NONE, application = MyApplication::class)
class HostSnippetTests {
    @Test
    fun theReadmeSetUpInstallsTheCallsLayerAndLeavesTheHostItsMessages() {
        val calls = assertNotNull(UTDAndroidCalls.current, "Application.onCreate installed the calls layer")
        try {
            assertTrue(calls.phoneAccountRegistered, "the self-managed phone account is registered")
            val service = Robolectric.buildService(MyMessagingService::class.java).create().get()
            service.onMessageReceived(RemoteMessage.Builder("utd@fcm.googleapis.com").addData("type", "promo").build())
            assertEquals(listOf(mapOf("type" to "promo")), HostMessages.received.toList())
        } finally {
            calls.close()
        }
    }

    @Test
    fun theReadmeCarriesTheSnippetVerbatim() {
        val source = File("tests/robolectric/HostSnippetTests.kt").readLines()
        val snippet = source.subList(source.indexOf("// README-SNIPPET-BEGIN") + 1, source.indexOf("// README-SNIPPET-END"))
        val readme = File("README.md").readText()
        assertTrue(readme.contains(snippet.joinToString("\n")), "README.md's Android section differs from the compiled snippet")
    }
}
