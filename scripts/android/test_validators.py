#!/usr/bin/env python3
"""Tests that the packaging validators reject what they must, and pass what is right.

A validator that cannot fail proves nothing, so each rule is shown failing on
an input made to break it: the desktop build of the SDK (glibc NEEDED and
symbol versions, 4 KB alignment), a library for the wrong ABI, one that lacks
a symbol the bindings call, classes at the wrong class-file version, a
manifest without the Telecom permission, a Maven layout whose .aar changed
after its metadata was written. The libraries that must pass are minimal
ELF files this test writes itself (no NDK here), with the structures the
Android linker reads. Run: python3 -m unittest -v scripts/android/test_validators.py
Needs target/debug/libutd_stream.so and bindings/generated-android (scripts/bindings.sh).
"""

import io
import struct
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import assemble_aar  # noqa: E402
import classfile  # noqa: E402
import native_rules  # noqa: E402
import validate_aar  # noqa: E402
import validate_maven  # noqa: E402
import write_maven  # noqa: E402
from layout import ABIS, CHECK_VERSION_SUFFIX, EM_AARCH64, EM_ARM, EM_X86_64, LIBRARY, SHIPPED_ABIS, aar_name  # noqa: E402

REPO = HERE.parent.parent
DESKTOP_LIBRARY = REPO / "target/debug/libutd_stream.so"
ANDROID_BINDINGS = REPO / "bindings/generated-android/com/utdstream/sdk/utd_stream.kt"
MANIFEST = REPO / "platforms/android/src/main/AndroidManifest.xml"
PROGUARD = REPO / "platforms/android/consumer-rules.pro"
ANDROID_NS = "{http://schemas.android.com/apk/res/android}"

# Bound by JNA's direct mapping (`external fun`) and looked up by name (libffi
# calls of scripts/kotlin_postprocess.py): the library must export both kinds.
DIRECT = ["ffi_utd_stream_rustbuffer_alloc", "uniffi_utd_stream_fn_func_sdk_version",
          "uniffi_utd_stream_checksum_func_sdk_version"]
BY_NAME = ["uniffi_utd_stream_fn_func_parse_call_push"]
SYMBOLS = DIRECT + BY_NAME
BINDINGS_SOURCE = "\n".join(
    [f"    external fun `{s}`(`size`: Long, uniffi_out_err: UniffiRustCallStatus,\n    ): Long" for s in DIRECT]
    + [f'    @JvmField val {s} = UniffiFfiFunction("{s}", UniffiFfi.I64, intArrayOf())' for s in BY_NAME]
    # String literals that are not symbol names stay out.
    + ['    throw IllegalStateException("ffi_prep_cif failed for $name")',
       '    System.getProperty("uniffi.component.utd_stream.libraryOverride")'])


