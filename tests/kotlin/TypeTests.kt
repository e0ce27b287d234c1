// Wire values and helpers of the exported enums, as Kotlin apps see them.
package com.utdstream.tests

import com.utdstream.sdk.UTDCallStatus
import com.utdstream.sdk.UTDErrorCode
import com.utdstream.sdk.UTDStreamException
import com.utdstream.sdk.UTDStreamType
import com.utdstream.sdk.callStatusFromWireValue
import com.utdstream.sdk.streamTypeFromWireValue
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

fun registerTypeTests(suite: TestSuite) {
    suite.test("stream types: wire value, isCall and hasVideo of every type") {
        // (wire value, isCall, hasVideo), from utd_stream_sdk.txt.
        val expected = mapOf(
            UTDStreamType.AUDIO_CALL to Triple("audio_call", true, false),
            UTDStreamType.VIDEO_CALL to Triple("video_call", true, true),
            UTDStreamType.LIVE_STREAM to Triple("live_stream", false, true),
            UTDStreamType.AUDIO_ROOM to Triple("audio_room", false, false),
        )
        assertEquals(expected.keys, UTDStreamType.values().toSet(), "every type is covered")
        for ((type, facts) in expected) {
            assertEquals(facts.first, type.wireValue(), "wire value of $type")
            assertEquals(facts.second, type.isCall(), "isCall of $type")
            assertEquals(facts.third, type.hasVideo(), "hasVideo of $type")
            assertEquals(type, streamTypeFromWireValue(facts.first), "round trip of ${facts.first}")
        }
    }

    suite.test("stream types: an unknown wire value throws INVALID_ARGUMENT") {
        val error = assertFailsWith<UTDStreamException> { streamTypeFromWireValue("nope") }
        assertEquals(UTDErrorCode.INVALID_ARGUMENT, error.code())
        check(error.message().contains("nope")) { "message names the bad value: ${error.message()}" }
        // Wire values are exact: no case folding.
        assertFailsWith<UTDStreamException> { streamTypeFromWireValue("AUDIO_CALL") }
    }

    suite.test("call status: wire value and isTerminal of every state") {
        val expected = mapOf(
            UTDCallStatus.INITIATING to ("initiating" to false),
            UTDCallStatus.RINGING to ("ringing" to false),
            UTDCallStatus.ACTIVE to ("active" to false),
            UTDCallStatus.ENDED to ("ended" to true),
            UTDCallStatus.REJECTED to ("rejected" to true),
            UTDCallStatus.BUSY to ("busy" to true),
            UTDCallStatus.MISSED to ("missed" to true),
            UTDCallStatus.CANCELLED to ("cancelled" to true),
            UTDCallStatus.ANSWERED_ELSEWHERE to ("answered_elsewhere" to true),
            UTDCallStatus.DECLINED_ELSEWHERE to ("declined_elsewhere" to true),
        )
        assertEquals(expected.keys, UTDCallStatus.values().toSet(), "every state is covered")
        for ((status, facts) in expected) {
            assertEquals(facts.first, status.wireValue(), "wire value of $status")
            assertEquals(facts.second, status.isTerminal(), "isTerminal of $status")
            assertEquals(status, callStatusFromWireValue(facts.first), "round trip of ${facts.first}")
        }
    }

    suite.test("call status: an unknown wire value from the engine is a PROTOCOL error") {
        // Call states only come from the engine, so an unknown one is the
        // engine speaking outside its contract, not an app mistake.
        val error = assertFailsWith<UTDStreamException> { callStatusFromWireValue("on_hold") }
        assertEquals(UTDErrorCode.PROTOCOL, error.code())
    }
}
