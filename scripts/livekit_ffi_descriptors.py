#!/usr/bin/env python3
"""Writes one protobuf FileDescriptorSet from the `*_pb2.py` modules of a livekit wheel.

Each generated module passes its serialized FileDescriptorProto to
`AddSerializedFile(b'...')`. This reads that bytes literal with `ast` (nothing is
imported or executed, so google.protobuf is not needed) and wraps every file as
field 1 of a FileDescriptorSet. build.rs feeds the set to prost-build, so the
Rust types come from what the pinned library ships and no .proto is committed.

Usage: livekit_ffi_descriptors.py <dir with *_pb2.py> <out file>
"""
import ast
import pathlib
import sys


def serialized_file(source: str, path: pathlib.Path) -> bytes:
    tree = ast.parse(source, filename=str(path))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "AddSerializedFile"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, bytes)
        ):
            return node.args[0].value
    raise SystemExit(f"{path}: no AddSerializedFile(b'...') call found")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    proto_dir, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    modules = sorted(proto_dir.glob("*_pb2.py"))
    if not modules:
        raise SystemExit(f"{proto_dir}: no *_pb2.py modules")
    descriptor_set = bytearray()
    for module in modules:
        file_proto = serialized_file(module.read_text(encoding="utf-8"), module)
        # FileDescriptorSet.file = 1, wire type 2 (length-delimited).
        descriptor_set += b"\x0a" + varint(len(file_proto)) + file_proto
    tmp = out.with_suffix(".partial")
    tmp.write_bytes(bytes(descriptor_set))
    tmp.replace(out)
    print(f"{out}: {len(modules)} files, {len(descriptor_set)} bytes")


if __name__ == "__main__":
    main()
