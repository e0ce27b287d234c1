"""Names the iOS packaging writers and the validator must agree on.

Kept in one place so a rename in the packaging cannot silently stop being
checked: the validator reads the same constants the writers use.
"""

# The C module the generated Swift imports (uniffi.toml [bindings.swift]
# ffi_module_name) and the binary target that provides it (Package.swift).
FFI_MODULE = "UTDStreamFFI"
XCFRAMEWORK = f"{FFI_MODULE}.xcframework"
HEADER = f"{FFI_MODULE}.h"
MODULEMAP = "module.modulemap"
LIBRARY = "libutd_stream.a"
# UniFFI names every C symbol of the crate ffi_<namespace>_… or uniffi_<namespace>_….
FFI_NAMESPACE = "utd_stream"

# The Swift package: its products and the hand-written sources beside the
# generated UTDStream.swift.
PACKAGE_NAME = "UTDStream"
PRODUCTS = ("UTDStream", "UTDStreamCallKit")
GENERATED_SWIFT = "UTDStream.swift"

# The exact line of platforms/apple/Package.swift the release manifest
# replaces, and the condition of the Apple branch it lives in.
LOCAL_BINARY_TARGET_LINE = (
    'let ffiTarget: Target = .binaryTarget(name: "UTDStreamFFI", path: "UTDStreamFFI.xcframework")')
APPLE_CONDITION_LINE = "#if os(macOS) || os(iOS)"

# Mach-O CPU types (mach/machine.h) and the xcframework architecture names.
CPU_TYPE_ARM64 = 0x0100000C
CPU_TYPE_X86_64 = 0x01000007
ARCH_CPU = {"arm64": CPU_TYPE_ARM64, "x86_64": CPU_TYPE_X86_64}

# LC_BUILD_VERSION platforms (mach-o/loader.h).
PLATFORM_MACOS = 1
PLATFORM_IOS = 2
PLATFORM_IOSSIMULATOR = 7
PLATFORM_NAMES = {1: "macOS", 2: "iOS", 3: "tvOS", 4: "watchOS", 5: "bridgeOS", 6: "Mac Catalyst",
                  7: "iOS simulator", 8: "tvOS simulator", 9: "watchOS simulator", 10: "DriverKit",
                  11: "visionOS", 12: "visionOS simulator"}

# The slices of the xcframework, named as `xcodebuild -create-xcframework`
# names them: identifier -> what the slice holds.
SLICES = {
    "ios-arm64": {
        "platform": "ios",
        "variant": None,
        "archs": ("arm64",),
        "macho_platform": PLATFORM_IOS,
        "rust_targets": ("aarch64-apple-ios",),
    },
    "ios-arm64_x86_64-simulator": {
        "platform": "ios",
        "variant": "simulator",
        "archs": ("arm64", "x86_64"),
        "macho_platform": PLATFORM_IOSSIMULATOR,
        "rust_targets": ("aarch64-apple-ios-sim", "x86_64-apple-ios"),
    },
}
RELEASE_SLICES = ("ios-arm64", "ios-arm64_x86_64-simulator")
# Only the device slice can be built without Xcode at a cost CI can carry
# (scripts/package-ios.sh says why).
CHECK_SLICES = ("ios-arm64",)

# A --check build (no Xcode, no Apple SDK) carries this file at the root of
# the xcframework and this suffix on its version, so it can never be
# mistaken for (or published as) the real package.
CHECK_MARKER = "NOT-FOR-SHIPPING.txt"
CHECK_VERSION_SUFFIX = "-check"

# Libraries every Apple link gets without being asked: libSystem (which
# also answers -lc, -lm, -lpthread, -ldl) and clang's compiler runtime
# (libclang_rt.<os>.a, which the clang driver adds to every Darwin link).
IMPLICIT_LIBRARIES = ("System", "c", "m", "pthread", "dl")
IMPLICIT_LIBRARY_PREFIXES = ("clang_rt.",)


def zip_name(version):
    return f"{FFI_MODULE}-{version}.xcframework.zip"


def slice_identifier(archs, variant=None):
    """The identifier xcodebuild gives a slice: ios-arm64, ios-arm64_x86_64-simulator."""
    name = "ios-" + "_".join(sorted(archs))
    return f"{name}-{variant}" if variant else name
