#!/usr/bin/env python3
"""Tests that the iOS packaging validator rejects what it must, and passes what is right.

A validator that cannot fail proves nothing, so each rule is shown failing on
an input made to break it. The static libraries are small ones this test
writes itself (64-bit Mach-O objects with LC_BUILD_VERSION or
LC_VERSION_MIN_IPHONEOS and a symbol table, in BSD or GNU ar archives,
universal files of them): a slice that passes, then one with the wrong CPU,
platform, minimum OS, a missing or only-imported symbol. The desktop
target/debug/libutd_stream.a (ELF members) must be rejected as no Mach-O,
and the generated header must parse to the functions it declares.
Run: python3 -m unittest -v scripts/ios/test_validators.py
"""

import hashlib
import json
import plistlib
import shutil
import struct
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import macho  # noqa: E402
import package  # noqa: E402
import validate  # noqa: E402
import xcframework  # noqa: E402
from layout import (CHECK_MARKER, CPU_TYPE_ARM64, CPU_TYPE_X86_64, HEADER, LIBRARY,  # noqa: E402
                    LOCAL_BINARY_TARGET_LINE, MODULEMAP, PLATFORM_IOS, PLATFORM_IOSSIMULATOR, PLATFORM_MACOS,
                    XCFRAMEWORK)

REPO = HERE.parent.parent
DESKTOP_STATICLIB = REPO / "target/debug/libutd_stream.a"
HOST_HEADER = REPO / "bindings/generated/UTDStreamFFI.h"
TEMPLATE = REPO / "platforms/apple/Package.swift"
TARGET = "15.0"

FUNCTIONS = ["ffi_utd_stream_rustbuffer_alloc", "uniffi_utd_stream_fn_func_sdk_version",
             "uniffi_utd_stream_checksum_func_sdk_version"]
HEADER_TEXT = """// generated
#pragma once
#include <stdint.h>
typedef struct RustBuffer { uint64_t capacity; uint64_t len; uint8_t *_Nullable data; } RustBuffer;
#ifndef UNIFFI_FFIDEF_CALLBACK
#define UNIFFI_FFIDEF_CALLBACK
typedef void (*UniffiCallbackInterfaceFree)(uint64_t
    );
#endif
typedef struct UniffiVTable {
    UniffiCallbackInterfaceFree _Nonnull uniffi_free;
    void (*uniffi_utd_stream_not_a_function)(uint64_t);
} UniffiVTable;
/* uniffi_utd_stream_in_a_comment(void); */
RustBuffer ffi_utd_stream_rustbuffer_alloc(uint64_t size, RustCallStatus *_Nonnull out_status
);
RustBuffer uniffi_utd_stream_fn_func_sdk_version(RustCallStatus *_Nonnull out_status
    );
uint16_t uniffi_utd_stream_checksum_func_sdk_version(void
    );
"""
MODULEMAP_TEXT = 'module UTDStreamFFI {\n    header "UTDStreamFFI.h"\n    export *\n}'


def make_object(cputype=CPU_TYPE_ARM64, platform=PLATFORM_IOS, minos=TARGET, defined=FUNCTIONS, undefined=(),
                local=(), version_min=False, filetype=macho.MH_OBJECT, no_version=False):
    """A minimal relocatable Mach-O 64: a version load command and LC_SYMTAB."""
    strings = bytearray(b"\0")
    symbols = []
    for names, n_type, n_sect in ((defined, macho.N_SECT | macho.N_EXT, 1), (undefined, macho.N_EXT, 0),
                                  (local, macho.N_SECT, 1)):
        for name in names:
            symbols.append(struct.pack("<IBBHQ", len(strings), n_type, n_sect, 0, 0))
            strings.extend(("_" + name).encode() + b"\0")
    commands = []
    if not no_version:
        if version_min:
            commands.append(struct.pack("<IIII", macho.LC_VERSION_MIN_IPHONEOS, 16, macho.encode_version(minos), 0))
        else:
            commands.append(struct.pack("<IIIIII", macho.LC_BUILD_VERSION, 24, platform,
                                        macho.encode_version(minos), macho.encode_version(minos), 0))
    symtab_size = 24
    header_size = 32 + sum(len(c) for c in commands) + symtab_size
    symoff = header_size
    stroff = symoff + 16 * len(symbols)
    commands.append(struct.pack("<IIIIII", macho.LC_SYMTAB, symtab_size, symoff, len(symbols), stroff,
                                len(strings)))
    body = b"".join(commands)
    header = struct.pack("<IiiIIIII", macho.MH_MAGIC_64, cputype, 0, filetype, len(commands), len(body), 0, 0)
    return header + body + b"".join(symbols) + bytes(strings)


