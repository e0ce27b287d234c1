"""A minimal reader of static libraries for Apple targets: only what the validator asks.

No Xcode tools (otool, nm, lipo) exist on these machines, so this reads the
few structures by hand:
  universal ("fat") files   the per-architecture slices lipo writes
  ar archives               BSD names (`#1/<len>`, what Apple's tools and
                            rustc write for Apple targets) and GNU names
                            (`/<offset>` into `//`); symbol tables skipped
  Mach-O 64 objects         CPU type, file type, the platform and minimum
                            OS version (LC_BUILD_VERSION or the older
                            LC_VERSION_MIN_*), and the symbol table (LC_SYMTAB)
"""

import struct
from dataclasses import dataclass, field

FAT_MAGIC = 0xCAFEBABE
FAT_MAGIC_64 = 0xCAFEBABF
MH_MAGIC_64 = 0xFEEDFACF
MH_MAGIC = 0xFEEDFACE
MH_OBJECT = 1

LC_SYMTAB = 0x2
LC_VERSION_MIN_MACOSX = 0x24
LC_VERSION_MIN_IPHONEOS = 0x25
LC_VERSION_MIN_TVOS = 0x2F
LC_VERSION_MIN_WATCHOS = 0x30
LC_BUILD_VERSION = 0x32

N_STAB = 0xE0
N_TYPE = 0x0E
N_EXT = 0x01
N_UNDF = 0x0
N_SECT = 0xE

CPU_TYPE_ARM64 = 0x0100000C
CPU_TYPE_X86_64 = 0x01000007
CPU_NAMES = {CPU_TYPE_ARM64: "arm64", CPU_TYPE_X86_64: "x86_64", 7: "i386", 12: "armv7",
             0x0200000C: "arm64_32"}

# The platform an LC_VERSION_MIN_* command means (mach-o/loader.h
# PLATFORM_*). LC_VERSION_MIN_IPHONEOS predates simulator platforms: the
# linker reads it as the simulator on x86_64 (resolved in `platform_of`).
VERSION_MIN_PLATFORM = {LC_VERSION_MIN_MACOSX: 1, LC_VERSION_MIN_IPHONEOS: 2,
                        LC_VERSION_MIN_TVOS: 3, LC_VERSION_MIN_WATCHOS: 4}

SYMDEF_NAMES = ("__.SYMDEF", "__.SYMDEF SORTED", "__.SYMDEF_64", "__.SYMDEF_64 SORTED", "/", "/SYM64/")


class MachOError(Exception):
    """The file is not what this reader understands (or is truncated)."""


@dataclass
class MachObject:
    cputype: int
    cpusubtype: int
    filetype: int
    # (platform, minos, load command) from each LC_BUILD_VERSION /
    # LC_VERSION_MIN_* command; minos as a (major, minor, patch) tuple.
    versions: list = field(default_factory=list)
    # Names (with Darwin's leading underscore) of symbols that are external
    # and defined in a section: what another object can link against.
    defined: set = field(default_factory=set)
    undefined: set = field(default_factory=set)


@dataclass
class Member:
    name: str
    data: bytes


def decode_version(value):
    """Mach-O's packed xxxx.yy.zz."""
    return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)


def encode_version(text):
    parts = [int(p) for p in text.split(".")] + [0, 0]
    return (parts[0] << 16) | (parts[1] << 8) | parts[2]


def version_text(version):
    major, minor, patch = version
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


def parse_version(text):
    return decode_version(encode_version(text))


def is_fat(data):
    return len(data) >= 8 and struct.unpack_from(">I", data, 0)[0] in (FAT_MAGIC, FAT_MAGIC_64)


def thin_slices(data):
    """[(cputype, cpusubtype, bytes)] of a universal file, or one entry for a
    thin archive/object (cputype None: read it from the members)."""
    if not is_fat(data):
        return [(None, None, data)]
    magic, count = struct.unpack_from(">II", data, 0)
    slices = []
    try:
        for i in range(count):
            if magic == FAT_MAGIC:
                cputype, subtype, offset, size, _align = struct.unpack_from(">iiIII", data, 8 + 20 * i)
            else:
                cputype, subtype, offset, size, _align, _reserved = struct.unpack_from(
                    ">iiQQII", data, 8 + 32 * i)
            if offset + size > len(data):
                raise MachOError(f"fat slice {i} runs past the end of the file")
            slices.append((cputype & 0xFFFFFFFF, subtype & 0xFFFFFFFF, data[offset:offset + size]))
    except struct.error as e:
        raise MachOError(f"truncated fat header: {e}") from e
    return slices


