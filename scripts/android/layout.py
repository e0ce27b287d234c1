"""Names the AAR writer, the Maven writer and the validator must agree on.

Kept in one place so a rename in the packaging cannot silently stop being
checked: the validator reads the same constants the writers use.
"""

GROUP = "com.utdstream"
ARTIFACT = "utd-stream-android"
LIBRARY = "libutd_stream.so"
# UniFFI names every C symbol of the crate ffi_<namespace>_… or uniffi_<namespace>_….
FFI_NAMESPACE = "utd_stream"

# ABI directory -> (ELF class, e_machine). The three the AAR ships; x86 is
# listed so a stray 32-bit emulator build is recognised, not misreported.
EM_386, EM_ARM, EM_X86_64, EM_AARCH64 = 3, 40, 62, 183
ABIS = {
    "arm64-v8a": (64, EM_AARCH64),
    "armeabi-v7a": (32, EM_ARM),
    "x86_64": (64, EM_X86_64),
    "x86": (32, EM_386),
}
SHIPPED_ABIS = ("arm64-v8a", "armeabi-v7a", "x86_64")

# A --check build (no NDK: no native libraries) carries this file at the root
# of the AAR and this suffix on its version, so it can never be mistaken for
# (or published as) the real package.
CHECK_MARKER = "CHECK-BUILD-NOT-FOR-SHIPPING.txt"
CHECK_VERSION_SUFFIX = "-check-nonative"

# Android's 16 KB page size (required for apps on Android 15+ devices with
# 16 KB pages; Play requires it for new apps targeting Android 15+).
PAGE_ALIGN = 16384

# The Maven dependencies every consumer needs, by group:artifact. JNA is
# consumed as its .aar (it carries libjnidispatch.so per ABI; the plain jar
# carries desktop natives only).
DEPENDENCIES = {
    "net.java.dev.jna:jna": "aar",
    "org.jetbrains.kotlinx:kotlinx-coroutines-core": None,
    "org.jetbrains.kotlin:kotlin-stdlib": None,
    "com.google.firebase:firebase-messaging": None,
}

# Tells Gradle to read the .module file instead of the POM (Gradle looks for
# exactly this text in the POM).
GRADLE_METADATA_MARKER = "do_not_remove: published-with-gradle-metadata"


def aar_name(version):
    return f"{ARTIFACT}-{version}.aar"


def version_dir(repo, version):
    return f"{repo}/{GROUP.replace('.', '/')}/{ARTIFACT}/{version}"
