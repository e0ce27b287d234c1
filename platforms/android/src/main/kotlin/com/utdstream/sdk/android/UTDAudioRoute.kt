// The audio route of a call, as the host app shows and switches it: a small
// view of Telecom's CallAudioState, which a self-managed ConnectionService
// receives from the OS and changes through Connection.setAudioRoute.
package com.utdstream.sdk.android

import android.telecom.CallAudioState

/** Where a call's audio plays. */
enum class UTDAudioRoute(internal val telecomRoute: Int) {
    /** The phone's earpiece. */
    EARPIECE(CallAudioState.ROUTE_EARPIECE),

    /** The loudspeaker. */
    SPEAKER(CallAudioState.ROUTE_SPEAKER),

    /** A Bluetooth headset or car kit. */
    BLUETOOTH(CallAudioState.ROUTE_BLUETOOTH),

    /** A wired headset. */
    WIRED_HEADSET(CallAudioState.ROUTE_WIRED_HEADSET),
    ;

    internal companion object {
        fun fromTelecom(route: Int): UTDAudioRoute? = entries.firstOrNull { it.telecomRoute == route }

        /** The routes set in Telecom's supported-route mask, in enum order. */
        fun fromMask(mask: Int): Set<UTDAudioRoute> = entries.filterTo(linkedSetOf()) { mask and it.telecomRoute != 0 }
    }
}

/**
 * A call's audio as the OS reports it: the [route] in use, the [available]
 * ones (what a route picker offers) and whether the OS muted the microphone.
 */
data class UTDCallAudioState(
    /** The route in use; null when the OS reports one this API does not name. */
    val route: UTDAudioRoute?,
    /** The routes the OS can switch to now. */
    val available: Set<UTDAudioRoute>,
    /** The OS-level microphone mute. */
    val muted: Boolean,
) {
    internal companion object {
        fun from(state: CallAudioState) = UTDCallAudioState(
            route = UTDAudioRoute.fromTelecom(state.route),
            available = UTDAudioRoute.fromMask(state.supportedRouteMask),
            muted = state.isMuted,
        )
    }
}
