#!/usr/bin/env python3
"""Validates the iOS package: the xcframework, its zip and checksum, the release manifest.

Everything Xcode, SwiftPM or the app's link would trip over later is checked
here, where it is cheap to see:
  info.plist   well formed; CFBundlePackageType XFWK, XCFrameworkFormatVersion;
               one AvailableLibraries entry per slice folder on disk (and no
               other folder), its LibraryPath / HeadersPath there, its
               architectures, platform and variant those of its identifier
  slices       the mode's slices (release: device + simulator; check: device);
               a check build carries its marker and version suffix, a
               release build neither
  headers      per slice: UTDStreamFFI.h as generated, a module.modulemap
               declaring `module UTDStreamFFI` over that header
  objects      per slice (macho.py, no Xcode tools needed): every member of
               the static library (each architecture of a universal one) a
               64-bit Mach-O object of the slice's CPU type, built for the
               slice's platform (iOS = 2, iOS simulator = 7) with the
               deployment target as its minimum OS version; prebuilt objects
               (the Rust toolchain's std: --toolchain-lib; libwebrtc.a:
               --prebuilt-archive) may be older, never newer
  symbols      per slice: every function the header declares is defined
               (external, in a section) in the library, for each architecture
  linker       every framework / library rustc's native-static-libs asks for
               is in the manifest's linker settings (as `swift package
               dump-package` evaluates them)
  zip          holds exactly the xcframework, byte for byte, and zipping again
               gives the same bytes
  checksum     `swift package compute-checksum` = sha256sum = our own sha256
  manifest     the template with only its binaryTarget line replaced; both
               dump-package views: products, the binary target's url and
               checksum, the iOS deployment target
  sources      the package folder: the manifest, the generated UTDStream.swift,
               every hand-written *.swift and the tests, nothing stale
  bindings     (with --host-bindings) the Swift bindings generated from the
               iOS library equal the host ones, checksums aside

Prints one line per check and `validator: N passed, N failed`; exits 1 on any failure.
"""

import argparse
import hashlib
import json
import plistlib
import re
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import macho  # noqa: E402
import package  # noqa: E402
from layout import (ARCH_CPU, CHECK_MARKER, CHECK_SLICES, CHECK_VERSION_SUFFIX, FFI_MODULE,  # noqa: E402
                    FFI_NAMESPACE, GENERATED_SWIFT, HEADER, IMPLICIT_LIBRARIES, IMPLICIT_LIBRARY_PREFIXES,
                    LIBRARY, LOCAL_BINARY_TARGET_LINE, MODULEMAP, PACKAGE_NAME, PLATFORM_NAMES, PRODUCTS,
                    RELEASE_SLICES, SLICES, XCFRAMEWORK, slice_identifier)

SHOWN = 8  # offenders listed per problem


class Report:
    def __init__(self):
        self.results = []

    def add(self, name, problems, detail=""):
        self.results.append((name, list(problems), detail))

    @property
    def failed(self):
        return [name for name, problems, _ in self.results if problems]

    def print(self, out=sys.stdout):
        for name, problems, detail in self.results:
            line = f"{'ok  ' if not problems else 'FAIL'}  {name}"
            print(line + (f" ({detail})" if detail and not problems else ""), file=out)
            for problem in problems:
                print(f"        - {problem}", file=out)
        passed = len(self.results) - len(self.failed)
        print(f"validator: {passed} passed, {len(self.failed)} failed", file=out)


def some(items, n=SHOWN):
    items = sorted(items)
    return ", ".join(items[:n]) + (f", … ({len(items)} in all)" if len(items) > n else "")


# ---------------------------------------------------------------- header