def make_archive(members, style="bsd"):
    """An ar archive of {name: bytes}, with a (dummy) symbol table first, as ranlib leaves it."""
    out = bytearray(b"!<arch>\n")

    def add(raw_name, body):
        out.extend(f"{raw_name:<16}{0:<12}{0:<6}{0:<6}{644:<8}{len(body):<10}`\n".encode())
        out.extend(body)
        if len(body) & 1:
            out.extend(b"\n")

    if style == "bsd":
        symdef = b"__.SYMDEF\0\0\0" + struct.pack("<I", 0) + struct.pack("<I", 0)
        add("#1/12", symdef)
        for name, data in members.items():
            encoded = name.encode()
            padded = encoded + b"\0" * (-len(encoded) % 8)
            add(f"#1/{len(padded)}", padded + data)
    else:
        add("/", struct.pack(">I", 0))
        names = bytearray()
        offsets = {}
        for name in members:
            if len(name) > 15:
                offsets[name] = len(names)
                names.extend(name.encode() + b"/\n")
        if names:
            add("//", bytes(names))
        for name, data in members.items():
            add(f"/{offsets[name]}" if name in offsets else name + "/", data)
    return bytes(out)


def make_fat(slices):
    """A universal file of [(cputype, bytes)], each slice 16 KB aligned as lipo aligns them."""
    header = struct.pack(">II", macho.FAT_MAGIC, len(slices))
    offset = 16384
    entries, bodies = [], []
    for cputype, data in slices:
        entries.append(struct.pack(">iiIII", cputype, 0, offset, len(data), 14))
        bodies.append((offset, data))
        offset += len(data) + (-len(data) % 16384)
    out = bytearray(header + b"".join(entries))
    for at, data in bodies:
        out.extend(b"\0" * (at - len(out)))
        out.extend(data)
    return bytes(out)


def device_library(**kwargs):
    return make_archive({"utd_stream-1.o": make_object(**kwargs), "ring_core.o": make_object(defined=["ring_x"])})


def simulator_library():
    arm = make_archive({"a.o": make_object(platform=PLATFORM_IOSSIMULATOR)})
    x86 = make_archive({"b.o": make_object(cputype=CPU_TYPE_X86_64, platform=PLATFORM_IOSSIMULATOR)})
    return make_fat([(CPU_TYPE_ARM64, arm), (CPU_TYPE_X86_64, x86)])


class Workspace(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="ios-validator-test."))
        self.header = self.tmp / HEADER
        self.header.write_text(HEADER_TEXT)
        self.modulemap = self.tmp / "UTDStreamFFI.modulemap"
        self.modulemap.write_text(MODULEMAP_TEXT)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def xcf(self, slices=None, check=True, name=XCFRAMEWORK):
        """An xcframework of {identifier: library bytes} written by xcframework.py."""
        slices = slices if slices is not None else {"ios-arm64": device_library()}
        paths = {}
        for identifier, data in slices.items():
            path = self.tmp / f"{identifier}.a"
            path.write_bytes(data)
            paths[identifier] = path
        out = self.tmp / name
        xcframework.assemble(out, paths, self.header, self.modulemap, check_build=check)
        return out

    def run_validator(self, root, mode="check", version="0.1.0-check", toolchain=(), prebuilt=()):
        """(failed check names, report) of the xcframework checks alone."""
        class Args:
            pass
        args = Args()
        args.xcframework, args.mode, args.version, args.deployment_target = str(root), mode, version, TARGET
        args.header, args.modulemap = str(self.header), str(self.modulemap)
        args.toolchain_lib = list(toolchain)
        args.prebuilt_archive = [str(p) for p in prebuilt]
        for name in ("native_static_libs", "zip", "swiftpm_checksum", "sha256sum", "url", "manifest", "template",
                     "dump_host", "dump_apple", "package_dir", "generated_swift", "apple_dir", "ios_bindings",
                     "host_bindings"):
            setattr(args, name, None)
        report = validate.validate(args)
        return report.failed, report

    def problems(self, report, name):
        return next(p for n, p, _ in report.results if n == name)


