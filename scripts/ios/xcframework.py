#!/usr/bin/env python3
"""Lays out UTDStreamFFI.xcframework where `xcodebuild -create-xcframework` cannot run.

The check build (scripts/package-ios.sh --check) has no Xcode, so this writes
the layout xcodebuild writes for static libraries with headers:

  UTDStreamFFI.xcframework/
    Info.plist                 CFBundlePackageType XFWK, XCFrameworkFormatVersion,
                               one AvailableLibraries entry per slice
    <identifier>/              ios-arm64, ios-arm64_x86_64-simulator
      libutd_stream.a
      Headers/UTDStreamFFI.h
      Headers/module.modulemap (module UTDStreamFFI)
    NOT-FOR-SHIPPING.txt       check builds only

Usage: xcframework.py --out DIR --header H --modulemap M
                      --slice IDENTIFIER=LIBRARY [--slice …] [--check-build]
The release build uses xcodebuild itself; the validator reads both the same way.
"""

import argparse
import plistlib
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layout import CHECK_MARKER, HEADER, LIBRARY, MODULEMAP, SLICES  # noqa: E402

MARKER_TEXT = """This xcframework comes from scripts/package-ios.sh --check: built without Xcode
or an Apple SDK (C code compiled by zig against zig's bundled Darwin headers,
device slice only, debug profile, default features instead of `livekit`).
It exists to be validated. Do not ship it, link it into an app or publish it.
"""


def info_plist(identifiers):
    libraries = []
    for identifier in identifiers:
        spec = SLICES[identifier]
        entry = {
            "BinaryPath": LIBRARY,
            "HeadersPath": "Headers",
            "LibraryIdentifier": identifier,
            "LibraryPath": LIBRARY,
            "SupportedArchitectures": list(spec["archs"]),
            "SupportedPlatform": spec["platform"],
        }
        if spec["variant"]:
            entry["SupportedPlatformVariant"] = spec["variant"]
        libraries.append(entry)
    return {
        "AvailableLibraries": libraries,
        "CFBundlePackageType": "XFWK",
        "XCFrameworkFormatVersion": "1.0",
    }


def assemble(out, slices, header, modulemap, check_build):
    """slices: {identifier: path of the slice's static library}."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for identifier, library in slices.items():
        if identifier not in SLICES:
            raise SystemExit(f"unknown slice {identifier} (expected one of {', '.join(SLICES)})")
        headers = out / identifier / "Headers"
        headers.mkdir(parents=True)
        shutil.copyfile(library, out / identifier / LIBRARY)
        shutil.copyfile(header, headers / HEADER)
        shutil.copyfile(modulemap, headers / MODULEMAP)
    with open(out / "Info.plist", "wb") as f:
        plistlib.dump(info_plist(list(slices)), f, fmt=plistlib.FMT_XML, sort_keys=True)
    if check_build:
        (out / CHECK_MARKER).write_text(MARKER_TEXT)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--header", required=True)
    parser.add_argument("--modulemap", required=True)
    parser.add_argument("--slice", action="append", required=True, metavar="IDENTIFIER=LIBRARY")
    parser.add_argument("--check-build", action="store_true")
    args = parser.parse_args(argv)
    slices = {}
    for item in args.slice:
        identifier, _, library = item.partition("=")
        if not library:
            parser.error(f"--slice {item}: expected IDENTIFIER=LIBRARY")
        slices[identifier] = library
    assemble(args.out, slices, args.header, args.modulemap, args.check_build)
    print(f"xcframework: {args.out} ({', '.join(slices)})")


if __name__ == "__main__":
    main()