def _strip_c(text):
    """The header without comments and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"\\\n", " ", text)
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("#"))


def header_functions(text):
    """Names of the functions a C header declares (not typedefs, not function pointers)."""
    body = _strip_c(text)
    statements, depth, current = [], 0, []
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == ";" and depth == 0:
            statements.append("".join(current))
            current = []
        else:
            current.append(ch)
    names = []
    for statement in statements:
        s = " ".join(statement.split())
        if not s or s.startswith("typedef") or "(" not in s:
            continue
        if re.match(r"^(struct|union|enum)\s+\w+\s*\{", s):
            continue
        head = s[:s.index("(")]
        match = re.search(r"([A-Za-z_]\w*)\s*$", head)
        if match:
            names.append(match.group(1))
    return names


def check_header_functions(functions):
    problems = []
    if not functions:
        problems.append(f"{HEADER} declares no function")
    prefix = re.compile(rf"^(ffi|uniffi)_{FFI_NAMESPACE}_")
    foreign = [f for f in functions if not prefix.match(f)]
    if foreign:
        problems.append(f"functions outside the crate's ffi_/uniffi_{FFI_NAMESPACE}_ namespace: {some(foreign)}")
    return problems


# ---------------------------------------------------------------- Info.plist + layout

REQUIRED_KEYS = ("LibraryIdentifier", "LibraryPath", "HeadersPath", "SupportedArchitectures", "SupportedPlatform")


def check_info_plist(root):
    """Returns (problems, {identifier: entry})."""
    problems, entries = [], {}
    path = root / "Info.plist"
    if not path.is_file():
        return [f"no {path.name} in {root.name}"], entries
    try:
        plist = plistlib.loads(path.read_bytes())
    except Exception as e:  # plistlib raises several types on bad input
        return [f"Info.plist is not a well-formed property list: {e}"], entries
    if not isinstance(plist, dict):
        return ["Info.plist is not a dictionary"], entries
    if plist.get("CFBundlePackageType") != "XFWK":
        problems.append(f"CFBundlePackageType is {plist.get('CFBundlePackageType')!r}, not 'XFWK'")
    if not isinstance(plist.get("XCFrameworkFormatVersion"), str) or not re.fullmatch(
            r"\d+\.\d+", plist.get("XCFrameworkFormatVersion", "")):
        problems.append(f"XCFrameworkFormatVersion {plist.get('XCFrameworkFormatVersion')!r} is not a version")
    libraries = plist.get("AvailableLibraries")
    if not isinstance(libraries, list) or not libraries:
        return problems + ["AvailableLibraries is missing or empty"], entries
    for i, entry in enumerate(libraries):
        if not isinstance(entry, dict):
            problems.append(f"AvailableLibraries[{i}] is not a dictionary")
            continue
        missing = [k for k in REQUIRED_KEYS if k not in entry]
        if missing:
            problems.append(f"AvailableLibraries[{i}] lacks {', '.join(missing)}")
            continue
        identifier = entry["LibraryIdentifier"]
        if identifier in entries:
            problems.append(f"LibraryIdentifier {identifier} listed twice")
        entries[identifier] = entry
        archs = entry["SupportedArchitectures"]
        if not isinstance(archs, list) or not archs or not all(isinstance(a, str) for a in archs):
            problems.append(f"{identifier}: SupportedArchitectures is not a list of names")
            continue
        variant = entry.get("SupportedPlatformVariant")
        if entry["SupportedPlatform"] != "ios":
            problems.append(f"{identifier}: SupportedPlatform {entry['SupportedPlatform']!r}, not 'ios'")
        if variant not in (None, "simulator"):
            problems.append(f"{identifier}: SupportedPlatformVariant {variant!r} (iOS has none or 'simulator')")
        if slice_identifier(archs, variant) != identifier:
            problems.append(f"{identifier}: its architectures {archs} and variant {variant!r} make the "
                            f"identifier {slice_identifier(archs, variant)}")
        for arch in archs:
            if arch not in ARCH_CPU:
                problems.append(f"{identifier}: unknown architecture {arch}")
        folder = root / identifier
        if not folder.is_dir():
            problems.append(f"{identifier}: no folder {identifier}/")
            continue
        if not (folder / entry["LibraryPath"]).is_file():
            problems.append(f"{identifier}: LibraryPath {entry['LibraryPath']} is not a file in {identifier}/")
        if "BinaryPath" in entry and not (folder / entry["BinaryPath"]).is_file():
            problems.append(f"{identifier}: BinaryPath {entry['BinaryPath']} is not a file in {identifier}/")
        if not (folder / entry["HeadersPath"]).is_dir():
            problems.append(f"{identifier}: HeadersPath {entry['HeadersPath']} is not a folder in {identifier}/")
    on_disk = {p.name for p in root.iterdir() if p.is_dir()}
    for extra in sorted(on_disk - set(entries)):
        problems.append(f"folder {extra}/ is in no AvailableLibraries entry")
    return problems, entries


def check_slices(root, entries, mode, version):
    problems = []
    expected = CHECK_SLICES if mode == "check" else RELEASE_SLICES
    if sorted(entries) != sorted(expected):
        problems.append(f"slices {sorted(entries)}, expected {sorted(expected)} for a {mode} build")
    for identifier, entry in entries.items():
        spec = SLICES.get(identifier)
        if spec is None:
            problems.append(f"{identifier} is not a slice this package ships")
            continue
        if tuple(sorted(entry["SupportedArchitectures"])) != tuple(sorted(spec["archs"])):
            problems.append(f"{identifier}: architectures {entry['SupportedArchitectures']}, "
                            f"expected {list(spec['archs'])}")
        if entry.get("LibraryPath") != LIBRARY:
            problems.append(f"{identifier}: LibraryPath {entry.get('LibraryPath')}, expected {LIBRARY}")
    marked = (root / CHECK_MARKER).exists()
    if mode == "check":
        if not marked:
            problems.append(f"a check build must carry {CHECK_MARKER}")
        if not version.endswith(CHECK_VERSION_SUFFIX):
            problems.append(f"a check build's version must end in {CHECK_VERSION_SUFFIX}: {version}")
    else:
        if marked:
            problems.append(f"{CHECK_MARKER} in a release build: this xcframework came from a check build")
        if CHECK_VERSION_SUFFIX in version:
            problems.append(f"a release version with the check suffix: {version}")
    return problems


def check_headers(folder, entry, header_text, modulemap_text):
    problems = []
    headers = folder / entry["HeadersPath"]
    header, modulemap = headers / HEADER, headers / MODULEMAP
    if not header.is_file():
        problems.append(f"no {entry['HeadersPath']}/{HEADER}")
    elif header.read_text() != header_text:
        problems.append(f"{HEADER} differs from the generated one")
    if not modulemap.is_file():
        problems.append(f"no {entry['HeadersPath']}/{MODULEMAP}")
    else:
        text = modulemap.read_text()
        if not re.search(rf"(^|\s)module\s+{FFI_MODULE}\s*\{{", text):
            problems.append(f"{MODULEMAP} declares no `module {FFI_MODULE}`")
        if not re.search(rf'header\s+"{re.escape(HEADER)}"', text):
            problems.append(f'{MODULEMAP} has no `header "{HEADER}"`')
        if modulemap_text is not None and text != modulemap_text:
            problems.append(f"{MODULEMAP} differs from the generated module map")
    extra = sorted(p.name for p in headers.iterdir() if p.name not in (HEADER, MODULEMAP)) if headers.is_dir() else []
    if extra:
        problems.append(f"unexpected files in {entry['HeadersPath']}/: {some(extra)}")
    return problems


# ---------------------------------------------------------------- static libraries

def prebuilt_objects(lib_dirs=(), archives=()):
    """sha256 of every object in what this build did not compile: the Rust
    toolchain's prebuilt rlibs (rustlib/<target>/lib) and prebuilt static
    libraries a build script links in (libwebrtc.a)."""
    hashes = set()
    paths = [rlib for lib_dir in lib_dirs for rlib in sorted(Path(lib_dir).glob("*.rlib"))] + [Path(a) for a in archives]
    for path in paths:
        for _cpu, _sub, thin in macho.thin_slices(path.read_bytes()):
            for member in macho.read_archive(thin):
                if member.name.endswith(".o"):
                    hashes.add(hashlib.sha256(member.data).hexdigest())
    return hashes


def library_objects(data):
    """{arch name: [(member name, MachObject or MachOError, sha256)]} of a (universal) static library."""
    by_arch = {}
    for cputype, _subtype, thin in macho.thin_slices(data):
        members = []
        for member in macho.read_archive(thin):
            try:
                obj = macho.parse_object(member.data)
            except macho.MachOError as e:
                obj = e
            members.append((member.name, obj, hashlib.sha256(member.data).hexdigest()))
        if cputype is None:
            cputypes = {o.cputype for _, o, _ in members if isinstance(o, macho.MachObject)}
            arch = "/".join(sorted(macho.CPU_NAMES.get(c, hex(c)) for c in cputypes)) or "unknown"
        else:
            arch = macho.CPU_NAMES.get(cputype, hex(cputype))
        if arch in by_arch:
            raise macho.MachOError(f"two slices for {arch} in a universal file")
        by_arch[arch] = members
    return by_arch


def check_objects(identifier, by_arch, deployment_target, toolchain):
    """Returns (problems, detail)."""
    spec = SLICES[identifier]
    problems = []
    target = macho.parse_version(deployment_target)
    if sorted(by_arch) != sorted(spec["archs"]):
        problems.append(f"architectures in the library: {sorted(by_arch)}, expected {list(spec['archs'])}")
    total = older = 0
    for arch, members in sorted(by_arch.items()):
        if not members:
            problems.append(f"{arch}: the archive holds no object")
        bad_format, wrong_cpu, not_object, wrong_platform, wrong_minos, no_platform = [], [], [], [], [], []
        for name, obj, digest in members:
            total += 1
            if isinstance(obj, macho.MachOError):
                bad_format.append(f"{name} ({obj})")
                continue
            if ARCH_CPU.get(arch) != obj.cputype:
                wrong_cpu.append(f"{name} ({macho.CPU_NAMES.get(obj.cputype, hex(obj.cputype))})")
            if obj.filetype != macho.MH_OBJECT:
                not_object.append(f"{name} (file type {obj.filetype})")
            found = macho.platform_of(obj)
            if found is None:
                no_platform.append(name)
                continue
            platform, minos = found
            if platform != spec["macho_platform"]:
                wrong_platform.append(f"{name} ({PLATFORM_NAMES.get(platform, platform)})")
            prebuilt = digest in toolchain
            if minos == target:
                continue
            if prebuilt and minos < target:
                older += 1  # prebuilt (rustc's std, libwebrtc): older links; ld warns only about newer
                continue
            wrong_minos.append(f"{name} ({macho.version_text(minos)}{', prebuilt' if prebuilt else ''})")
        expected_platform = PLATFORM_NAMES[spec["macho_platform"]]
        for label, items in (("not 64-bit Mach-O objects", bad_format),
                             (f"not {arch}", wrong_cpu),
                             ("not relocatable objects (MH_OBJECT)", not_object),
                             ("without a platform load command", no_platform),
                             (f"not built for {expected_platform}", wrong_platform),
                             (f"minimum OS not {deployment_target}", wrong_minos)):
            if items:
                problems.append(f"{arch}: {len(items)} member(s) {label}: {some(items)}")
    detail = f"{total} objects, minimum iOS {deployment_target}"
    if older:
        detail += f"; {older} prebuilt objects (Rust's std, …) older, which links"
    return problems, detail


def check_symbols(by_arch, functions):
    problems = []
    for arch, members in sorted(by_arch.items()):
        defined = set()
        for _name, obj, _digest in members:
            if isinstance(obj, macho.MachObject):
                defined |= obj.defined
        missing = [f for f in functions if "_" + f not in defined]
        if missing:
            problems.append(f"{arch}: {len(missing)} of the header's {len(functions)} functions not defined "
                            f"in the library: {some(missing)}")
    return problems


# ---------------------------------------------------------------- linker settings

def parse_native_static_libs(text):
    """(frameworks, libraries) from rustc's `native-static-libs: …` note(s)."""
    frameworks, libraries, unknown = set(), set(), []
    lines = [line.split("native-static-libs:", 1)[1] for line in text.splitlines() if "native-static-libs:" in line]
    if not lines:
        raise ValueError("no `native-static-libs:` line (was the staticlib built with --print native-static-libs?)")
    for line in lines:
        tokens = line.split()
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token in ("-framework", "-weak_framework") and i + 1 < len(tokens):
                frameworks.add(tokens[i + 1])
                i += 2
                continue
            if token.startswith("-l") and len(token) > 2:
                libraries.add(token[2:])
            else:
                unknown.append(token)
            i += 1
    if unknown:
        raise ValueError(f"tokens this reader does not know: {' '.join(unknown)}")
    return frameworks, libraries