class MachOReaderTests(unittest.TestCase):
    def test_object_symbols_platform_and_version(self):
        obj = macho.parse_object(make_object(defined=["a"], undefined=["b"], local=["c"], minos="15.2.1"))
        self.assertEqual(obj.cputype, CPU_TYPE_ARM64)
        self.assertEqual(obj.defined, {"_a"})
        self.assertEqual(obj.undefined, {"_b"})
        self.assertEqual(macho.platform_of(obj), (PLATFORM_IOS, (15, 2, 1)))

    def test_version_min_on_x86_64_is_the_simulator(self):
        obj = macho.parse_object(make_object(cputype=CPU_TYPE_X86_64, version_min=True, minos="10.0"))
        self.assertEqual(macho.platform_of(obj), (PLATFORM_IOSSIMULATOR, (10, 0, 0)))
        obj = macho.parse_object(make_object(version_min=True, minos="10.0"))
        self.assertEqual(macho.platform_of(obj), (PLATFORM_IOS, (10, 0, 0)))

    def test_bsd_and_gnu_archives(self):
        members = {"short.o": make_object(defined=["x"]),
                   "a-very-long-member-name.rcgu.o": make_object(defined=["y"])}
        for style in ("bsd", "gnu"):
            read = macho.read_archive(make_archive(members, style))
            self.assertEqual([m.name for m in read], list(members), style)
            self.assertEqual([m.data for m in read], list(members.values()), style)

    def test_fat_slices(self):
        slices = macho.thin_slices(simulator_library())
        self.assertEqual([c for c, _, _ in slices], [CPU_TYPE_ARM64, CPU_TYPE_X86_64])
        self.assertEqual(macho.thin_slices(b"!<arch>\n"), [(None, None, b"!<arch>\n")])

    def test_garbage_is_refused(self):
        with self.assertRaises(macho.MachOError):
            macho.parse_object(b"\x7fELF" + b"\0" * 60)
        with self.assertRaises(macho.MachOError):
            macho.parse_object(make_object()[:40])
        with self.assertRaises(macho.MachOError):
            macho.read_archive(b"not an archive")


class HeaderTests(unittest.TestCase):
    def test_only_declared_functions(self):
        self.assertEqual(validate.header_functions(HEADER_TEXT), FUNCTIONS)

    def test_foreign_function_is_reported(self):
        self.assertTrue(validate.check_header_functions(FUNCTIONS + ["malloc"]))
        self.assertTrue(validate.check_header_functions([]))

    @unittest.skipUnless(HOST_HEADER.is_file(), "no bindings/generated (scripts/bindings.sh)")
    def test_generated_header(self):
        import re
        text = HOST_HEADER.read_text()
        functions = validate.header_functions(text)
        called = set(re.findall(r"\b((?:ffi|uniffi)_utd_stream_\w+)\s*\(", text))
        self.assertEqual(sorted(functions), sorted(called))
        self.assertEqual(validate.check_header_functions(functions), [])
        self.assertIn("ffi_utd_stream_uniffi_contract_version", functions)


