// Our FirebaseMessagingService, for a host that has none of its own: declare
// it in the app manifest (MESSAGING_EVENT intent filter). A host with its own
// service calls UTDAndroidCalls.onMessageReceived / onNewToken from it instead.
package com.utdstream.sdk.android

import com.google.firebase.messaging.FirebaseMessagingService
import com.google.firebase.messaging.RemoteMessage

/** Hands FCM data messages and token refreshes to [UTDAndroidCalls]. */
open class UTDFirebaseMessagingService : FirebaseMessagingService() {
    override fun onMessageReceived(message: RemoteMessage) {
        UTDAndroidCalls.onMessageReceived(message)
    }

    // Deprecated in Firebase's Java sources but still how a refreshed token arrives.
    @Suppress("OVERRIDE_DEPRECATION")
    override fun onNewToken(token: String) {
        UTDAndroidCalls.onNewToken(token)
    }
}