def make_elf(elf_class=64, machine=EM_AARCH64, needed=("libc.so", "libdl.so"), symbols=SYMBOLS,
             undefined=(), align=16384, version_needs=(), text_relocations=False):
    """A minimal shared object: one PT_LOAD over the whole file (vaddr == offset),
    a PT_DYNAMIC, .dynstr, .dynsym and the section headers that name them."""
    is64 = elf_class == 64
    ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
    symsize, dynsize = (24, 16) if is64 else (16, 8)

    strings = bytearray(b"\0")

    def string(s):
        at = len(strings)
        strings.extend(s.encode() + b"\0")
        return at

    needed_at = [string(n) for n in needed]
    defined_at = [string(s) for s in symbols]
    undefined_at = [string(s) for s in undefined]
    verneed_strings = [(string(f), [string(v) for v in vs]) for f, vs in version_needs]

    def pad(buf, to=8):
        buf.extend(b"\0" * (-len(buf) % to))

    phoff = ehsize
    body = bytearray(b"\0" * (ehsize + 2 * phentsize))
    dynstr_off = len(body)
    body.extend(strings)
    pad(body)
    dynsym_off = len(body)

    def sym(name, shndx):
        info = (1 << 4) | 2  # STB_GLOBAL, STT_FUNC
        if is64:
            return struct.pack("<IBBHQQ", name, info, 0, shndx, 0x1000 if shndx else 0, 8)
        return struct.pack("<IIIBBH", name, 0x1000 if shndx else 0, 8, info, 0, shndx)

    body.extend(b"\0" * symsize)
    for at in defined_at:
        body.extend(sym(at, 1))
    for at in undefined_at:
        body.extend(sym(at, 0))
    dynsym_size = len(body) - dynsym_off
    pad(body)
    verneed_off = len(body)
    for i, (file_at, versions) in enumerate(verneed_strings):
        last = i == len(verneed_strings) - 1
        size = 16 + 16 * len(versions)
        body.extend(struct.pack("<HHIII", 1, len(versions), file_at, 16, 0 if last else size))
        for j, version_at in enumerate(versions):
            body.extend(struct.pack("<IHHII", 0, 0, 2 + j, version_at, 0 if j == len(versions) - 1 else 16))
    pad(body)
    dynamic_off = len(body)
    entries = [(1, at) for at in needed_at] + [(5, dynstr_off), (10, len(strings))]
    if verneed_strings:
        entries += [(0x6FFFFFFE, verneed_off), (0x6FFFFFFF, len(verneed_strings))]
    if text_relocations:
        entries.append((22, 0))
    entries.append((0, 0))
    for tag, val in entries:
        body.extend(struct.pack("<qQ" if is64 else "<iI", tag, val))
    dynamic_size = len(body) - dynamic_off
    shstr = b"\0.dynstr\0.dynsym\0.dynamic\0.shstrtab\0"
    shstr_off = len(body)
    body.extend(shstr)
    pad(body)
    shoff = len(body)

    def shdr(name, kind, offset, size, link=0, entsize=0):
        if is64:
            return struct.pack("<IIQQQQIIQQ", name, kind, 2, offset, offset, size, link, 1 if kind == 11 else 0, 8, entsize)
        return struct.pack("<IIIIIIIIII", name, kind, 2, offset, offset, size, link, 1 if kind == 11 else 0, 4, entsize)

    body.extend(b"\0" * shentsize)
    body.extend(shdr(1, 3, dynstr_off, len(strings)))
    body.extend(shdr(9, 11, dynsym_off, dynsym_size, link=1, entsize=symsize))
    body.extend(shdr(17, 6, dynamic_off, dynamic_size, link=1, entsize=dynsize))
    body.extend(shdr(26, 3, shstr_off, len(shstr)))
    total = len(body)

    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1, 0]) + b"\0" * 8
    if is64:
        header = ident + struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, phoff, shoff, 0, ehsize,
                                     phentsize, 2, shentsize, 5, 4)
        phdrs = (struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, total, total, align)
                 + struct.pack("<IIQQQQQQ", 2, 6, dynamic_off, dynamic_off, dynamic_off, dynamic_size, dynamic_size, 8))
    else:
        header = ident + struct.pack("<HHIIIIIHHHHHH", 3, machine, 1, 0, phoff, shoff, 0x5000000, ehsize,
                                     phentsize, 2, shentsize, 5, 4)
        phdrs = (struct.pack("<IIIIIIII", 1, 0, 0, 0, total, total, 5, align)
                 + struct.pack("<IIIIIIII", 2, dynamic_off, dynamic_off, dynamic_off, dynamic_size, dynamic_size, 6, 4))
    body[0:len(header)] = header
    body[phoff:phoff + len(phdrs)] = phdrs
    return bytes(body)


def elf_for(abi, **kwargs):
    elf_class, machine = ABIS[abi]
    return make_elf(elf_class=elf_class, machine=machine, **kwargs)


def make_class(name, super_name="java/lang/Object", major=55, natives=(), strings=()):
    """A minimal class file; a Long constant exercises the two-slot rule."""
    pool = []

    def add(entry, slots=1):
        pool.append(entry)
        pool.extend([None] * (slots - 1))
        return len(pool)

    def utf8(s):
        b = s.encode()
        return add(b"\x01" + struct.pack(">H", len(b)) + b)

    def cls(s):
        return add(b"\x07" + struct.pack(">H", utf8(s)))

    add(b"\x05" + struct.pack(">q", 42), slots=2)
    for text in strings:
        add(b"\x08" + struct.pack(">H", utf8(text)))
    this, sup, descriptor = cls(name), cls(super_name), utf8("()J")
    methods = [(0x0101, utf8(n), descriptor) for n in natives]  # public native
    return (b"\xca\xfe\xba\xbe" + struct.pack(">HHH", 0, major, len(pool) + 1)
            + b"".join(e for e in pool if e is not None)
            + struct.pack(">HHHH", 0x21, this, sup, 0) + struct.pack(">H", 0)
            + struct.pack(">H", len(methods)) + b"".join(struct.pack(">HHHH", *m, 0) for m in methods)
            + struct.pack(">H", 0))