class XCFrameworkTests(Workspace):
    def test_check_build_passes(self):
        failed, report = self.run_validator(self.xcf())
        self.assertEqual(failed, [], report.results)

    def test_release_build_passes(self):
        root = self.xcf({"ios-arm64": device_library(), "ios-arm64_x86_64-simulator": simulator_library()},
                        check=False)
        failed, report = self.run_validator(root, mode="release", version="0.1.0")
        self.assertEqual(failed, [], report.results)

    def test_marker_and_version_follow_the_mode(self):
        failed, _ = self.run_validator(self.xcf(check=False))
        self.assertEqual(failed, ["slices (check)"])
        failed, _ = self.run_validator(self.xcf(), version="0.1.0")
        self.assertEqual(failed, ["slices (check)"])
        root = self.xcf({"ios-arm64": device_library(), "ios-arm64_x86_64-simulator": simulator_library()})
        failed, report = self.run_validator(root, mode="release", version="0.1.0")
        self.assertEqual(failed, ["slices (release)"])
        self.assertIn(CHECK_MARKER, " ".join(self.problems(report, "slices (release)")))

    def test_release_needs_the_simulator_slice(self):
        failed, _ = self.run_validator(self.xcf(check=False), mode="release", version="0.1.0")
        self.assertEqual(failed, ["slices (release)"])

    def test_info_plist_rules(self):
        root = self.xcf()
        plist_path = root / "Info.plist"
        good = plistlib.loads(plist_path.read_bytes())
        cases = {
            "package type": dict(good, CFBundlePackageType="FMWK"),
            "no format version": {k: v for k, v in good.items() if k != "XCFrameworkFormatVersion"},
            "missing key": dict(good, AvailableLibraries=[
                {k: v for k, v in good["AvailableLibraries"][0].items() if k != "HeadersPath"}]),
            "variant": dict(good, AvailableLibraries=[
                dict(good["AvailableLibraries"][0], SupportedPlatformVariant="simulator")]),
            "library path": dict(good, AvailableLibraries=[
                dict(good["AvailableLibraries"][0], LibraryPath="libother.a")]),
        }
        for label, plist in cases.items():
            plist_path.write_bytes(plistlib.dumps(plist))
            failed, _ = self.run_validator(root)
            self.assertIn("info.plist", failed, label)
        plist_path.write_bytes(b"<plist><dict><key>broken")
        self.assertIn("info.plist", self.run_validator(root)[0])
        plist_path.write_bytes(plistlib.dumps(good))
        (root / "ios-arm64_x86_64-maccatalyst").mkdir()
        self.assertIn("info.plist", self.run_validator(root)[0])

    def test_headers_must_be_the_generated_ones(self):
        root = self.xcf()
        (root / "ios-arm64/Headers" / HEADER).write_text(HEADER_TEXT + "\n// changed\n")
        self.assertEqual(self.run_validator(root)[0], ["headers ios-arm64"])
        root = self.xcf()
        (root / "ios-arm64/Headers" / MODULEMAP).write_text('module Other {\n    header "UTDStreamFFI.h"\n}')
        self.assertEqual(self.run_validator(root)[0], ["headers ios-arm64"])

    def test_wrong_cpu_platform_or_minimum_os(self):
        for label, kwargs in {"x86_64 in the device slice": dict(cputype=CPU_TYPE_X86_64),
                              "simulator object": dict(platform=PLATFORM_IOSSIMULATOR),
                              "macOS object": dict(platform=PLATFORM_MACOS),
                              "older minimum": dict(minos="14.0"),
                              "newer minimum": dict(minos="16.0"),
                              "no version command": dict(no_version=True),
                              "not an object": dict(filetype=6)}.items():
            failed, _ = self.run_validator(self.xcf({"ios-arm64": device_library(**kwargs)}))
            self.assertIn("objects ios-arm64", failed, label)

    def test_prebuilt_toolchain_objects_may_be_older_never_newer(self):
        std = make_object(defined=["rust_std"], version_min=True, minos="10.0")
        library = make_archive({"utd.o": make_object(), "std-1234.std.o": std})
        toolchain = self.tmp / "rustlib"
        toolchain.mkdir()
        (toolchain / "libstd-1234.rlib").write_bytes(make_archive({"std-1234.std.o": std, "lib.rmeta": b"x"}))
        root = self.xcf({"ios-arm64": library})
        self.assertIn("objects ios-arm64", self.run_validator(root)[0])
        failed, report = self.run_validator(root, toolchain=[toolchain])
        self.assertEqual(failed, [], report.results)
        newer = make_object(defined=["rust_std"], minos="17.0")
        (toolchain / "libstd-1234.rlib").write_bytes(make_archive({"std-1234.std.o": newer}))
        root = self.xcf({"ios-arm64": make_archive({"utd.o": make_object(), "std-1234.std.o": newer})})
        self.assertIn("objects ios-arm64", self.run_validator(root, toolchain=[toolchain])[0])

    def test_prebuilt_static_library_objects_may_be_older(self):
        webrtc = make_object(defined=["webrtc_x"], minos="13.0")
        archive = self.tmp / "libwebrtc.a"
        archive.write_bytes(make_archive({"audio_device.o": webrtc}))
        root = self.xcf({"ios-arm64": make_archive({"utd.o": make_object(), "audio_device.o": webrtc})})
        self.assertIn("objects ios-arm64", self.run_validator(root)[0])
        self.assertEqual(self.run_validator(root, prebuilt=[archive])[0], [])

    def test_universal_simulator_slice_needs_both_architectures(self):
        arm = make_archive({"a.o": make_object(platform=PLATFORM_IOSSIMULATOR)})
        root = self.xcf({"ios-arm64": device_library(),
                         "ios-arm64_x86_64-simulator": make_fat([(CPU_TYPE_ARM64, arm)])}, check=False)
        failed, _ = self.run_validator(root, mode="release", version="0.1.0")
        self.assertEqual(failed, ["objects ios-arm64_x86_64-simulator"])
        device_in_sim = make_fat([(CPU_TYPE_ARM64, make_archive({"a.o": make_object()})),
                                  (CPU_TYPE_X86_64, make_archive({"b.o": make_object(
                                      cputype=CPU_TYPE_X86_64, platform=PLATFORM_IOSSIMULATOR)}))])
        root = self.xcf({"ios-arm64": device_library(), "ios-arm64_x86_64-simulator": device_in_sim}, check=False)
        failed, _ = self.run_validator(root, mode="release", version="0.1.0")
        self.assertEqual(failed, ["objects ios-arm64_x86_64-simulator"])

    def test_missing_imported_or_local_symbol(self):
        for label, kwargs in {"missing": dict(defined=FUNCTIONS[:-1]),
                              "only imported": dict(defined=FUNCTIONS[:-1], undefined=FUNCTIONS[-1:]),
                              "not external": dict(defined=FUNCTIONS[:-1], local=FUNCTIONS[-1:])}.items():
            failed, report = self.run_validator(self.xcf({"ios-arm64": device_library(**kwargs)}))
            self.assertEqual(failed, ["symbols ios-arm64"], label)
            self.assertIn(FUNCTIONS[-1], " ".join(self.problems(report, "symbols ios-arm64")))

    @unittest.skipUnless(DESKTOP_STATICLIB.is_file(), "no target/debug/libutd_stream.a (scripts/bindings.sh)")
    def test_desktop_static_library_is_refused(self):
        failed, report = self.run_validator(self.xcf({"ios-arm64": DESKTOP_STATICLIB.read_bytes()}))
        self.assertIn("objects ios-arm64", failed)
        self.assertIn("not 64-bit Mach-O", " ".join(self.problems(report, "objects ios-arm64")))


