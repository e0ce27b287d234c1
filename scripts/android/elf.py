"""A minimal reader of ELF shared libraries: only what the AAR validator asks.

No pyelftools on these machines, and the validator must not depend on the
NDK's llvm-readelf (the --check build has no NDK), so this reads the few
structures by hand. It reads what Android's dynamic linker reads: the program
headers (PT_LOAD alignment, PT_DYNAMIC) and, through the dynamic segment, the
NEEDED list, version needs and text-relocation flags. Exported symbols come
from the .dynsym section (the loader uses the hash tables over the same
table; the section header is what every linker writes alongside).
"""

import struct
from dataclasses import dataclass, field

ET_DYN = 3
PT_LOAD = 1
PT_DYNAMIC = 2
SHT_DYNSYM = 11
SHN_UNDEF = 0

DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_STRSZ = 10
DT_SONAME = 14
DT_TEXTREL = 22
DT_FLAGS = 30
DF_TEXTREL = 0x4
DT_VERNEED = 0x6FFFFFFE
DT_VERNEEDNUM = 0x6FFFFFFF

STB_GLOBAL = 1
STB_WEAK = 2
STB_GNU_UNIQUE = 10
STV_DEFAULT = 0
STV_PROTECTED = 3


class ElfError(Exception):
    """The file is not an ELF this reader understands (or is truncated)."""


@dataclass
class Segment:
    type: int
    offset: int
    vaddr: int
    filesz: int
    align: int


@dataclass
class ElfInfo:
    elf_class: int  # 32 or 64
    machine: int  # e_machine
    type: int  # e_type
    segments: list = field(default_factory=list)
    needed: list = field(default_factory=list)
    soname: str = ""
    # (file, version name) pairs from DT_VERNEED, e.g. ("libc.so.6", "GLIBC_2.34").
    version_needs: list = field(default_factory=list)
    text_relocations: bool = False
    # Names of defined, exported (global/weak, default/protected) dynamic symbols.
    exported: set = field(default_factory=set)


def _cstr(data, offset):
    end = data.find(b"\0", offset)
    if end < 0:
        raise ElfError(f"unterminated string at offset {offset}")
    return data[offset:end].decode("utf-8", "replace")


def read(path):
    """Parses the ELF file at `path` into an ElfInfo."""
    with open(path, "rb") as f:
        data = f.read()
    return parse(data)


def parse(data):
    if len(data) < 52 or data[:4] != b"\x7fELF":
        raise ElfError("not an ELF file (bad magic)")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2):
        raise ElfError(f"unknown ELF class {ei_class}")
    if ei_data != 1:
        # Every Android ABI is little-endian.
        raise ElfError("big-endian ELF (no Android ABI is big-endian)")
    is64 = ei_class == 2
    try:
        if is64:
            (e_type, e_machine, _ver, _entry, e_phoff, e_shoff, _flags, _ehsize,
             e_phentsize, e_phnum, e_shentsize, e_shnum, _shstrndx) = struct.unpack_from(
                "<HHIQQQIHHHHHH", data, 16)
        else:
            (e_type, e_machine, _ver, _entry, e_phoff, e_shoff, _flags, _ehsize,
             e_phentsize, e_phnum, e_shentsize, e_shnum, _shstrndx) = struct.unpack_from(
                "<HHIIIIIHHHHHH", data, 16)
        info = ElfInfo(elf_class=64 if is64 else 32, machine=e_machine, type=e_type)
        _read_segments(data, info, is64, e_phoff, e_phentsize, e_phnum)
        _read_dynamic(data, info, is64)
        _read_dynsym(data, info, is64, e_shoff, e_shentsize, e_shnum)
    except struct.error as e:
        raise ElfError(f"truncated ELF: {e}") from e
    return info


def _read_segments(data, info, is64, phoff, phentsize, phnum):
    for i in range(phnum):
        at = phoff + i * phentsize
        if is64:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, p_align = struct.unpack_from(
                "<IIQQQQQQ", data, at)
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz, _memsz, _flags, p_align = struct.unpack_from(
                "<IIIIIIII", data, at)
        info.segments.append(Segment(p_type, p_offset, p_vaddr, p_filesz, p_align))


def _file_offset(info, vaddr):
    """Maps a virtual address to its file offset through the PT_LOAD segments."""
    for seg in info.segments:
        if seg.type == PT_LOAD and seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
            return vaddr - seg.vaddr + seg.offset
    raise ElfError(f"address {vaddr:#x} is in no PT_LOAD segment")


def _read_dynamic(data, info, is64):
    dynamic = [s for s in info.segments if s.type == PT_DYNAMIC]
    if not dynamic:
        raise ElfError("no PT_DYNAMIC segment (not a shared library)")
    seg = dynamic[0]
    entry, fmt = (16, "<qQ") if is64 else (8, "<iI")
    entries = []
    for at in range(seg.offset, seg.offset + seg.filesz, entry):
        tag, val = struct.unpack_from(fmt, data, at)
        if tag == DT_NULL:
            break
        entries.append((tag, val))
    tags = dict(entries)
    if DT_STRTAB not in tags:
        raise ElfError("dynamic segment has no DT_STRTAB")
    strtab = _file_offset(info, tags[DT_STRTAB])
    for tag, val in entries:
        if tag == DT_NEEDED:
            info.needed.append(_cstr(data, strtab + val))
        elif tag == DT_SONAME:
            info.soname = _cstr(data, strtab + val)
        elif tag == DT_TEXTREL:
            info.text_relocations = True
        elif tag == DT_FLAGS and val & DF_TEXTREL:
            info.text_relocations = True
    if DT_VERNEED in tags:
        at = _file_offset(info, tags[DT_VERNEED])
        for _ in range(tags.get(DT_VERNEEDNUM, 0)):
            _vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, at)
            file_name = _cstr(data, strtab + vn_file)
            aux = at + vn_aux
            for _ in range(vn_cnt):
                _hash, _flags, _other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
                info.version_needs.append((file_name, _cstr(data, strtab + vna_name)))
                aux += vna_next
            if vn_next == 0:
                break
            at += vn_next


def _read_dynsym(data, info, is64, shoff, shentsize, shnum):
    sections = []
    for i in range(shnum):
        at = shoff + i * shentsize
        if is64:
            _name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, _info, _align, sh_entsize = (
                struct.unpack_from("<IIQQQQIIQQ", data, at))
        else:
            _name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, _info, _align, sh_entsize = (
                struct.unpack_from("<IIIIIIIIII", data, at))
        sections.append((sh_type, sh_offset, sh_size, sh_link, sh_entsize))
    for sh_type, sh_offset, sh_size, sh_link, sh_entsize in sections:
        if sh_type != SHT_DYNSYM:
            continue
        strtab_offset = sections[sh_link][1]
        size = sh_entsize or (24 if is64 else 16)
        for at in range(sh_offset, sh_offset + sh_size, size):
            if is64:
                st_name, st_info, st_other, st_shndx, _value, _size = struct.unpack_from("<IBBHQQ", data, at)
            else:
                st_name, _value, _size, st_info, st_other, st_shndx = struct.unpack_from("<IIIBBH", data, at)
            binding, visibility = st_info >> 4, st_other & 3
            if (st_shndx != SHN_UNDEF and binding in (STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE)
                    and visibility in (STV_DEFAULT, STV_PROTECTED) and st_name):
                info.exported.add(_cstr(data, strtab_offset + st_name))