def read_archive(data):
    """The members of an ar archive, without its symbol table."""
    if not data.startswith(b"!<arch>\n"):
        raise MachOError("not an ar archive (bad magic)")
    members, at, long_names = [], 8, b""
    while at < len(data):
        if data[at:at + 1] == b"\n":  # padding between members
            at += 1
            continue
        header = data[at:at + 60]
        if len(header) < 60 or header[58:60] != b"`\n":
            raise MachOError(f"bad ar member header at offset {at}")
        raw_name = header[0:16].decode("ascii", "replace").rstrip(" ")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as e:
            raise MachOError(f"bad ar member size at offset {at}") from e
        body_at, end = at + 60, at + 60 + size
        if end > len(data):
            raise MachOError(f"ar member at offset {at} runs past the end of the archive")
        body = data[body_at:end]
        if raw_name.startswith("#1/"):
            # BSD: the name is the first <len> bytes of the body.
            name_len = int(raw_name[3:])
            name = body[:name_len].rstrip(b"\0").decode("utf-8", "replace")
            body = body[name_len:]
        elif raw_name == "//":
            long_names = body
            name = None
        elif raw_name.startswith("/") and raw_name[1:].isdigit():
            offset = int(raw_name[1:])
            stop = long_names.find(b"/\n", offset)
            name = long_names[offset:stop if stop >= 0 else None].decode("utf-8", "replace")
        else:
            name = raw_name[:-1] if raw_name.endswith("/") and raw_name not in ("/", "/SYM64/") else raw_name
        if name is not None and name not in SYMDEF_NAMES:
            members.append(Member(name, body))
        at = end + (size & 1)
    return members


def parse_object(data):
    """Parses a 64-bit little-endian Mach-O file into a MachObject."""
    if len(data) < 32:
        raise MachOError("too short for a Mach-O header")
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic == MH_MAGIC:
        raise MachOError("a 32-bit Mach-O (every shipped iOS slice is 64-bit)")
    if magic != MH_MAGIC_64:
        raise MachOError(f"not a 64-bit Mach-O (magic {magic:#x})")
    try:
        _m, cputype, cpusubtype, filetype, ncmds, _sizeofcmds, _flags, _reserved = struct.unpack_from(
            "<IiiIIIII", data, 0)
        obj = MachObject(cputype & 0xFFFFFFFF, cpusubtype & 0xFFFFFFFF, filetype)
        at = 32
        for _ in range(ncmds):
            cmd, cmdsize = struct.unpack_from("<II", data, at)
            if cmdsize < 8:
                raise MachOError(f"load command {cmd:#x} with size {cmdsize}")
            if cmd == LC_BUILD_VERSION:
                platform, minos = struct.unpack_from("<II", data, at + 8)
                obj.versions.append((platform, decode_version(minos), cmd))
            elif cmd in VERSION_MIN_PLATFORM:
                version = struct.unpack_from("<I", data, at + 8)[0]
                obj.versions.append((VERSION_MIN_PLATFORM[cmd], decode_version(version), cmd))
            elif cmd == LC_SYMTAB:
                symoff, nsyms, stroff, strsize = struct.unpack_from("<IIII", data, at + 8)
                _read_symbols(data, obj, symoff, nsyms, stroff, strsize)
            at += cmdsize
    except struct.error as e:
        raise MachOError(f"truncated Mach-O: {e}") from e
    return obj


def _read_symbols(data, obj, symoff, nsyms, stroff, strsize):
    strings = data[stroff:stroff + strsize]
    if len(strings) != strsize:
        raise MachOError("string table runs past the end of the file")
    for i in range(nsyms):
        n_strx, n_type, n_sect, _n_desc, _n_value = struct.unpack_from("<IBBHQ", data, symoff + 16 * i)
        if n_type & N_STAB or not n_type & N_EXT:
            continue
        end = strings.find(b"\0", n_strx)
        name = strings[n_strx:end if end >= 0 else None].decode("utf-8", "replace")
        kind = n_type & N_TYPE
        if kind == N_SECT and n_sect != 0:
            obj.defined.add(name)
        elif kind == N_UNDF:
            obj.undefined.add(name)


def platform_of(obj):
    """(platform, minos) of an object, with LC_VERSION_MIN_IPHONEOS on x86_64
    read as the simulator (as ld64 reads it); None without any version command."""
    if not obj.versions:
        return None
    platform, minos, cmd = obj.versions[0]
    if cmd == LC_VERSION_MIN_IPHONEOS and obj.cputype == CPU_TYPE_X86_64:
        # The command predates simulator platforms: an x86_64 "iPhoneOS"
        # object can only be a simulator one.
        platform = 7
    return platform, minos