def needed_by_app(frameworks, libraries):
    """What the app's link must be told: the implicit libraries left out."""
    libs = {lib for lib in libraries
            if lib not in IMPLICIT_LIBRARIES and not lib.startswith(IMPLICIT_LIBRARY_PREFIXES)}
    return set(frameworks), libs


def manifest_linker_settings(dump, target_name=PACKAGE_NAME):
    """(frameworks, libraries) a dump-package JSON lists for one target's linker."""
    frameworks, libraries = set(), set()
    for target in dump.get("targets", []):
        if target.get("name") != target_name:
            continue
        for setting in target.get("settings", []):
            if setting.get("tool") != "linker":
                continue
            kind = setting.get("kind")
            if isinstance(kind, dict):  # SwiftPM 5.9+: {"linkedFramework": {"_0": "X"}}
                for key, value in kind.items():
                    name = value.get("_0") if isinstance(value, dict) else value
                    if key == "linkedFramework":
                        frameworks.add(name)
                    elif key == "linkedLibrary":
                        libraries.add(name)
            else:  # older: {"name": "linkedFramework", "value": ["X"]}
                values = setting.get("value") or []
                if setting.get("name") == "linkedFramework":
                    frameworks.update(values)
                elif setting.get("name") == "linkedLibrary":
                    libraries.update(values)
    return frameworks, libraries


