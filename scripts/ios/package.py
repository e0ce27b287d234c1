#!/usr/bin/env python3
"""The release pieces of the Swift package: the zipped xcframework and its manifest.

  package.py zip --xcframework DIR --out ZIP
      A deterministic zip of the xcframework: entries sorted, every
      timestamp 1980-01-01, fixed permissions, the xcframework folder at the
      top (what SwiftPM's binaryTarget(url:checksum:) unpacks). The same
      folder always gives the same bytes, so the same checksum.

  package.py manifest --template platforms/apple/Package.swift --url URL
                      --checksum SHA256 --out Package.swift [--apple-branch OUT]
      The release Package.swift: the template with exactly its local
      binaryTarget line replaced by .binaryTarget(name:url:checksum:).
      --apple-branch also writes a copy whose `#if os(macOS) || os(iOS)` is
      `#if true`: on Linux `swift package dump-package` evaluates only the
      host branch, the copy makes it evaluate the Apple one.
"""

import argparse
import os
import stat
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layout import APPLE_CONDITION_LINE, FFI_MODULE, LOCAL_BINARY_TARGET_LINE  # noqa: E402

ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class PackageError(Exception):
    pass


def zip_entries(xcframework):
    """(archive name, path or None for a folder) for the xcframework, sorted."""
    root = Path(xcframework)
    top = root.name
    entries = [(top + "/", None)]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root)
        for name in dirnames:
            path = Path(dirpath) / name
            if path.is_symlink():
                raise PackageError(f"symlink in the xcframework: {path}")
            entries.append((f"{top}/{(rel / name).as_posix()}/", None))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                raise PackageError(f"not a regular file in the xcframework: {path}")
            entries.append((f"{top}/{(rel / name).as_posix()}", path))
    return sorted(entries, key=lambda e: e[0])


def write_zip(xcframework, out):
    entries = zip_entries(xcframework)
    tmp = Path(str(out) + ".partial")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.create_system = 3  # Unix, so the permissions below are read
            if path is None:
                info.external_attr = ((stat.S_IFDIR | 0o755) << 16) | 0x10
                archive.writestr(info, b"")
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes(), compresslevel=6)
    tmp.replace(out)


def release_manifest(template, url, checksum):
    if not url.startswith("https://"):
        raise PackageError(f"the binary target url must be https (SwiftPM refuses others): {url}")
    if len(checksum) != 64 or any(c not in "0123456789abcdef" for c in checksum):
        raise PackageError(f"not a sha256 checksum: {checksum!r}")
    lines = template.split("\n")
    hits = [i for i, line in enumerate(lines) if line.strip() == LOCAL_BINARY_TARGET_LINE]
    if len(hits) != 1:
        raise PackageError(f"the template must hold the line `{LOCAL_BINARY_TARGET_LINE}` exactly once "
                           f"(found {len(hits)})")
    indent = lines[hits[0]][:len(lines[hits[0]]) - len(lines[hits[0]].lstrip())]
    lines[hits[0]] = (f'{indent}let ffiTarget: Target = .binaryTarget(name: "{FFI_MODULE}", '
                      f'url: "{url}", checksum: "{checksum}")')
    return "\n".join(lines)


def apple_branch(manifest):
    lines = manifest.split("\n")
    hits = [i for i, line in enumerate(lines) if line.strip() == APPLE_CONDITION_LINE]
    if len(hits) != 1:
        raise PackageError(f"the manifest must hold `{APPLE_CONDITION_LINE}` exactly once (found {len(hits)})")
    lines[hits[0]] = "#if true // forced: evaluate the Apple branch off Apple platforms"
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    z = sub.add_parser("zip")
    z.add_argument("--xcframework", required=True)
    z.add_argument("--out", required=True)
    m = sub.add_parser("manifest")
    m.add_argument("--template", required=True)
    m.add_argument("--url", required=True)
    m.add_argument("--checksum", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--apple-branch")
    args = parser.parse_args(argv)
    try:
        if args.command == "zip":
            write_zip(args.xcframework, args.out)
            print(f"zip: {args.out} ({os.path.getsize(args.out)} bytes)")
        else:
            manifest = release_manifest(Path(args.template).read_text(), args.url, args.checksum)
            Path(args.out).write_text(manifest)
            if args.apple_branch:
                Path(args.apple_branch).parent.mkdir(parents=True, exist_ok=True)
                Path(args.apple_branch).write_text(apple_branch(manifest))
            print(f"manifest: {args.out}")
    except PackageError as e:
        print(f"package.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