class LinkerTests(unittest.TestCase):
    NOTE = ("note: native-static-libs: -framework Security -framework CoreFoundation -liconv -lSystem -lc -lm "
            "-lclang_rt.ios")

    def dump(self, frameworks=(), libraries=(), old_format=False):
        if old_format:
            settings = ([{"tool": "linker", "name": "linkedFramework", "value": [f]} for f in frameworks]
                        + [{"tool": "linker", "name": "linkedLibrary", "value": [x]} for x in libraries])
        else:
            settings = ([{"tool": "linker", "kind": {"linkedFramework": {"_0": f}}} for f in frameworks]
                        + [{"tool": "linker", "kind": {"linkedLibrary": {"_0": x}}} for x in libraries])
        return {"targets": [{"name": "UTDStream", "settings": settings}]}

    def test_parse_and_implicit_libraries(self):
        frameworks, libraries = validate.parse_native_static_libs(self.NOTE)
        self.assertEqual(frameworks, {"Security", "CoreFoundation"})
        self.assertEqual(validate.needed_by_app(frameworks, libraries), ({"Security", "CoreFoundation"}, {"iconv"}))
        with self.assertRaises(ValueError):
            validate.parse_native_static_libs("warning: nothing here")
        with self.assertRaises(ValueError):
            validate.parse_native_static_libs("note: native-static-libs: -Wl,-something")

    def test_everything_needed_must_be_listed(self):
        texts = [("aarch64-apple-ios", self.NOTE)]
        for old in (False, True):
            problems, _ = validate.check_linker(texts, self.dump(["Security", "CoreFoundation", "UIKit"], ["iconv"],
                                                                 old_format=old))
            self.assertEqual(problems, [])
            problems, _ = validate.check_linker(texts, self.dump(["Security"], ["iconv"], old_format=old))
            self.assertEqual(len(problems), 1)
            self.assertIn("CoreFoundation", problems[0])
            problems, _ = validate.check_linker(texts, self.dump(["Security", "CoreFoundation"], old_format=old))
            self.assertIn("iconv", " ".join(problems))