def check_linker(native_texts, dump):
    problems, needed_f, needed_l = [], set(), set()
    for label, text in native_texts:
        try:
            f, lib = parse_native_static_libs(text)
        except ValueError as e:
            problems.append(f"{label}: {e}")
            continue
        f, lib = needed_by_app(f, lib)
        needed_f |= f
        needed_l |= lib
    listed_f, listed_l = manifest_linker_settings(dump)
    missing_f, missing_l = sorted(needed_f - listed_f), sorted(needed_l - listed_l)
    if missing_f:
        problems.append(f"frameworks the library needs but {PACKAGE_NAME}'s linker settings lack: "
                        f"{', '.join(missing_f)} (add .linkedFramework(...) to coreLinkerSettings)")
    if missing_l:
        problems.append(f"libraries the library needs but {PACKAGE_NAME}'s linker settings lack: "
                        f"{', '.join(missing_l)} (add .linkedLibrary(...) to coreLinkerSettings)")
    detail = (f"needs {', '.join(sorted(needed_f)) or 'no framework'}; "
              f"{', '.join('-l' + x for x in sorted(needed_l)) or 'no extra library'}")
    extra = sorted((listed_f - needed_f) | {"-l" + x for x in listed_l - needed_l})
    if extra:
        detail += f"; also listed, not needed by this build: {', '.join(extra)}"
    return problems, detail