def make_jar(classes, module="utd-stream-android"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        if module:
            jar.writestr(f"META-INF/{module}.kotlin_module", b"\0")
        for name, data in classes.items():
            jar.writestr(name + ".class", data)
    return buf.getvalue()


def manifest_components():
    """(tag, internal class name, base) of each component the real library manifest declares."""
    root = ET.parse(MANIFEST).getroot()
    package = root.get("package")
    found = []
    for component in root.find("application"):
        if component.tag in validate_aar.COMPONENT_BASES:
            internal = validate_aar._component_class(package, component.get(ANDROID_NS + "name"))
            base = validate_aar.COMPONENT_BASES[component.tag]
            if component.get(ANDROID_NS + "permission") == "android.permission.BIND_TELECOM_CONNECTION_SERVICE":
                base = validate_aar.CONNECTION_SERVICE
            found.append((component.tag, internal, base))
    return found


def sdk_classes(major=55, natives=DIRECT, strings=BY_NAME, skip=()):
    """classes.jar content: the bindings' native holder and a class per manifest component."""
    classes = {"com/utdstream/sdk/UniffiLib": make_class("com/utdstream/sdk/UniffiLib", major=major, natives=natives,
                                                         strings=strings)}
    for _, internal, base in manifest_components():
        if internal not in skip:
            classes[internal] = make_class(internal, base, major=major)
    return classes


def framework_jar(path):
    """Stand-in for android-all: the framework classes the components extend."""
    chain = {"android/telecom/ConnectionService": "android/app/Service", "android/app/Service": "android/content/ContextWrapper",
             "android/content/BroadcastReceiver": "java/lang/Object", "android/content/ContextWrapper": "java/lang/Object"}
    Path(path).write_bytes(make_jar({n: make_class(n, s) for n, s in chain.items()}, module=None))
    return str(path)


class NativeLibraryRules(unittest.TestCase):
    def test_minimal_android_library_passes_for_each_abi(self):
        for abi in SHIPPED_ABIS:
            with self.subTest(abi=abi):
                self.assertEqual(native_rules.check_library(elf_for(abi), abi, SYMBOLS), [])

    def test_desktop_build_is_rejected_for_glibc_and_alignment_but_has_every_symbol(self):
        if not DESKTOP_LIBRARY.exists() or not ANDROID_BINDINGS.exists():
            self.fail(f"{DESKTOP_LIBRARY} or {ANDROID_BINDINGS} missing: run scripts/bindings.sh first")
        symbols = validate_aar.ffi_symbols(ANDROID_BINDINGS.read_text())
        problems = native_rules.check_library(DESKTOP_LIBRARY.read_bytes(), "x86_64", symbols)
        text = "\n".join(problems)
        self.assertIn("NEEDED libc.so.6: a glibc/desktop library", text)
        self.assertIn("GLIBC_", text)
        self.assertIn("PT_LOAD alignment 0x1000", text)
        # The desktop build exports the same C API: the symbol parse and the
        # dynsym reader agree on real output, so "missing" is never a parsing artefact.
        self.assertNotIn("not exported", text)

    def test_wrong_abi_is_rejected(self):
        arm64 = elf_for("arm64-v8a")
        problems = native_rules.check_library(arm64, "armeabi-v7a", SYMBOLS)
        self.assertTrue(any("ELF class 64-bit" in p for p in problems), problems)
        self.assertTrue(any(f"e_machine {EM_AARCH64}" in p for p in problems), problems)
        x86 = make_elf(machine=EM_X86_64)
        problems = native_rules.check_library(x86, "arm64-v8a", SYMBOLS)
        self.assertEqual(problems, [f"e_machine {EM_X86_64}, but arm64-v8a needs {EM_AARCH64}"])
        arm32_as_x86_64 = make_elf(elf_class=32, machine=EM_ARM)
        self.assertTrue(native_rules.check_library(arm32_as_x86_64, "x86_64", SYMBOLS))

    def test_missing_or_undefined_symbol_is_rejected(self):
        # SYMBOLS[-1] is one the bindings look up by name.
        lacking = elf_for("arm64-v8a", symbols=SYMBOLS[:-1])
        problems = native_rules.check_library(lacking, "arm64-v8a", SYMBOLS)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn(SYMBOLS[-1], problems[0])
        imported_only = elf_for("arm64-v8a", symbols=SYMBOLS[:-1], undefined=SYMBOLS[-1:])
        self.assertIn(SYMBOLS[-1], "\n".join(native_rules.check_library(imported_only, "arm64-v8a", SYMBOLS)))

    def test_4k_alignment_is_rejected(self):
        problems = native_rules.check_library(elf_for("x86_64", align=4096), "x86_64", SYMBOLS)
        self.assertEqual(len(problems), 1)
        self.assertIn("alignment 0x1000", problems[0])

    def test_needed_libraries(self):
        cxx = elf_for("arm64-v8a", needed=("libc.so", "libc++_shared.so"))
        self.assertIn("NEEDED libc++_shared.so", "\n".join(native_rules.check_library(cxx, "arm64-v8a", SYMBOLS)))
        self.assertEqual(native_rules.check_library(cxx, "arm64-v8a", SYMBOLS, siblings={"libc++_shared.so"}), [])
        media = elf_for("arm64-v8a", needed=("libc.so", "libaaudio.so", "libOpenSLES.so", "liblog.so"))
        self.assertEqual(native_rules.check_library(media, "arm64-v8a", SYMBOLS, min_sdk=26), [])
        binder = elf_for("arm64-v8a", needed=("libbinder_ndk.so",))
        self.assertIn("only on API 29+", "\n".join(native_rules.check_library(binder, "arm64-v8a", SYMBOLS, min_sdk=26)))
        private = elf_for("arm64-v8a", needed=("libutils.so",))
        self.assertIn("not an NDK stable system library", "\n".join(native_rules.check_library(private, "arm64-v8a")))

    def test_glibc_symbol_versions_and_text_relocations_are_rejected(self):
        versioned = elf_for("x86_64", version_needs=[("libc.so", ["LIBC", "GLIBC_2.34"])])
        problems = native_rules.check_library(versioned, "x86_64", SYMBOLS)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("GLIBC_2.34", problems[0])
        bionic = elf_for("x86_64", version_needs=[("libc.so", ["LIBC", "LIBC_N"])])
        self.assertEqual(native_rules.check_library(bionic, "x86_64", SYMBOLS), [])
        textrel = elf_for("armeabi-v7a", text_relocations=True)
        self.assertIn("text relocations", "\n".join(native_rules.check_library(textrel, "armeabi-v7a", SYMBOLS)))

    def test_not_an_elf_is_rejected(self):
        self.assertIn("bad magic", native_rules.check_library(b"PK\x03\x04" + b"\0" * 60, "x86_64")[0])


class BindingsSymbols(unittest.TestCase):
    def test_symbols_of_the_generated_android_bindings(self):
        if not ANDROID_BINDINGS.exists():
            self.fail(f"{ANDROID_BINDINGS} missing: run scripts/bindings.sh first")
        symbols = validate_aar.ffi_symbols(ANDROID_BINDINGS.read_text())
        self.assertGreater(len(symbols), 100)
        self.assertIn("ffi_utd_stream_rustbuffer_alloc", symbols)
        self.assertIn("ffi_utd_stream_uniffi_contract_version", symbols)
        bad = [s for s in symbols if not s.startswith(("ffi_utd_stream_", "uniffi_utd_stream_"))]
        self.assertEqual(bad, [])

    def test_direct_and_by_name_symbols(self):
        self.assertEqual(validate_aar.direct_symbols(BINDINGS_SOURCE), sorted(DIRECT))
        self.assertEqual(validate_aar.by_name_symbols(BINDINGS_SOURCE), sorted(BY_NAME))
        self.assertEqual(validate_aar.ffi_symbols(BINDINGS_SOURCE), sorted(SYMBOLS))


class ClassesManifestRules(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.framework = framework_jar(Path(self.tmp.name) / "framework.jar")

    def tearDown(self):
        self.tmp.cleanup()

    def classes(self, **kwargs):
        return validate_aar.check_classes(make_jar(sdk_classes(**kwargs)), 11, BINDINGS_SOURCE)

    def test_good_classes_pass(self):
        problems, classes = self.classes()
        self.assertEqual(problems, [])
        self.assertIn("com/utdstream/sdk/UniffiLib", classes)

    def test_wrong_class_file_version_is_rejected(self):
        problems, _ = self.classes(major=52)
        self.assertTrue(any("not at class-file version 55" in p for p in problems), problems)

    def test_bindings_not_matching_the_jar_are_rejected(self):
        problems, _ = self.classes(natives=DIRECT[:1])
        self.assertTrue(any("native method(s) only in the Kotlin" in p for p in problems), problems)
        problems, _ = self.classes(strings=())
        self.assertTrue(any("looked up by name are not in the jar" in p for p in problems), problems)

    def test_bundled_stdlib_and_default_module_name_are_rejected(self):
        classes = sdk_classes()
        classes["kotlin/Unit"] = make_class("kotlin/Unit")
        problems, _ = validate_aar.check_classes(make_jar(classes, module="main"), 11, BINDINGS_SOURCE)
        text = "\n".join(problems)
        self.assertIn("bundled foreign class kotlin/Unit.class", text)
        self.assertIn("main.kotlin_module", text)

    def manifest_problems(self, manifest_bytes, classes):
        resolver = validate_aar.ClassResolver(classes, [self.framework])
        return validate_aar.check_manifest(manifest_bytes, resolver, 26)

    def test_library_manifest_passes_with_its_classes(self):
        _, classes = self.classes()
        self.assertEqual(self.manifest_problems(MANIFEST.read_bytes(), classes), [])

    def test_manifest_without_the_telecom_permission_is_rejected(self):
        _, classes = self.classes()
        text = MANIFEST.read_text().replace(
            'android:permission="android.permission.BIND_TELECOM_CONNECTION_SERVICE"', "")
        problems = self.manifest_problems(text.encode(), classes)
        self.assertTrue(any("BIND_TELECOM_CONNECTION_SERVICE" in p for p in problems), problems)

    def test_component_without_its_class_is_rejected(self):
        missing = manifest_components()[0][1]
        _, classes = self.classes(skip=(missing,))
        problems = self.manifest_problems(MANIFEST.read_bytes(), classes)
        self.assertTrue(any("class not in classes.jar" in p for p in problems), problems)

    def test_connection_service_of_the_wrong_class_is_rejected(self):
        _, classes = self.classes()
        for tag, internal, base in manifest_components():
            if base == validate_aar.CONNECTION_SERVICE:
                classes[internal] = classfile.parse(make_class(internal, "android/app/Service"))
        problems = self.manifest_problems(MANIFEST.read_bytes(), classes)
        self.assertTrue(any("does not extend android.telecom.ConnectionService" in p for p in problems), problems)

    def test_foreground_type_without_its_permission_is_rejected(self):
        _, classes = self.classes()
        text = MANIFEST.read_text().replace('"android.permission.FOREGROUND_SERVICE_MICROPHONE"', '"x"')
        problems = self.manifest_problems(text.encode(), classes)
        self.assertTrue(any("FOREGROUND_SERVICE_MICROPHONE" in p for p in problems), problems)

    def test_broken_manifest_and_rules(self):
        self.assertIn("does not parse", self.manifest_problems(b"<manifest", {})[0])
        self.assertEqual(validate_aar.check_proguard(PROGUARD.read_text()), [])
        self.assertEqual(len(validate_aar.check_proguard("-keep class com.example.** { *; }")),
                         len(validate_aar.PROGUARD_RULES))


class WholePackage(unittest.TestCase):
    """The AAR and Maven layout as the packaging script writes them, with synthetic parts."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.framework = framework_jar(self.dir / "framework.jar")
        (self.dir / "classes.jar").write_bytes(make_jar(sdk_classes()))

    def tearDown(self):
        self.tmp.cleanup()

    def aar(self, name, libraries=None):
        """Writes an AAR; `libraries` maps ABI -> bytes (release) or None (check build)."""
        jni = None
        if libraries is not None:
            jni = self.dir / f"{name}-jni"
            for abi, data in libraries.items():
                (jni / abi).mkdir(parents=True)
                (jni / abi / LIBRARY).write_bytes(data)
        out = self.dir / f"{name}.aar"
        files = assemble_aar.entries(MANIFEST, self.dir / "classes.jar", PROGUARD, 35, jni, check_build=jni is None)
        assemble_aar.write(out, files)
        return out

    def validate(self, aar, mode):
        return validate_aar.validate(aar, mode, BINDINGS_SOURCE, 11, 26, [self.framework])

    def test_release_aar_with_android_libraries_passes(self):
        report = self.validate(self.aar("good", {abi: elf_for(abi) for abi in SHIPPED_ABIS}), "release")
        self.assertEqual(report.failed, [], report.results)

    def test_release_aar_with_the_desktop_library_is_rejected(self):
        if not DESKTOP_LIBRARY.exists():
            self.fail(f"{DESKTOP_LIBRARY} missing: run scripts/bindings.sh first")
        libraries = {abi: elf_for(abi) for abi in SHIPPED_ABIS}
        libraries["x86_64"] = DESKTOP_LIBRARY.read_bytes()
        report = self.validate(self.aar("desktop", libraries), "release")
        self.assertEqual(report.failed, [f"native x86_64/{LIBRARY}"])

    def test_release_aar_missing_an_abi_is_rejected(self):
        report = self.validate(self.aar("two", {abi: elf_for(abi) for abi in SHIPPED_ABIS[:2]}), "release")
        self.assertEqual(report.failed, ["entries (release build)"])

    def test_check_aar_passes_and_refuses_any_native_library(self):
        check = self.aar("check")
        self.assertEqual(self.validate(check, "check").failed, [])
        self.assertIn("entries (release build)", self.validate(check, "release").failed)
        with self.assertRaises(ValueError):
            assemble_aar.entries(MANIFEST, self.dir / "classes.jar", PROGUARD, 35, self.dir, check_build=True)
        smuggled = self.aar("smuggled", {"x86_64": elf_for("x86_64")})
        self.assertIn("entries (check build)", self.validate(smuggled, "check").failed)

    def maven(self, aar, version, deps=None):
        deps = deps or ["net.java.dev.jna:jna:5.17.0@aar", "org.jetbrains.kotlinx:kotlinx-coroutines-core:1.8.0",
                        "org.jetbrains.kotlin:kotlin-stdlib:2.4.20", "com.google.firebase:firebase-messaging:26.0.1"]
        repo = self.dir / "maven"
        write_maven.write(repo, aar, version, [write_maven.parse_dependency(d) for d in deps],
                          check_build=CHECK_VERSION_SUFFIX in version)
        return repo

    def failed(self, repo, version, aar, mode):
        return [name for name, problems in validate_maven.validate(repo, version, aar, mode) if problems]

    def test_maven_layout_passes(self):
        aar = self.aar("good", {abi: elf_for(abi) for abi in SHIPPED_ABIS})
        repo = self.maven(aar, "1.2.3")
        self.assertEqual(self.failed(repo, "1.2.3", aar, "release"), [])
        check_aar, version = self.aar("check"), "1.2.3" + CHECK_VERSION_SUFFIX
        self.assertEqual(self.failed(self.maven(check_aar, version), version, check_aar, "check"), [])
        self.assertEqual(self.failed(repo, version, check_aar, "release"), ["maven version"])

    def test_aar_changed_after_the_metadata_is_rejected(self):
        aar = self.aar("good", {abi: elf_for(abi) for abi in SHIPPED_ABIS})
        repo = self.maven(aar, "1.2.3")
        published = repo / "com/utdstream/utd-stream-android/1.2.3" / aar_name("1.2.3")
        published.write_bytes(published.read_bytes() + b"\0")
        failed = self.failed(repo, "1.2.3", published, "release")
        self.assertIn(".module (Gradle module metadata)", failed)
        self.assertIn("checksum files", failed)

    def test_jna_as_jar_and_a_broken_pom_are_rejected(self):
        aar = self.aar("good", {abi: elf_for(abi) for abi in SHIPPED_ABIS})
        repo = self.maven(aar, "1.2.3", ["net.java.dev.jna:jna:5.17.0", "org.jetbrains.kotlinx:kotlinx-coroutines-core:1.8.0",
                                         "org.jetbrains.kotlin:kotlin-stdlib:2.4.20",
                                         "com.google.firebase:firebase-messaging:26.0.1"])
        self.assertEqual(self.failed(repo, "1.2.3", aar, "release"), ["POM", ".module (Gradle module metadata)"])
        pom = repo / "com/utdstream/utd-stream-android/1.2.3/utd-stream-android-1.2.3.pom"
        pom.write_text(pom.read_text().replace("</project>", ""))
        problems = dict(validate_maven.validate(repo, "1.2.3", aar, "release"))["POM"]
        self.assertIn("does not parse", problems[0])


if __name__ == "__main__":
    unittest.main()
