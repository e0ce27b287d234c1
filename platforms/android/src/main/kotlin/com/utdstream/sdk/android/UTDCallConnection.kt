// One call as Telecom sees it. What the OS UI does to it (answer, reject,
// disconnect, hold, a new audio route) goes to UTDAndroidCalls; what the
// core decides (active, ended with a reason) comes back through it.
package com.utdstream.sdk.android

import android.telecom.CallAudioState
import android.telecom.Connection

/** A self-managed Connection for the call [callId]. */
class UTDCallConnection internal constructor(
    /** The engine's call id. */
    val callId: String,
    private val calls: UTDAndroidCalls,
) : Connection() {
    init {
        connectionProperties = PROPERTY_SELF_MANAGED
        connectionCapabilities = CAPABILITY_HOLD or CAPABILITY_SUPPORT_HOLD or CAPABILITY_MUTE
        audioModeIsVoip = true
    }

    override fun onAnswer() = calls.answer(callId)

    override fun onAnswer(videoState: Int) = calls.answer(callId)

    override fun onReject() = calls.decline(callId)

    override fun onDisconnect() = calls.hangUp(callId)

    override fun onAbort() = calls.hangUp(callId)

    override fun onHold() = calls.hold(callId)

    override fun onUnhold() = calls.unhold(callId)

    override fun onShowIncomingCallUi() = calls.showIncomingUi(callId)

    @Deprecated("Telecom still calls it on every API level this library supports")
    override fun onCallAudioStateChanged(state: CallAudioState) = calls.audioStateChanged(callId, UTDCallAudioState.from(state))
}
