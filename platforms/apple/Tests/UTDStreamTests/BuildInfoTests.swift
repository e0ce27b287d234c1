// SDK version and build facts, checked against what the build script knows.
import Foundation
import UTDStream
import XCTest

final class BuildInfoTests: XCTestCase {
    func testVersionAndTargetAreThoseOfTheLibraryUnderTest() throws {
        let env = ProcessInfo.processInfo.environment
        // Read independently from Cargo.toml and rustc by scripts/test-swift.sh.
        let version = try XCTUnwrap(env["UTD_EXPECTED_VERSION"], "run through scripts/test-swift.sh")
        let target = try XCTUnwrap(env["UTD_EXPECTED_TARGET"], "run through scripts/test-swift.sh")
        let info = buildInfo()
        XCTAssertEqual(info.version, version)
        XCTAssertEqual(sdkVersion(), info.version)
        XCTAssertEqual(info.target, target)
        XCTAssertEqual(info.profile, env["UTD_EXPECTED_PROFILE"] ?? "debug")
    }
}
