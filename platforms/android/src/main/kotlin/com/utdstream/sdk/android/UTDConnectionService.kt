// The self-managed ConnectionService Telecom binds for the app's calls
// (declared in the library manifest). It only creates Connections: what a
// call does is decided by UTDAndroidCalls and the core's call controller.
package com.utdstream.sdk.android

import android.telecom.Connection
import android.telecom.ConnectionRequest
import android.telecom.ConnectionService
import android.telecom.DisconnectCause
import android.telecom.PhoneAccountHandle
import android.util.Log

/** Telecom's entry into the calls layer. */
class UTDConnectionService : ConnectionService() {
    override fun onCreateIncomingConnection(account: PhoneAccountHandle?, request: ConnectionRequest): Connection {
        val callId = request.extras?.getString(UTDAndroidCalls.EXTRA_CALL_ID)
        val calls = UTDAndroidCalls.current
        if (callId == null || calls == null) {
            Log.w(UTDAndroidCalls.TAG, "incoming connection without ${if (callId == null) "a call id" else "UTDAndroidCalls.install"}")
            return Connection.createFailedConnection(DisconnectCause(DisconnectCause.ERROR, null, null, "not_installed"))
        }
        return calls.createIncomingConnection(callId, request)
    }

    override fun onCreateIncomingConnectionFailed(account: PhoneAccountHandle?, request: ConnectionRequest) {
        // Telecom refused the call (e.g. an emergency call is in progress): the
        // notification stays, so the user can still answer or decline there.
        val callId = request.extras?.getString(UTDAndroidCalls.EXTRA_CALL_ID) ?: return
        UTDAndroidCalls.current?.incomingConnectionRefused(callId)
    }
}
