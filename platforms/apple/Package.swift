// swift-tools-version:6.0
// The UTD Stream Swift package: the UniFFI-generated Swift API over the Rust
// core. scripts/bindings.sh fills Sources/ (the generated files are not
// committed).
//
// Two ways to get the native core:
// - Apple platforms: a prebuilt UTDStreamFFI.xcframework (static library +
//   header + module map per platform slice), built by the release packaging.
// - Linux (CI and the Swift tests here): the host build of libutd_stream.so
//   from the repo's target dir, reached through a system-library module.
import Foundation
import PackageDescription

#if os(macOS) || os(iOS)
// scripts/package-ios.sh writes the release manifest from this file: it
// replaces the binaryTarget line with the url + checksum of the zipped
// xcframework, and checks that the frameworks below are every one the
// static library needs (rustc's native-static-libs).
let ffiTarget: Target = .binaryTarget(name: "UTDStreamFFI", path: "UTDStreamFFI.xcframework")
let coreLinkerSettings: [LinkerSetting] = [
    // The phone build (feature `livekit`): webrtc-sys links these for iOS
    // (libwebrtc), the objc2 crates under it the rest; Rust's std asks for iconv.
    .linkedFramework("AVFoundation"),
    .linkedFramework("AudioToolbox"),
    .linkedFramework("CloudKit"),
    .linkedFramework("CoreAudio"),
    .linkedFramework("CoreData"),
    .linkedFramework("CoreFoundation"),
    .linkedFramework("CoreGraphics"),
    .linkedFramework("CoreImage"),
    .linkedFramework("CoreLocation"),
    .linkedFramework("CoreMedia"),
    .linkedFramework("CoreText"),
    .linkedFramework("CoreVideo"),
    .linkedFramework("Foundation"),
    .linkedFramework("GLKit"),
    .linkedFramework("Metal"),
    .linkedFramework("MetalKit"),
    .linkedFramework("Network"),
    .linkedFramework("OpenGLES"),
    .linkedFramework("QuartzCore"),
    .linkedFramework("Security"),
    .linkedFramework("UIKit"),
    .linkedFramework("UserNotifications"),
    .linkedFramework("VideoToolbox"),
    .linkedLibrary("c++"),
    .linkedLibrary("iconv"),
    .linkedLibrary("objc"),
]
#else
// Where libutd_stream.so is: $UTD_STREAM_LIB_DIR (absolute; scripts/test-swift.sh
// sets it), else the repo's target/debug next to this package. The rpath lets
// the test binary find the library without LD_LIBRARY_PATH.
let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let libDir = ProcessInfo.processInfo.environment["UTD_STREAM_LIB_DIR"]
    ?? packageDir.appendingPathComponent("../../target/debug").standardizedFileURL.path
let ffiTarget: Target = .systemLibrary(name: "UTDStreamFFI", path: "Sources/UTDStreamFFI")
let coreLinkerSettings: [LinkerSetting] = [
    .linkedLibrary("utd_stream"),
    .unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir]),
]
#endif

let package = Package(
    name: "UTDStream",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "UTDStream", targets: ["UTDStream"]),
        // The CallKit / PushKit bridge over the calls kit (Sources/UTDStreamCallKit).
        .library(name: "UTDStreamCallKit", targets: ["UTDStreamCallKit"]),
    ],
    targets: [
        ffiTarget,
        .target(
            name: "UTDStream",
            dependencies: ["UTDStreamFFI"],
            path: "Sources/UTDStream",
            linkerSettings: coreLinkerSettings
        ),
        // Foundation-only decisions, tested on Linux; the CallKit and PushKit
        // adapters beside them compile only where those frameworks exist.
        .target(
            name: "UTDStreamCallKit",
            dependencies: ["UTDStream"],
            path: "Sources/UTDStreamCallKit"
        ),
        .testTarget(
            name: "UTDStreamTests",
            dependencies: ["UTDStream", "UTDStreamCallKit"],
            path: "Tests/UTDStreamTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
