// How a call's end reason reads to Telecom: the DisconnectCause a
// self-managed Connection is disconnected with decides what the OS logs and
// shows (missed, rejected, answered elsewhere, ...).
package com.utdstream.sdk.android

import android.os.Build
import android.telecom.DisconnectCause
import com.utdstream.sdk.UTDCallEndReason

/** What this device's user did to a call, when it was them who ended it. */
internal enum class LocalAction { NONE, ANSWERED, DECLINED, HUNG_UP }

/** The wire name of [reason] (what DisconnectCause.reason carries, for logs and the host). */
internal fun wireName(reason: UTDCallEndReason): String = when (reason) {
    is UTDCallEndReason.HangupCaller -> "hangup_caller"
    is UTDCallEndReason.HangupCallee -> "hangup_callee"
    is UTDCallEndReason.Rejected -> "rejected"
    is UTDCallEndReason.Busy -> "busy"
    is UTDCallEndReason.Cancelled -> "cancelled"
    is UTDCallEndReason.RingTimeout -> "ring_timeout"
    is UTDCallEndReason.RoomClosed -> "room_closed"
    is UTDCallEndReason.AnsweredElsewhere -> "answered_elsewhere"
    is UTDCallEndReason.DeclinedElsewhere -> "declined_elsewhere"
    is UTDCallEndReason.NotActivated -> "not_activated"
    is UTDCallEndReason.Failed -> "failed"
    is UTDCallEndReason.Other -> reason.reason
}

/**
 * The Telecom code for a call that ended with [reason] after [local] on this
 * device. A caller who gave up before the answer is a missed call here; an
 * answer on another device is ANSWERED_ELSEWHERE (API 29+; REMOTE before).
 */
internal fun disconnectCode(reason: UTDCallEndReason, local: LocalAction): Int = when {
    local == LocalAction.DECLINED -> DisconnectCause.REJECTED
    local == LocalAction.HUNG_UP -> DisconnectCause.LOCAL
    else -> when (reason) {
        is UTDCallEndReason.HangupCaller, is UTDCallEndReason.HangupCallee, is UTDCallEndReason.RoomClosed -> DisconnectCause.REMOTE
        is UTDCallEndReason.Rejected, is UTDCallEndReason.DeclinedElsewhere -> DisconnectCause.REJECTED
        is UTDCallEndReason.Busy -> DisconnectCause.BUSY
        is UTDCallEndReason.Cancelled, is UTDCallEndReason.RingTimeout -> DisconnectCause.MISSED
        is UTDCallEndReason.AnsweredElsewhere ->
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) DisconnectCause.ANSWERED_ELSEWHERE else DisconnectCause.REMOTE
        is UTDCallEndReason.NotActivated, is UTDCallEndReason.Failed -> DisconnectCause.ERROR
        is UTDCallEndReason.Other -> DisconnectCause.OTHER
    }
}

/** The DisconnectCause a Connection is disconnected with; its `reason` is the wire name. */
internal fun disconnectCause(reason: UTDCallEndReason, local: LocalAction): DisconnectCause =
    DisconnectCause(disconnectCode(reason, local), null, null, wireName(reason))