class ZipAndManifestTests(Workspace):
    URL = "https://example.invalid/ios/0.1.0/UTDStreamFFI-0.1.0.xcframework.zip"

    def test_zip_is_deterministic_and_complete(self):
        root = self.xcf()
        first, second = self.tmp / "a.zip", self.tmp / "b.zip"
        package.write_zip(root, first)
        (root / "Info.plist").touch()  # a new mtime must not change the bytes
        package.write_zip(root, second)
        self.assertEqual(first.read_bytes(), second.read_bytes())
        self.assertEqual(validate.check_zip(first, root), [])
        names = zipfile.ZipFile(first).namelist()
        self.assertTrue(all(n.startswith(XCFRAMEWORK + "/") for n in names))
        self.assertIn(f"{XCFRAMEWORK}/ios-arm64/{LIBRARY}", names)

    def test_zip_of_another_state_is_refused(self):
        root = self.xcf()
        zip_path = self.tmp / "x.zip"
        package.write_zip(root, zip_path)
        (root / "ios-arm64/Headers" / HEADER).write_text("changed")
        self.assertTrue(validate.check_zip(zip_path, root))
        root = self.xcf()
        with zipfile.ZipFile(zip_path, "a") as z:
            z.writestr("stray.txt", "x")
        self.assertTrue(validate.check_zip(zip_path, root))

    def test_symlink_is_refused(self):
        root = self.xcf()
        (root / "link").symlink_to(root / "Info.plist")
        with self.assertRaises(package.PackageError):
            package.write_zip(root, self.tmp / "x.zip")

    def test_checksums_must_agree(self):
        zip_path = self.tmp / "x.zip"
        package.write_zip(self.xcf(), zip_path)
        digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
        self.assertEqual(validate.check_checksum(zip_path, digest, digest)[0], [])
        self.assertTrue(validate.check_checksum(zip_path, "0" * 64, digest)[0])
        self.assertTrue(validate.check_checksum(zip_path, digest, "")[0])

    def test_release_manifest_replaces_one_line(self):
        template = f"// a\n#if os(macOS) || os(iOS)\n    {LOCAL_BINARY_TARGET_LINE}\n#else\n#endif\n"
        manifest = package.release_manifest(template, self.URL, "a" * 64)
        self.assertEqual(validate.check_manifest_text(manifest, template, self.URL, "a" * 64), [])
        self.assertIn(f'    let ffiTarget: Target = .binaryTarget(name: "UTDStreamFFI", url: "{self.URL}", '
                      f'checksum: "{"a" * 64}")', manifest)
        self.assertTrue(validate.check_manifest_text(manifest.replace("// a", "// b"), template, self.URL, "a" * 64))
        self.assertTrue(validate.check_manifest_text(manifest, template, self.URL, "b" * 64))
        self.assertIn("#if true", package.apple_branch(manifest))
        for bad in (dict(template="no such line"), dict(template=template + template),
                    dict(url="http://example.invalid/x.zip"), dict(checksum="XYZ")):
            with self.assertRaises(package.PackageError):
                package.release_manifest(bad.get("template", template), bad.get("url", self.URL),
                                         bad.get("checksum", "a" * 64))

    @unittest.skipUnless(TEMPLATE.is_file(), "no platforms/apple/Package.swift")
    def test_the_real_manifest_has_both_lines_once(self):
        manifest = package.release_manifest(TEMPLATE.read_text(), self.URL, "c" * 64)
        self.assertIn("#if true", package.apple_branch(manifest))
        self.assertNotIn(LOCAL_BINARY_TARGET_LINE, manifest)

    def apple_dump(self, **changes):
        ffi = {"name": "UTDStreamFFI", "type": "binary", "url": self.URL, "checksum": "a" * 64}
        ffi.update(changes.pop("ffi", {}))
        dump = {"name": "UTDStream",
                "platforms": [{"platformName": "ios", "version": "15.0"}, {"platformName": "macos", "version": "12.0"}],
                "products": [{"name": "UTDStream", "type": {"library": ["automatic"]}, "targets": ["UTDStream"]},
                             {"name": "UTDStreamCallKit", "type": {"library": ["automatic"]},
                              "targets": ["UTDStreamCallKit"]}],
                "targets": [ffi,
                            {"name": "UTDStream", "type": "regular",
                             "dependencies": [{"byName": ["UTDStreamFFI", None]}]},
                            {"name": "UTDStreamCallKit", "type": "regular", "dependencies": [{"byName": ["UTDStream", None]}]}]}
        dump.update(changes)
        return json.loads(json.dumps(dump))

    def test_dump_package_apple_branch(self):
        self.assertEqual(validate.check_dump_apple(self.apple_dump(), self.URL, "a" * 64, TARGET), [])
        for label, dump in {"checksum": self.apple_dump(ffi={"checksum": "b" * 64}),
                            "url": self.apple_dump(ffi={"url": "https://elsewhere.invalid/x.zip"}),
                            "path": self.apple_dump(ffi={"path": "UTDStreamFFI.xcframework"}),
                            "system library": self.apple_dump(ffi={"type": "system"}),
                            "product": self.apple_dump(products=[]),
                            "platform": self.apple_dump(platforms=[{"platformName": "ios", "version": "14.0"}])}.items():
            self.assertTrue(validate.check_dump_apple(dump, self.URL, "a" * 64, TARGET), label)

    def test_package_sources(self):
        apple, pkg = self.tmp / "apple", self.tmp / "pkg"
        for root in (apple, pkg):
            for folder, name in (("Sources/UTDStream", "AsyncStreams.swift"),
                                 ("Sources/UTDStreamCallKit", "UTDCallKit.swift"),
                                 ("Tests/UTDStreamTests", "ClientTests.swift")):
                (root / folder).mkdir(parents=True, exist_ok=True)
                (root / folder / name).write_text(f"// {name}\n")
        generated = self.tmp / "UTDStream.swift"
        generated.write_text("// generated\n")
        shutil.copyfile(generated, pkg / "Sources/UTDStream/UTDStream.swift")
        (pkg / "Package.swift").write_text("manifest")
        self.assertEqual(validate.check_sources(pkg, "manifest", generated, apple), [])
        (apple / "Sources/UTDStreamCallKit/CallKitProvider.swift").write_text("// new\n")
        self.assertTrue(validate.check_sources(pkg, "manifest", generated, apple))
        shutil.copyfile(apple / "Sources/UTDStreamCallKit/CallKitProvider.swift",
                        pkg / "Sources/UTDStreamCallKit/CallKitProvider.swift")
        self.assertEqual(validate.check_sources(pkg, "manifest", generated, apple), [])
        (pkg / "Sources/UTDStream/Stale.swift").write_text("// old\n")
        self.assertTrue(validate.check_sources(pkg, "manifest", generated, apple))

    def test_bindings_equal_except_checksums(self):
        ios, host = self.tmp / "ios", self.tmp / "host"
        for root, checksum in ((ios, 111), (host, 222)):
            root.mkdir()
            (root / "UTDStream.swift").write_text(
                f"if (uniffi_utd_stream_checksum_func_sdk_version() != {checksum}) {{\n}}\n")
            (root / HEADER).write_text(HEADER_TEXT)
            (root / "UTDStreamFFI.modulemap").write_text(MODULEMAP_TEXT)
        problems, detail = validate.check_bindings_equal(ios, host)
        self.assertEqual(problems, [])
        self.assertIn("1 checksum", detail)
        (ios / HEADER).write_text(HEADER_TEXT + "void uniffi_utd_stream_fn_extra(void);\n")
        self.assertTrue(validate.check_bindings_equal(ios, host)[0])


if __name__ == "__main__":
    unittest.main()