# ---------------------------------------------------------------- zip, checksum, manifest

def check_zip(zip_path, xcframework):
    problems = []
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        return [f"not a zip: {e}"]
    with archive:
        names = archive.namelist()
        expected = package.zip_entries(xcframework)
        tops = {n.split("/", 1)[0] for n in names}
        if tops != {XCFRAMEWORK}:
            problems.append(f"top-level entries {sorted(tops)}, expected only {XCFRAMEWORK}/")
        if sorted(names) != sorted(n for n, _ in expected):
            missing = {n for n, _ in expected} - set(names)
            extra = set(names) - {n for n, _ in expected}
            if missing:
                problems.append(f"missing from the zip: {some(missing)}")
            if extra:
                problems.append(f"in the zip, not in the xcframework: {some(extra)}")
        for name, path in expected:
            if path is not None and name in names and archive.read(name) != path.read_bytes():
                problems.append(f"{name} differs from the xcframework's file")
    with tempfile.TemporaryDirectory() as tmp:
        again = Path(tmp) / "again.zip"
        package.write_zip(xcframework, again)
        if again.read_bytes() != Path(zip_path).read_bytes():
            problems.append("zipping the same xcframework again gives other bytes (not deterministic)")
    return problems


def sha256_file(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_checksum(zip_path, swiftpm, sha256sum):
    problems = []
    ours = sha256_file(zip_path)
    for label, value in (("swift package compute-checksum", swiftpm), ("sha256sum", sha256sum)):
        value = (value or "").strip().lower()
        if not value:
            problems.append(f"no {label} result")
        elif value != ours:
            problems.append(f"{label} says {value}, the zip's sha256 is {ours}")
    return problems, ours


def check_manifest_text(manifest, template, url, checksum):
    problems = []
    m_lines, t_lines = manifest.split("\n"), template.split("\n")
    if len(m_lines) != len(t_lines):
        return [f"the manifest has {len(m_lines)} lines, the template {len(t_lines)}"]
    changed = [i for i, (a, b) in enumerate(zip(m_lines, t_lines)) if a != b]
    if len(changed) != 1 or t_lines[changed[0]].strip() != LOCAL_BINARY_TARGET_LINE:
        problems.append(f"lines other than the binaryTarget line differ from the template: "
                        f"{[i + 1 for i in changed]}")
    else:
        line = m_lines[changed[0]]
        wanted = f'.binaryTarget(name: "{FFI_MODULE}", url: "{url}", checksum: "{checksum}")'
        if wanted not in line:
            problems.append(f"the binaryTarget line is `{line.strip()}`, expected `{wanted}`")
    return problems


def _products(dump):
    return {p.get("name"): p for p in dump.get("products", [])}


def _targets(dump):
    return {t.get("name"): t for t in dump.get("targets", [])}


def check_dump_common(dump):
    problems = []
    if dump.get("name") != PACKAGE_NAME:
        problems.append(f"package name {dump.get('name')!r}, expected {PACKAGE_NAME}")
    products = _products(dump)
    for name in PRODUCTS:
        product = products.get(name)
        if product is None:
            problems.append(f"no product {name}")
        elif "library" not in (product.get("type") or {}):
            problems.append(f"product {name} is not a library")
    targets = _targets(dump)
    for name in PRODUCTS + (FFI_MODULE,):
        if name not in targets:
            problems.append(f"no target {name}")
    deps = [d for d in (targets.get(PACKAGE_NAME) or {}).get("dependencies", [])]
    if FFI_MODULE not in json.dumps(deps):
        problems.append(f"target {PACKAGE_NAME} does not depend on {FFI_MODULE}")
    return problems


def check_dump_apple(dump, url, checksum, deployment_target):
    problems = check_dump_common(dump)
    ffi = _targets(dump).get(FFI_MODULE) or {}
    if ffi.get("type") != "binary":
        problems.append(f"{FFI_MODULE} is a {ffi.get('type')!r} target, expected a binary one")
    if ffi.get("url") != url:
        problems.append(f"{FFI_MODULE} url {ffi.get('url')!r}, expected {url}")
    if ffi.get("checksum") != checksum:
        problems.append(f"{FFI_MODULE} checksum {ffi.get('checksum')!r}, the zip's is {checksum}")
    if ffi.get("path"):
        problems.append(f"{FFI_MODULE} still has a local path {ffi.get('path')!r}")
    ios = [p for p in dump.get("platforms", []) if p.get("platformName") == "ios"]
    if not ios:
        problems.append("no iOS platform in the manifest")
    elif macho.parse_version(ios[0].get("version", "0")) != macho.parse_version(deployment_target):
        problems.append(f"the manifest's iOS platform is {ios[0].get('version')}, the libraries are built for "
                        f"{deployment_target}")
    return problems


def check_sources(package_dir, manifest_text, generated_swift, apple_dir):
    problems = []
    pkg, apple = Path(package_dir), Path(apple_dir)
    if (pkg / "Package.swift").read_text() != manifest_text:
        problems.append("Package.swift differs from the release manifest")
    if not (pkg / "Sources/UTDStream" / GENERATED_SWIFT).is_file():
        problems.append(f"no Sources/UTDStream/{GENERATED_SWIFT}")
    elif (pkg / "Sources/UTDStream" / GENERATED_SWIFT).read_text() != Path(generated_swift).read_text():
        problems.append(f"Sources/UTDStream/{GENERATED_SWIFT} is not the generated bindings")
    for folder, pattern in (("Sources/UTDStream", "*.swift"), ("Sources/UTDStreamCallKit", "*.swift"),
                            ("Tests/UTDStreamTests", "*.swift")):
        want = {p.name: p for p in (apple / folder).glob(pattern)}
        if folder == "Sources/UTDStream":
            want.pop(GENERATED_SWIFT, None)  # compared above, against the bindings used
        have = {p.name: p for p in (pkg / folder).iterdir()} if (pkg / folder).is_dir() else {}
        if folder == "Sources/UTDStream":
            have.pop(GENERATED_SWIFT, None)
        if folder != "Tests/UTDStreamTests" and not want:
            problems.append(f"no *.swift in {apple / folder}")
        missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
        if missing:
            problems.append(f"{folder}: missing {some(missing)}")
        if extra:
            problems.append(f"{folder}: not in platforms/apple: {some(extra)}")
        changed = [n for n in set(want) & set(have) if want[n].read_bytes() != have[n].read_bytes()]
        if changed:
            problems.append(f"{folder}: differ from platforms/apple: {some(changed)}")
    return problems


CHECKSUM_LINE = re.compile(r"(checksum_\w+\(\)\s*!=\s*)\d+")


def check_bindings_equal(ios_dir, host_dir):
    """The iOS library's bindings vs the host's; checksum values may differ."""
    problems, notes = [], []
    for name in (GENERATED_SWIFT, HEADER, f"{FFI_MODULE}.modulemap"):
        a, b = Path(ios_dir) / name, Path(host_dir) / name
        if not a.is_file() or not b.is_file():
            problems.append(f"{name} missing in {'the iOS' if not a.is_file() else 'the host'} bindings")
            continue
        ta, tb = a.read_text(), b.read_text()
        if ta == tb:
            continue
        na, nb = CHECKSUM_LINE.sub(r"\1N", ta), CHECKSUM_LINE.sub(r"\1N", tb)
        if na == nb:
            diff = sum(1 for x, y in zip(ta.split("\n"), tb.split("\n")) if x != y)
            notes.append(f"{name}: {diff} checksum(s) differ")
        else:
            first = next(i for i, (x, y) in enumerate(zip(na.split("\n") + [""], nb.split("\n") + [""])) if x != y)
            problems.append(f"{name} differs beyond checksums (first at line {first + 1})")
    return problems, "; ".join(notes) or "identical"


# ---------------------------------------------------------------- main

def validate(args):
    report = Report()
    root = Path(args.xcframework)
    problems, entries = check_info_plist(root)
    report.add("info.plist", problems, f"{len(entries)} slice(s)")
    report.add(f"slices ({args.mode})", check_slices(root, entries, args.mode, args.version),
               ", ".join(sorted(entries)))

    header_text = Path(args.header).read_text()
    modulemap_text = Path(args.modulemap).read_text() if args.modulemap else None
    functions = header_functions(header_text)
    report.add("header functions", check_header_functions(functions), f"{len(functions)} functions")
    toolchain = prebuilt_objects(args.toolchain_lib or [], args.prebuilt_archive or [])
    for identifier, entry in sorted(entries.items()):
        folder = root / identifier
        report.add(f"headers {identifier}", check_headers(folder, entry, header_text, modulemap_text))
        if identifier not in SLICES or not (folder / entry["LibraryPath"]).is_file():
            report.add(f"objects {identifier}", [f"no library to read for {identifier}"])
            continue
        try:
            by_arch = library_objects((folder / entry["LibraryPath"]).read_bytes())
        except macho.MachOError as e:
            report.add(f"objects {identifier}", [f"{entry['LibraryPath']}: {e}"])
            continue
        problems, detail = check_objects(identifier, by_arch, args.deployment_target, toolchain)
        report.add(f"objects {identifier}", problems, detail)
        report.add(f"symbols {identifier}", check_symbols(by_arch, functions),
                   f"{len(functions)} header functions defined")

    dumps = {}
    for label, path in (("host", args.dump_host), ("apple", args.dump_apple)):
        if not path:
            continue
        try:
            dumps[label] = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            report.add(f"dump-package JSON ({label} branch)", [f"{path}: {e}"])
    dump_apple = dumps.get("apple")
    if args.native_static_libs:
        texts = [(Path(p).name, Path(p).read_text()) for p in args.native_static_libs]
        if dump_apple is None:
            report.add("linker settings", ["no --dump-apple to read the linker settings from"])
        else:
            problems, detail = check_linker(texts, dump_apple)
            report.add("linker settings", problems, detail)

    checksum = None
    if args.zip:
        report.add("zip", check_zip(args.zip, root), Path(args.zip).name)
        problems, checksum = check_checksum(args.zip, args.swiftpm_checksum, args.sha256sum)
        report.add("checksum", problems, checksum)
    if args.manifest:
        manifest_text = Path(args.manifest).read_text()
        report.add("release manifest", check_manifest_text(
            manifest_text, Path(args.template).read_text(), args.url, checksum or ""))
        if "host" in dumps:
            report.add("dump-package (host branch)", check_dump_common(dumps["host"]))
        if dump_apple is not None:
            report.add("dump-package (Apple branch)",
                       check_dump_apple(dump_apple, args.url, checksum or "", args.deployment_target))
        if args.package_dir:
            report.add("package sources", check_sources(args.package_dir, manifest_text, args.generated_swift,
                                                        args.apple_dir))
    if args.host_bindings:
        problems, detail = check_bindings_equal(args.ios_bindings, args.host_bindings)
        report.add("bindings from the iOS library = host bindings", problems, detail)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xcframework", required=True)
    parser.add_argument("--mode", choices=("check", "release"), required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--deployment-target", required=True)
    parser.add_argument("--header", required=True, help="the generated UTDStreamFFI.h the slices must carry")
    parser.add_argument("--modulemap", help="the generated module map the slices must carry")
    parser.add_argument("--toolchain-lib", action="append", help="a rustlib/<target>/lib folder (repeatable)")
    parser.add_argument("--prebuilt-archive", action="append",
                        help="a prebuilt static library linked into the core, e.g. libwebrtc.a (repeatable)")
    parser.add_argument("--native-static-libs", action="append", help="rustc's note, one file per target")
    parser.add_argument("--zip")
    parser.add_argument("--swiftpm-checksum")
    parser.add_argument("--sha256sum")
    parser.add_argument("--url")
    parser.add_argument("--manifest", help="the release Package.swift")
    parser.add_argument("--template", help="platforms/apple/Package.swift")
    parser.add_argument("--dump-host", help="dump-package JSON of the release manifest")
    parser.add_argument("--dump-apple", help="dump-package JSON of its Apple-branch copy")
    parser.add_argument("--package-dir")
    parser.add_argument("--generated-swift")
    parser.add_argument("--apple-dir", help="platforms/apple")
    parser.add_argument("--ios-bindings", help="bindings generated from the iOS library")
    parser.add_argument("--host-bindings", help="bindings/generated")
    args = parser.parse_args(argv)
    report = validate(args)
    report.print()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
