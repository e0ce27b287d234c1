"""A minimal reader of JVM class files: version, names and methods.

The AAR validator needs the class-file version of every class (it must match
the -jvm-target the AAR promises), the superclass chain of the manifest's
components, the `native` methods of the bindings (what JNA's direct mapping
binds to the .so) and their string constants (symbols looked up by name). javap would need one JVM start per class; this
reads the header and the method table directly.
"""

import struct
from dataclasses import dataclass, field

ACC_NATIVE = 0x0100

# Constant-pool tag -> size of its payload in bytes (Utf8 is variable).
_FIXED = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4,
          15: 3, 16: 2, 17: 4, 18: 4, 19: 2, 20: 2}


class ClassFileError(Exception):
    """Not a class file, or one this reader cannot walk."""


@dataclass
class ClassInfo:
    major: int
    minor: int
    name: str  # internal form: com/utdstream/sdk/UniffiLib
    super_name: str  # "" for java/lang/Object itself
    methods: list = field(default_factory=list)  # (access_flags, name, descriptor)
    strings: set = field(default_factory=set)  # the String constants (e.g. C symbol names looked up at run time)

    def native_methods(self):
        return [name for access, name, _ in self.methods if access & ACC_NATIVE]


def parse(data):
    if len(data) < 10 or data[:4] != b"\xca\xfe\xba\xbe":
        raise ClassFileError("bad magic (not a class file)")
    try:
        minor, major, count = struct.unpack_from(">HHH", data, 4)
        at = 10
        utf8, classes, strings = {}, {}, []
        index = 1
        while index < count:
            tag = data[at]
            at += 1
            if tag == 1:
                (length,) = struct.unpack_from(">H", data, at)
                # Modified UTF-8; names in practice are plain UTF-8.
                utf8[index] = data[at + 2:at + 2 + length].decode("utf-8", "replace")
                at += 2 + length
            elif tag in _FIXED:
                if tag == 7:
                    classes[index] = struct.unpack_from(">H", data, at)[0]
                elif tag == 8:
                    strings.append(struct.unpack_from(">H", data, at)[0])
                at += _FIXED[tag]
            else:
                raise ClassFileError(f"unknown constant-pool tag {tag}")
            # Long and Double take two slots.
            index += 2 if tag in (5, 6) else 1

        def class_name(i):
            return utf8.get(classes.get(i, 0), "") if i else ""

        _access, this_index, super_index, n_interfaces = struct.unpack_from(">HHHH", data, at)
        at += 8 + 2 * n_interfaces
        (n_fields,) = struct.unpack_from(">H", data, at)
        at = _skip_members(data, at + 2, n_fields)
        (n_methods,) = struct.unpack_from(">H", data, at)
        at += 2
        info = ClassInfo(major, minor, class_name(this_index), class_name(super_index),
                         strings={utf8.get(i, "") for i in strings})
        for _ in range(n_methods):
            access, name_index, desc_index, n_attrs = struct.unpack_from(">HHHH", data, at)
            info.methods.append((access, utf8.get(name_index, ""), utf8.get(desc_index, "")))
            at = _skip_attributes(data, at + 8, n_attrs)
    except (struct.error, IndexError) as e:
        raise ClassFileError(f"truncated class file: {e}") from e
    return info


def _skip_attributes(data, at, count):
    for _ in range(count):
        (length,) = struct.unpack_from(">I", data, at + 2)
        at += 6 + length
    return at


def _skip_members(data, at, count):
    for _ in range(count):
        (n_attrs,) = struct.unpack_from(">H", data, at + 6)
        at = _skip_attributes(data, at + 8, n_attrs)
    return at
