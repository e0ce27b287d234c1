// Wire values and helpers of the exported enums, as Swift apps see them.
import UTDStream
import XCTest

final class TypeTests: XCTestCase {
    func testEveryStreamTypeHasItsWireValueAndHelpers() throws {
        // (type, wire value, isCall, hasVideo), from utd_stream_sdk.txt.
        let expected: [(UTDStreamType, String, Bool, Bool)] = [
            (.audioCall, "audio_call", true, false),
            (.videoCall, "video_call", true, true),
            (.liveStream, "live_stream", false, true),
            (.audioRoom, "audio_room", false, false),
        ]
        for (type, wire, isCall, hasVideo) in expected {
            XCTAssertEqual(type.wireValue(), wire)
            XCTAssertEqual(type.isCall(), isCall, "isCall of \(type)")
            XCTAssertEqual(type.hasVideo(), hasVideo, "hasVideo of \(type)")
            XCTAssertEqual(try streamTypeFromWireValue(value: wire), type)
        }
    }

    func testUnknownStreamTypeIsInvalidArgument() {
        let error = assertThrowsUTDSync { try streamTypeFromWireValue(value: "nope") }
        XCTAssertEqual(error?.code(), .invalidArgument)
        XCTAssertTrue(error?.message().contains("nope") ?? false)
        // Wire values are exact: no case folding.
        XCTAssertNotNil(assertThrowsUTDSync { try streamTypeFromWireValue(value: "AUDIO_CALL") })
    }

    func testEveryCallStatusHasItsWireValueAndTerminality() throws {
        let expected: [(UTDCallStatus, String, Bool)] = [
            (.initiating, "initiating", false),
            (.ringing, "ringing", false),
            (.active, "active", false),
            (.ended, "ended", true),
            (.rejected, "rejected", true),
            (.busy, "busy", true),
            (.missed, "missed", true),
            (.cancelled, "cancelled", true),
            (.answeredElsewhere, "answered_elsewhere", true),
            (.declinedElsewhere, "declined_elsewhere", true),
        ]
        for (status, wire, terminal) in expected {
            XCTAssertEqual(status.wireValue(), wire)
            XCTAssertEqual(status.isTerminal(), terminal, "isTerminal of \(status)")
            XCTAssertEqual(try callStatusFromWireValue(value: wire), status)
        }
        // The generated enum is not CaseIterable; an exhaustive switch makes a
        // new state a compile error here until the table above covers it.
        for (status, _, _) in expected {
            switch status {
            case .initiating, .ringing, .active, .ended, .rejected, .busy, .missed,
                .cancelled, .answeredElsewhere, .declinedElsewhere:
                break
            }
        }
    }

    func testUnknownCallStatusFromTheEngineIsAProtocolError() {
        // Call states only come from the engine: an unknown one is the engine
        // speaking outside its contract, not an app mistake.
        let error = assertThrowsUTDSync { try callStatusFromWireValue(value: "on_hold") }
        XCTAssertEqual(error?.code(), .protocol)
    }
}
