// The answer / decline buttons of the incoming-call notification.
package com.utdstream.sdk.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.util.Log

/** Carries a notification button tap to [UTDAndroidCalls] (declared in the library manifest). */
class UTDCallActionReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val callId = intent.getStringExtra(UTDAndroidCalls.EXTRA_CALL_ID) ?: return
        val calls = UTDAndroidCalls.current
        if (calls == null) {
            Log.w(UTDAndroidCalls.TAG, "notification action ${intent.action} for $callId before UTDAndroidCalls.install")
            return
        }
        when (intent.action) {
            ACTION_ANSWER -> calls.answer(callId)
            ACTION_DECLINE -> calls.decline(callId)
        }
    }

    companion object {
        /** Answers the call named by [UTDAndroidCalls.EXTRA_CALL_ID]. */
        const val ACTION_ANSWER = "com.utdstream.sdk.android.ANSWER"

        /** Declines the call named by [UTDAndroidCalls.EXTRA_CALL_ID]. */
        const val ACTION_DECLINE = "com.utdstream.sdk.android.DECLINE"
    }
}
