"""What a native library inside the AAR must satisfy to load on Android.

Each rule is something Android's dynamic linker (or Google Play) enforces,
or something that makes the app crash at the first call into the SDK:

- the ELF class and machine match the jni/<abi>/ directory it sits in (the
  package manager installs by directory name; a wrong binary fails to load);
- NEEDED names only libraries every device of the minimum API level has:
  the NDK's stable system libraries (the set of the NDK's
  meta/system_libs.json, i.e. the stub libraries in its sysroot), each at the
  API level it first appeared; or a library shipped next to it in the same
  ABI directory (e.g. libc++_shared.so). Any other platform library is private
  to the platform since Android 7 (dlopen fails for apps), and glibc's names
  (libc.so.6, libgcc_s.so.1, ld-linux-*.so.2) exist on no device;
- no GNU symbol versions (GLIBC_*, GCC_*, GLIBCXX_*, CXXABI_*): bionic
  defines LIBC* versions only, so such a need is a desktop build;
- no text relocations (refused for apps targeting API 23+);
- every PT_LOAD aligned to at least 16 KB (devices with 16 KB pages refuse
  the rest; Play requires it for apps targeting Android 15+);
- every symbol the Kotlin bindings bind through JNA is defined and exported
  (a missing one is an UnsatisfiedLinkError when the bindings load).
"""

import re

import elf
from layout import ABIS, PAGE_ALIGN

# Library -> first API level it is on every device. 21 is the oldest API
# level current NDKs build for; everything older is there on all of them.
SYSTEM_LIBRARIES = {
    "libc.so": 21, "libm.so": 21, "libdl.so": 21, "liblog.so": 21, "libz.so": 21,
    "libstdc++.so": 21, "libandroid.so": 21, "libjnigraphics.so": 21,
    "libEGL.so": 21, "libGLESv1_CM.so": 21, "libGLESv2.so": 21, "libGLESv3.so": 21,
    "libOpenSLES.so": 21, "libOpenMAXAL.so": 21, "libmediandk.so": 21,
    "libcamera2ndk.so": 24, "libvulkan.so": 24,
    "libaaudio.so": 26, "libnativewindow.so": 26, "libsync.so": 26,
    "libneuralnetworks.so": 27,
    "libbinder_ndk.so": 29, "libamidi.so": 29,
    "libicu.so": 31,
}

# Version names defined by GNU runtimes (glibc, libgcc_s, libstdc++), never by bionic.
GNU_VERSION = re.compile(r"^(GLIBC|GLIBCXX|CXXABI|GCC)_")
GLIBC_SONAME = re.compile(r"(\.so\.\d|^ld-linux)")


def check_library(data, abi, required_symbols=(), min_sdk=26, siblings=()):
    """Returns the problems of one .so (its bytes) found under jni/<abi>/; [] when it passes.

    `required_symbols` are the names the bindings bind (empty for a library
    the bindings do not call, e.g. libc++_shared.so); `siblings` are the other
    file names in the same ABI directory.
    """
    try:
        info = elf.parse(data)
    except elf.ElfError as e:
        return [f"not a loadable ELF: {e}"]
    problems = []
    if abi not in ABIS:
        return [f"unknown ABI directory {abi!r} (expected one of {', '.join(ABIS)})"]
    want_class, want_machine = ABIS[abi]
    if info.elf_class != want_class:
        problems.append(f"ELF class {info.elf_class}-bit, but {abi} needs {want_class}-bit")
    if info.machine != want_machine:
        problems.append(f"e_machine {info.machine}, but {abi} needs {want_machine}")
    if info.type != elf.ET_DYN:
        problems.append(f"e_type {info.type}: not a shared object (ET_DYN)")
    for name in info.needed:
        if name in siblings:
            continue
        level = SYSTEM_LIBRARIES.get(name)
        if level is None:
            why = ("a glibc/desktop library, on no Android device" if GLIBC_SONAME.search(name)
                   else "not an NDK stable system library and not shipped in this ABI directory")
            problems.append(f"NEEDED {name}: {why}")
        elif level > min_sdk:
            problems.append(f"NEEDED {name}: only on API {level}+, but minSdk is {min_sdk}")
    gnu = sorted({version for _, version in info.version_needs if GNU_VERSION.match(version)})
    if gnu:
        problems.append(f"needs GNU symbol versions (desktop toolchain): {', '.join(gnu[:6])}"
                        + (" …" if len(gnu) > 6 else ""))
    if info.text_relocations:
        problems.append("has text relocations (refused for apps targeting API 23+)")
    loads = [s for s in info.segments if s.type == elf.PT_LOAD]
    if not loads:
        problems.append("no PT_LOAD segment")
    small = sorted({s.align for s in loads if s.align < PAGE_ALIGN})
    if small:
        problems.append(f"PT_LOAD alignment {', '.join(hex(a) for a in small)} < {PAGE_ALIGN:#x} "
                        "(link with -Wl,-z,max-page-size=16384)")
    missing = sorted(set(required_symbols) - info.exported)
    if missing:
        problems.append(f"{len(missing)} symbol(s) the bindings call are not exported: "
                        f"{', '.join(missing[:5])}" + (" …" if len(missing) > 5 else ""))
    return problems


def needed(data):
    """The NEEDED list of a library (the packaging script uses it to find what to ship beside it)."""
    return elf.parse(data).needed
