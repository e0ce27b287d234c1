#!/usr/bin/env python3
"""Assembles the AAR (a zip in the layout AGP consumes) from already-built parts.

  AndroidManifest.xml   the library manifest (merged into the host app's)
  classes.jar           bindings + platform layer, class files (the app dexes them)
  R.txt                 empty: the library has no resources
  proguard.txt          consumer rules, applied by R8 in the host app
  META-INF/com/android/build/gradle/aar-metadata.properties
                        lets AGP tell an app with too old a compileSdk why it fails
  jni/<abi>/*.so        release builds only
  CHECK-BUILD-NOT-FOR-SHIPPING.txt   check builds only (no native code)

Entries are sorted and time-stamped with a fixed date so the same inputs give
the same bytes (and so the same digests in the Maven metadata).

Usage: assemble_aar.py --out FILE --manifest FILE --classes FILE --proguard FILE
         --min-compile-sdk N (--jni-dir DIR | --check-build)
"""

import argparse
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layout import CHECK_MARKER  # noqa: E402

FIXED_TIME = (1980, 2, 1, 0, 0, 0)
CHECK_NOTE = """This AAR is a CHECK BUILD, made by scripts/package-android.sh --check on a
machine without an Android NDK. It has no native libraries (jni/), so the SDK
fails with UnsatisfiedLinkError on any device. It exists to prove that the
bindings and the platform layer compile, dex and package. Do not ship it:
build the real package with scripts/package-android.sh and ANDROID_NDK_HOME set.
"""


def entries(manifest, classes, proguard, min_compile_sdk, jni_dir=None, check_build=False):
    """The AAR's entries as {name: bytes}."""
    if check_build == (jni_dir is not None):
        raise ValueError("exactly one of jni_dir (release) or check_build")
    files = {
        "AndroidManifest.xml": Path(manifest).read_bytes(),
        "classes.jar": Path(classes).read_bytes(),
        "R.txt": b"",
        "proguard.txt": Path(proguard).read_bytes(),
        "META-INF/com/android/build/gradle/aar-metadata.properties":
            f"aarFormatVersion=1.0\naarMetadataVersion=1.0\nminCompileSdk={min_compile_sdk}\n".encode(),
    }
    if check_build:
        files[CHECK_MARKER] = CHECK_NOTE.encode()
    else:
        libraries = sorted(Path(jni_dir).glob("*/*.so"))
        if not libraries:
            raise ValueError(f"no <abi>/*.so under {jni_dir}")
        for library in libraries:
            files[f"jni/{library.parent.name}/{library.name}"] = library.read_bytes()
    return files


def write(out, files):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as aar:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            aar.writestr(info, files[name])
    partial.replace(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--classes", required=True)
    parser.add_argument("--proguard", required=True)
    parser.add_argument("--min-compile-sdk", type=int, required=True)
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--jni-dir")
    kind.add_argument("--check-build", action="store_true")
    args = parser.parse_args(argv)
    write(args.out, entries(args.manifest, args.classes, args.proguard, args.min_compile_sdk,
                            args.jni_dir, args.check_build))
    print(f"aar: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
