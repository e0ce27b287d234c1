#!/usr/bin/env python3
"""Rewrites UniFFI's generated Kotlin bindings in place so a call into Rust costs
about a microsecond instead of tens of microseconds (docs/kotlin-call-cost.md).

Usage: scripts/kotlin_postprocess.py FILE.kt [FILE.kt ...]
       scripts/kotlin_postprocess.py --check FILE.kt ...   (exit 0 if already done)
(scripts/bindings.sh runs it on the desktop and the Android bindings.)

Why. UniFFI 0.32 already binds the library with JNA's direct mapping
(`Native.register` + `external fun`), so there is no Library proxy to remove.
What costs is JNA's `Structure`: every construction validates its fields by
reflection, allocates a `Memory` (malloc, a global ConcurrentHashMap entry and
a Cleaner phantom reference that the GC must process later) and every by-value
pass or return goes through reflective `read()`/`write()` and JNI upcalls. A
sync getter made three such calls (clone the handle, the method, free the
returned buffer), each with a fresh `UniffiRustCallStatus` Structure (which
holds a nested `RustBuffer` Structure), plus a `RustBuffer` Structure per
argument and per result: ~50 µs, where a plain direct-mapped call costs ~0.2 µs.

The rewrites (each one fails loudly when the code it expects is not there, so a
UniFFI upgrade that changes the template stops the build instead of silently
producing slow or broken bindings):

 1. `RustBuffer` (and `RustBuffer.ByValue` / `.ByReference`) become plain
    Kotlin classes with the same fields, so the FfiConverters, which use them
    everywhere, no longer build a Structure per value. `lowerIntoRustBuffer`
    set `len` through `Structure.writeField`; it now assigns the field.
 2. A JNA twin, `UniffiRustBufferStruct`, takes RustBuffer's place where JNA
    itself marshals one: arguments of Rust -> Kotlin callback methods (each
    implementation converts it to the plain class on entry, shadowing the
    parameter) and fields of C structs (the callbacks' `UniffiRustCallStatus`,
    whose `error_buf` becomes a property over the twin field, and the
    foreign-future result structs). These paths keep JNA's cost; they are not
    the Kotlin -> Rust call path.
 3. The call status of Kotlin -> Rust calls is `UniffiCallStatus`: a JNA
    `Pointer` to native memory taken from a small per-thread stack (calls nest:
    lowering a String argument calls `rustbuffer_alloc` while the outer call's
    status is held, and a Rust callback may call back into Rust), reset to
    success before each call and read through a direct ByteBuffer. The helpers
    `uniffiRustCall*`, `uniffiCheckCallStatus`, `uniffiRustCallAsync` and every
    `external fun`'s `uniffi_out_err` parameter take it instead of a fresh
    `UniffiRustCallStatus` Structure. Direct mapping passes a Pointer as a raw
    address: the primitive-only functions (handle clone/free, async polls...)
    stay `external fun`s, now without any Structure.
 4. Every `external fun` that passes or returns a RustBuffer (or ForeignBytes)
    by value becomes a Kotlin `fun` of the same name and signature that calls
    the C symbol through libffi with JNA's public `Native.ffi_prep_cif` /
    `Native.ffi_call`: arguments are written into a per-thread native frame,
    the cif (prepared once per function, on first use, with the C layout
    measured through JNA's own struct layout, so 32-bit ABIs work too) does the
    by-value struct passing exactly as the C ABI wants, and the result is read
    back from the frame. One JNI call, no Structure, no reflection. Call sites
    are untouched.
 5. `FfiConverterString.toUtf8` (every String argument and every String
    inside a lowered record) ran UTF-16 -> UTF-8 through a new strict
    CharsetEncoder over a CharBuffer view: 0.5-3 µs for 30-200 chars. A string
    without surrogates now goes through `String.toByteArray(UTF_8)`, which
    gives exactly the same bytes; a string with surrogates still takes the
    strict encoder, so a lone surrogate is still rejected as before.
 6. A marker comment: a file that carries it is left as it is (running the
    script twice is a no-op), after the post-conditions are checked again.

Post-conditions checked on the result: no `external fun` mentions RustBuffer,
ForeignBytes or UniffiRustCallStatus; no JNA Callback method or Structure field
uses the plain RustBuffer; no `UniffiRustCallStatus()` is built on the call
path. Pure JNA + Kotlin stdlib + java.nio: the Android variant (compiled
against android-all, shipped with JNA 5.17 in the AAR) gets the same rewrites.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MARKER = "// utd-stream: post-processed by scripts/kotlin_postprocess.py (call-cost rewrites v2)"
TWIN = "UniffiRustBufferStruct"
PLAIN_RB = re.compile(r"(?<![\w.])RustBuffer\.ByValue\b")


class PostProcessError(Exception):
    pass


def replace_once(text: str, old: str, new: str, what: str) -> str:
    count = text.count(old)
    if count != 1:
        raise PostProcessError(f"{what}: expected the generated code once, found it {count} times:\n{old}")
    return text.replace(old, new)


def sub_count(pattern: str, repl, text: str, what: str, expect_min: int = 1, flags: int = 0) -> str:
    new, n = re.subn(pattern, repl, text, flags=flags)
    if n < expect_min:
        raise PostProcessError(f"{what}: pattern not found (/{pattern}/, {n} matches, wanted >= {expect_min})")
    return new


# --- 1. RustBuffer becomes a plain class -------------------------------------

def rewrite_rust_buffer(text: str) -> str:
    text = replace_once(
        text,
        '@Structure.FieldOrder("capacity", "len", "data")\nopen class RustBuffer : Structure() {\n',
        "open class RustBuffer {\n",
        "RustBuffer class header",
    )
    text = replace_once(
        text,
        "    class ByValue: RustBuffer(), Structure.ByValue\n"
        "    class ByReference: RustBuffer(), Structure.ByReference\n",
        "    class ByValue: RustBuffer()\n"
        "    class ByReference: RustBuffer()\n",
        "RustBuffer.ByValue / ByReference",
    )
    text = replace_once(
        text,
        'rbuf.writeField("len", bbuf.position().toLong())',
        "rbuf.len = bbuf.position().toLong()",
        "lowerIntoRustBuffer's Structure.writeField",
    )
    return text


# --- 2. the JNA twin where JNA marshals a RustBuffer ---------------------------

def rewrite_callback_status_struct(text: str) -> str:
    return replace_once(
        text,
        '@Structure.FieldOrder("code", "error_buf")\n'
        "internal open class UniffiRustCallStatus : Structure() {\n"
        "    @JvmField var code: Byte = 0\n"
        "    @JvmField var error_buf: RustBuffer.ByValue = RustBuffer.ByValue()\n",
        '@Structure.FieldOrder("code", "errorBufStruct")\n'
        "internal open class UniffiRustCallStatus : Structure() {\n"
        "    @JvmField var code: Byte = 0\n"
        f"    @JvmField var errorBufStruct: {TWIN}.ByValue = {TWIN}.ByValue()\n"
        "    // The plain RustBuffer the generated code reads and assigns (post-processed).\n"
        "    var error_buf: RustBuffer.ByValue\n"
        "        get() = errorBufStruct.toRustBuffer()\n"
        "        set(value) { errorBufStruct.setValue(value) }\n",
        "UniffiRustCallStatus (the callbacks' status struct)",
    )


def rewrite_struct_fields(text: str) -> str:
    """RustBuffer-typed fields of the other C structs (foreign-future results)."""
    lines = text.split("\n")
    out = []
    in_struct = False
    skip = False
    changed = 0
    for i, line in enumerate(lines):
        if line.startswith("@Structure.FieldOrder("):
            in_struct = True
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            skip = bool(re.search(r"class (UniffiRustCallStatus|" + TWIN + r")\b", nxt))
        elif in_struct and line == "}":
            in_struct = False
        if in_struct and not skip and PLAIN_RB.search(line):
            line = PLAIN_RB.sub(f"{TWIN}.ByValue", line)
            changed += 1
        out.append(line)
    if changed == 0:
        raise PostProcessError("foreign-future result structs: no RustBuffer field found (UniffiForeignFutureResultRustBuffer)")
    return "\n".join(out)


def rewrite_callbacks(text: str) -> str:
    """JNA Callback methods taking a RustBuffer by value get the JNA twin; the
    implementations convert it to the plain class first thing."""
    lines = text.split("\n")
    out = []
    decls = impls = 0
    for line in lines:
        m = re.match(r"^(\s*)(override )?fun callback\(", line)
        if m and PLAIN_RB.search(line):
            names = re.findall(r"`(\w+)`: RustBuffer\.ByValue\b", line)
            if not names or len(names) != len(PLAIN_RB.findall(line)):
                raise PostProcessError(f"callback with an unnamed RustBuffer parameter: {line.strip()}")
            line = PLAIN_RB.sub(f"{TWIN}.ByValue", line)
            out.append(line)
            if m.group(2):
                if not line.rstrip().endswith("{"):
                    raise PostProcessError(f"callback implementation does not open its body on the same line: {line.strip()}")
                indent = m.group(1) + "    "
                for name in names:
                    out.append(f"{indent}val `{name}` = `{name}`.toRustBuffer() // post-processed: JNA twin -> plain RustBuffer")
                impls += 1
            else:
                decls += 1
            continue
        out.append(line)
    if decls == 0 or impls == 0:
        raise PostProcessError(f"callbacks taking a RustBuffer: found {decls} declarations and {impls} implementations")
    if decls != impls:
        raise PostProcessError(f"callbacks taking a RustBuffer: {decls} declarations but {impls} implementations")
    return "\n".join(out)


# --- 3. the call status of Kotlin -> Rust calls --------------------------------

def rewrite_call_status(text: str) -> str:
    text = replace_once(
        text,
        "private inline fun <U, E: kotlin.Exception> uniffiRustCallWithError(errorHandler: UniffiRustCallStatusErrorHandler<E>, callback: (UniffiRustCallStatus) -> U): U {\n"
        "    var status = UniffiRustCallStatus()\n"
        "    val return_value = callback(status)\n"
        "    uniffiCheckCallStatus(errorHandler, status)\n"
        "    return return_value\n"
        "}\n",
        "private inline fun <U, E: kotlin.Exception> uniffiRustCallWithError(errorHandler: UniffiRustCallStatusErrorHandler<E>, callback: (UniffiCallStatus) -> U): U {\n"
        "    // Post-processed: a pooled native status instead of a new JNA Structure per call.\n"
        "    val arena = UniffiCallArena.current()\n"
        "    val status = arena.acquireStatus()\n"
        "    try {\n"
        "        val return_value = callback(status)\n"
        "        uniffiCheckCallStatus(errorHandler, status)\n"
        "        return return_value\n"
        "    } finally {\n"
        "        arena.releaseStatus()\n"
        "    }\n"
        "}\n",
        "uniffiRustCallWithError",
    )
    text = replace_once(
        text,
        "private fun<E: kotlin.Exception> uniffiCheckCallStatus(errorHandler: UniffiRustCallStatusErrorHandler<E>, status: UniffiRustCallStatus) {",
        "private fun<E: kotlin.Exception> uniffiCheckCallStatus(errorHandler: UniffiRustCallStatusErrorHandler<E>, status: UniffiCallStatus) {",
        "uniffiCheckCallStatus",
    )
    text = replace_once(
        text,
        "private inline fun <U> uniffiRustCall(callback: (UniffiRustCallStatus) -> U): U {",
        "private inline fun <U> uniffiRustCall(callback: (UniffiCallStatus) -> U): U {",
        "uniffiRustCall",
    )
    text = replace_once(
        text,
        "    completeFunc: (Long, UniffiRustCallStatus) -> F,\n",
        "    completeFunc: (Long, UniffiCallStatus) -> F,\n",
        "uniffiRustCallAsync's completeFunc",
    )
    text = sub_count(
        r"\buniffi_out_err: UniffiRustCallStatus\b",
        "uniffi_out_err: UniffiCallStatus",
        text,
        "external funs' uniffi_out_err parameter",
    )
    return text


# --- 5. String -> UTF-8 without a CharsetEncoder when it cannot fail ------------

def rewrite_string_encoding(text: str) -> str:
    return replace_once(
        text,
        "    fun toUtf8(value: String): ByteBuffer {\n"
        "        // Make sure we don't have invalid UTF-16, check for lone surrogates.\n"
        "        return Charsets.UTF_8.newEncoder().run {\n",
        "    fun toUtf8(value: String): ByteBuffer {\n"
        "        // Post-processed: without surrogates String.toByteArray gives the same\n"
        "        // bytes as the strict encoder below, without building one per call.\n"
        "        for (i in 0 until value.length) {\n"
        "            if (Character.isSurrogate(value[i])) return toUtf8Strict(value)\n"
        "        }\n"
        "        return ByteBuffer.wrap(value.toByteArray(Charsets.UTF_8))\n"
        "    }\n"
        "\n"
        "    private fun toUtf8Strict(value: String): ByteBuffer {\n"
        "        // Make sure we don't have invalid UTF-16, check for lone surrogates.\n"
        "        return Charsets.UTF_8.newEncoder().run {\n",
        "FfiConverterString.toUtf8",
    )


# --- 4. by-value RustBuffer functions through libffi ---------------------------

KINDS = {
    "Byte": ("I8", "putByte", "returnByte()"),
    "Short": ("I16", "putShort", "returnShort()"),
    "Int": ("I32", "putInt", "returnInt()"),
    "Long": ("I64", "putLong", "returnLong()"),
    "Float": ("F32", "putFloat", "returnFloat()"),
    "Double": ("F64", "putDouble", "returnDouble()"),
    "UniffiCallStatus": ("POINTER", "putStatus", None),
    "RustBuffer.ByValue": ("RUST_BUFFER", "putRustBuffer", "returnRustBuffer()"),
    "ForeignBytes.ByValue": ("FOREIGN_BYTES", "putForeignBytes", None),
}

EXTERNAL = re.compile(r"^    external fun (\w+)\(([^)]*)\n    \): ([\w.]+)\n", re.M)


def lib_object_span(text: str) -> tuple[int, int]:
    start = text.find("\ninternal object UniffiLib {\n")
    if start < 0:
        raise PostProcessError("internal object UniffiLib not found")
    end = text.find("\n}\n", start)
    if end < 0:
        raise PostProcessError("end of internal object UniffiLib not found")
    return start, end


def parse_params(raw: str, name: str) -> list[tuple[str, str]]:
    params = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(`?\w+`?)\s*:\s*([\w.]+)", part)
        if not m:
            raise PostProcessError(f"{name}: cannot parse parameter '{part}'")
        params.append((m.group(1), m.group(2)))
    return params


def rewrite_by_value_functions(text: str) -> tuple[str, list[str], int]:
    start, end = lib_object_span(text)
    body = text[start:end]
    descriptors = []
    max_args = 0

    def emit(m: re.Match) -> str:
        nonlocal max_args
        name, raw, ret = m.group(1), m.group(2), m.group(3)
        signature = raw + " " + ret
        if "RustBuffer" not in signature and "ForeignBytes" not in signature:
            return m.group(0)
        params = parse_params(raw, name)
        if ret != "Unit" and ret not in KINDS or ret in ("UniffiCallStatus", "ForeignBytes.ByValue"):
            raise PostProcessError(f"{name}: unsupported return type {ret} for the libffi path")
        kinds = []
        puts = []
        for i, (pname, ptype) in enumerate(params):
            if ptype not in KINDS:
                raise PostProcessError(f"{name}: unsupported parameter type {ptype} for the libffi path")
            kind, put, _ = KINDS[ptype]
            kinds.append(f"UniffiFfi.{kind}")
            puts.append(f"            uniffiFrame.{put}({i}, {pname})")
        max_args = max(max_args, len(params))
        ret_kind = "UniffiFfi.VOID" if ret == "Unit" else f"UniffiFfi.{KINDS[ret][0]}"
        descriptors.append(
            f'    @JvmField val {name} = UniffiFfiFunction("{name}", {ret_kind}, intArrayOf({", ".join(kinds)}))'
        )
        call = f"            uniffiFrame.call(UniffiLibFfi.{name})"
        result = [] if ret == "Unit" else [f"            return uniffiFrame.{KINDS[ret][2]}"]
        sig_params = "".join(f"{p}: {t}," for p, t in params)
        return "\n".join(
            [
                f"    // Post-processed: by-value RustBuffer through libffi (was an external fun).",
                f"    fun {name}({sig_params}",
                f"    ): {ret} {{",
                "        val uniffiFrame = UniffiFfiFrame.acquire()",
                "        try {",
                *puts,
                call,
                *result,
                "        } finally {",
                "            uniffiFrame.release()",
                "        }",
                "    }",
                "",
            ]
        )

    new_body = EXTERNAL.sub(emit, body)
    if not descriptors:
        raise PostProcessError("no external fun passing a RustBuffer by value found in UniffiLib")
    return text[:start] + new_body + text[end:], descriptors, max_args


# --- the Kotlin runtime the rewrites use --------------------------------------

RUNTIME = r'''
// ---------------------------------------------------------------------------
// Added by scripts/kotlin_postprocess.py (see its header comment and
// docs/kotlin-call-cost.md): the Kotlin -> Rust call path without JNA
// Structures. Pure JNA (public API) + java.nio.
// ---------------------------------------------------------------------------

/**
 * JNA's view of a RustBuffer, only where JNA itself marshals one: arguments of
 * Rust -> Kotlin callback methods and fields of C structs. Everywhere else a
 * RustBuffer is the plain [RustBuffer] class.
 *
 * @suppress
 */
@Structure.FieldOrder("capacity", "len", "data")
internal open class UniffiRustBufferStruct : Structure() {
    @JvmField var capacity: Long = 0
    @JvmField var len: Long = 0
    @JvmField var data: Pointer? = null

    class ByValue : UniffiRustBufferStruct(), Structure.ByValue
    class ByReference : UniffiRustBufferStruct(), Structure.ByReference

    internal fun toRustBuffer(): RustBuffer.ByValue {
        val buf = RustBuffer.ByValue()
        buf.capacity = capacity
        buf.len = len
        buf.data = data
        return buf
    }

    internal fun setValue(other: RustBuffer) {
        capacity = other.capacity
        len = other.len
        data = other.data
    }
}

// C layout probes: JNA lays these out as the platform's C compiler would, so
// their sizes give the alignment of 64-bit integers and doubles inside structs
// (4 on 32-bit x86, 8 elsewhere), which is also what libffi's own types use.
@Structure.FieldOrder("b", "l")
internal open class UniffiAlignProbeI64 : Structure() {
    @JvmField var b: Byte = 0
    @JvmField var l: Long = 0
}

@Structure.FieldOrder("b", "d")
internal open class UniffiAlignProbeF64 : Structure() {
    @JvmField var b: Byte = 0
    @JvmField var d: Double = 0.0
}

/**
 * libffi types and C layouts for the calls made through `Native.ffi_call`.
 *
 * @suppress
 */
internal object UniffiFfi {
    // Kinds of arguments and results (indexes into `types`).
    const val VOID = 0
    const val I8 = 1
    const val I16 = 2
    const val I32 = 3
    const val I64 = 4
    const val F32 = 5
    const val F64 = 6
    const val POINTER = 7
    const val RUST_BUFFER = 8
    const val FOREIGN_BYTES = 9

    // libffi's FFI_TYPE_* codes (ffi.h; stable across libffi releases).
    private const val FFI_TYPE_VOID = 0
    private const val FFI_TYPE_FLOAT = 2
    private const val FFI_TYPE_DOUBLE = 3
    private const val FFI_TYPE_SINT8 = 6
    private const val FFI_TYPE_SINT16 = 8
    private const val FFI_TYPE_SINT32 = 10
    private const val FFI_TYPE_SINT64 = 12
    private const val FFI_TYPE_STRUCT = 13
    private const val FFI_TYPE_POINTER = 14

    @JvmField val POINTER_SIZE: Int = Native.POINTER_SIZE
    private val SIZE_T_SIZE: Int = Native.SIZE_T_SIZE
    private val ALIGN_I64: Int = UniffiAlignProbeI64().size() - 8
    private val ALIGN_F64: Int = UniffiAlignProbeF64().size() - 8

    // RustBuffer { u64 capacity; u64 len; u8 *data }: capacity at 0, len at 8,
    // data at 16 on every target.
    @JvmField val RUST_BUFFER_ALIGN: Int = maxOf(ALIGN_I64, POINTER_SIZE)
    @JvmField val RUST_BUFFER_SIZE: Int = alignUp(16 + POINTER_SIZE, RUST_BUFFER_ALIGN)
    // ForeignBytes { i32 len; u8 *data }
    @JvmField val FOREIGN_BYTES_DATA_OFFSET: Int = alignUp(4, POINTER_SIZE)
    // RustCallStatus { i8 code; RustBuffer error_buf }
    @JvmField val STATUS_ERROR_BUF_OFFSET: Int = alignUp(1, RUST_BUFFER_ALIGN)
    @JvmField val STATUS_SIZE: Int = alignUp(STATUS_ERROR_BUF_OFFSET + RUST_BUFFER_SIZE, RUST_BUFFER_ALIGN)
    // One argument slot holds the largest by-value argument.
    @JvmField val SLOT_SIZE: Int = alignUp(maxOf(RUST_BUFFER_SIZE, 16), 16)

    // The ffi_type structs live as long as the process (libffi's cifs point at them).
    private val keepAlive = ArrayList<com.sun.jna.Memory>()
    private val types = LongArray(10)

    init {
        types[VOID] = newType(1, 1, FFI_TYPE_VOID)
        types[I8] = newType(1, 1, FFI_TYPE_SINT8)
        types[I16] = newType(2, 2, FFI_TYPE_SINT16)
        types[I32] = newType(4, 4, FFI_TYPE_SINT32)
        types[I64] = newType(8, ALIGN_I64, FFI_TYPE_SINT64)
        types[F32] = newType(4, 4, FFI_TYPE_FLOAT)
        types[F64] = newType(8, ALIGN_F64, FFI_TYPE_DOUBLE)
        types[POINTER] = newType(POINTER_SIZE, POINTER_SIZE, FFI_TYPE_POINTER)
        // Size and alignment 0: ffi_prep_cif computes them from the elements.
        types[RUST_BUFFER] = newType(0, 0, FFI_TYPE_STRUCT, intArrayOf(I64, I64, POINTER))
        types[FOREIGN_BYTES] = newType(0, 0, FFI_TYPE_STRUCT, intArrayOf(I32, POINTER))
    }

    fun alignUp(value: Int, alignment: Int): Int = (value + alignment - 1) / alignment * alignment

    fun type(kind: Int): Long = types[kind]

    // struct ffi_type { size_t size; unsigned short alignment; unsigned short type; ffi_type **elements; }
    private fun newType(size: Int, alignment: Int, code: Int, elements: IntArray? = null): Long {
        val elementsOffset = alignUp(SIZE_T_SIZE + 4, POINTER_SIZE)
        val type = com.sun.jna.Memory((elementsOffset + POINTER_SIZE).toLong())
        type.clear()
        if (SIZE_T_SIZE == 8) type.setLong(0, size.toLong()) else type.setInt(0, size)
        type.setShort(SIZE_T_SIZE.toLong(), alignment.toShort())
        type.setShort(SIZE_T_SIZE + 2L, code.toShort())
        if (elements != null) {
            val list = com.sun.jna.Memory(((elements.size + 1) * POINTER_SIZE).toLong())
            list.clear()
            elements.forEachIndexed { i, kind -> list.setPointer(i.toLong() * POINTER_SIZE, Pointer(types[kind])) }
            keepAlive += list
            type.setPointer(elementsOffset.toLong(), list)
        }
        keepAlive += type
        return Pointer.nativeValue(type)
    }

    /** The size libffi computed for a struct kind (after a cif used it). */
    fun computedSize(kind: Int): Long {
        val p = Pointer(types[kind])
        return if (SIZE_T_SIZE == 8) p.getLong(0) else p.getInt(0).toLong()
    }

    internal val library: com.sun.jna.NativeLibrary by lazy {
        // The same instance (name and options) Native.register bound UniffiLib to.
        com.sun.jna.NativeLibrary.getInstance(
            @LIBRARY_NAME@,
            java.util.Collections.singletonMap(Library.OPTION_CLASSLOADER, UniffiLib::class.java.classLoader),
        )
    }
}

/**
 * One C function called through libffi: its cif is prepared on first use.
 *
 * @suppress
 */
internal class UniffiFfiFunction(private val name: String, private val returns: Int, private val args: IntArray) {
    private class Prepared(val cif: Long, val fptr: Long, val argTypes: com.sun.jna.Memory?, val function: com.sun.jna.Function)

    @Volatile private var prepared: Prepared? = null

    fun invoke(frame: UniffiFfiFrame) {
        val p = prepared ?: prepare()
        Native.ffi_call(p.cif, p.fptr, frame.returnAddress, frame.argvAddress)
    }

    @Synchronized
    private fun prepare(): Prepared {
        prepared?.let { return it }
        require(args.size <= UniffiFfiFrame.MAX_ARGS) { "$name: ${args.size} arguments, the frame holds ${UniffiFfiFrame.MAX_ARGS}" }
        val function = UniffiFfi.library.getFunction(name)
        val argTypes: com.sun.jna.Memory? =
            if (args.isEmpty()) null else com.sun.jna.Memory((args.size * UniffiFfi.POINTER_SIZE).toLong())
        for (i in args.indices) argTypes!!.setPointer(i.toLong() * UniffiFfi.POINTER_SIZE, Pointer(UniffiFfi.type(args[i])))
        val cif = Native.ffi_prep_cif(0, args.size, UniffiFfi.type(returns), Pointer.nativeValue(argTypes))
        if (cif == 0L) throw IllegalStateException("ffi_prep_cif failed for $name")
        // The frame's layout and libffi's must agree.
        for (kind in intArrayOf(returns, *args)) {
            if (kind == UniffiFfi.RUST_BUFFER && UniffiFfi.computedSize(kind) != UniffiFfi.RUST_BUFFER_SIZE.toLong()) {
                throw IllegalStateException("RustBuffer is ${UniffiFfi.computedSize(kind)} bytes for libffi, ${UniffiFfi.RUST_BUFFER_SIZE} for the bindings")
            }
        }
        return Prepared(cif, Pointer.nativeValue(function), argTypes, function).also { prepared = it }
    }
}

/**
 * Native memory for one libffi call: the argument pointer array, one slot per
 * argument and the result. Taken from the calling thread's [UniffiCallArena].
 *
 * @suppress
 */
internal class UniffiFfiFrame(private val arena: UniffiCallArena) {
    companion object {
        const val MAX_ARGS = @MAX_ARGS@
        private val SLOTS_OFFSET = UniffiFfi.alignUp(MAX_ARGS * UniffiFfi.POINTER_SIZE, 16)
        private val RESULT_OFFSET = SLOTS_OFFSET + MAX_ARGS * UniffiFfi.SLOT_SIZE
        private val SIZE = RESULT_OFFSET + UniffiFfi.SLOT_SIZE

        fun acquire(): UniffiFfiFrame = UniffiCallArena.current().acquireFrame()
    }

    private val memory = com.sun.jna.Memory(SIZE.toLong())
    private val view: java.nio.ByteBuffer = memory.getByteBuffer(0, SIZE.toLong()).order(ByteOrder.nativeOrder())
    private val base = Pointer.nativeValue(memory)
    @JvmField val argvAddress = base
    @JvmField val returnAddress = base + RESULT_OFFSET

    // The offset of argument i's slot, after pointing argv[i] at it again:
    // libffi may replace argv entries during a call (x86_64 does for structs
    // passed by value: it points them at its own copy on the C stack).
    private fun slot(i: Int): Int {
        val offset = SLOTS_OFFSET + i * UniffiFfi.SLOT_SIZE
        putAddress(i * UniffiFfi.POINTER_SIZE, base + offset)
        return offset
    }

    private fun putAddress(offset: Int, address: Long) {
        if (UniffiFfi.POINTER_SIZE == 8) view.putLong(offset, address) else view.putInt(offset, address.toInt())
    }

    private fun getAddress(offset: Int): Long =
        if (UniffiFfi.POINTER_SIZE == 8) view.getLong(offset) else view.getInt(offset).toLong() and 0xFFFFFFFFL

    fun putByte(i: Int, value: Byte) { view.put(slot(i), value) }
    fun putShort(i: Int, value: Short) { view.putShort(slot(i), value) }
    fun putInt(i: Int, value: Int) { view.putInt(slot(i), value) }
    fun putLong(i: Int, value: Long) { view.putLong(slot(i), value) }
    fun putFloat(i: Int, value: Float) { view.putFloat(slot(i), value) }
    fun putDouble(i: Int, value: Double) { view.putDouble(slot(i), value) }
    fun putStatus(i: Int, status: UniffiCallStatus) { putAddress(slot(i), status.address) }

    fun putRustBuffer(i: Int, value: RustBuffer) {
        val o = slot(i)
        view.putLong(o, value.capacity)
        view.putLong(o + 8, value.len)
        putAddress(o + 16, Pointer.nativeValue(value.data))
    }

    fun putForeignBytes(i: Int, value: ForeignBytes) {
        val o = slot(i)
        view.putInt(o, value.len)
        putAddress(o + UniffiFfi.FOREIGN_BYTES_DATA_OFFSET, Pointer.nativeValue(value.data))
    }

    fun call(function: UniffiFfiFunction) = function.invoke(this)

    // libffi widens integer results narrower than a register to a full ffi_arg.
    private fun resultArg(): Long = getAddress(RESULT_OFFSET)
    fun returnByte(): Byte = resultArg().toByte()
    fun returnShort(): Short = resultArg().toShort()
    fun returnInt(): Int = resultArg().toInt()
    fun returnLong(): Long = view.getLong(RESULT_OFFSET)
    fun returnFloat(): Float = view.getFloat(RESULT_OFFSET)
    fun returnDouble(): Double = view.getDouble(RESULT_OFFSET)

    fun returnRustBuffer(): RustBuffer.ByValue {
        val buf = RustBuffer.ByValue()
        buf.capacity = view.getLong(RESULT_OFFSET)
        buf.len = view.getLong(RESULT_OFFSET + 8)
        val data = getAddress(RESULT_OFFSET + 16)
        buf.data = if (data == 0L) null else Pointer(data)
        return buf
    }

    fun release() = arena.releaseFrame()
}

/**
 * A RustCallStatus in native memory, for Kotlin -> Rust calls: passed to C as
 * a plain pointer (direct mapping and libffi alike), read back through a
 * direct ByteBuffer. Rust writes it only on failure, so it is reset to success
 * before each call.
 *
 * @suppress
 */
internal class UniffiCallStatus private constructor(private val memory: com.sun.jna.Memory) : Pointer(Pointer.nativeValue(memory)) {
    constructor() : this(com.sun.jna.Memory(UniffiFfi.STATUS_SIZE.toLong()))

    @JvmField val address: Long = Pointer.nativeValue(memory)
    private val view: java.nio.ByteBuffer =
        memory.getByteBuffer(0, UniffiFfi.STATUS_SIZE.toLong()).order(ByteOrder.nativeOrder())

    fun reset() { view.put(0, UNIFFI_CALL_SUCCESS) }

    val code: Byte get() = view.get(0)

    val error_buf: RustBuffer.ByValue
        get() {
            val o = UniffiFfi.STATUS_ERROR_BUF_OFFSET
            val buf = RustBuffer.ByValue()
            buf.capacity = view.getLong(o)
            buf.len = view.getLong(o + 8)
            val data = if (UniffiFfi.POINTER_SIZE == 8) view.getLong(o + 16) else view.getInt(o + 16).toLong() and 0xFFFFFFFFL
            buf.data = if (data == 0L) null else Pointer(data)
            return buf
        }

    fun isSuccess(): Boolean = code == UNIFFI_CALL_SUCCESS
    fun isError(): Boolean = code == UNIFFI_CALL_ERROR
    fun isPanic(): Boolean = code == UNIFFI_CALL_UNEXPECTED_ERROR
}

/**
 * Per-thread stacks of call statuses and libffi frames. Calls nest on one
 * thread (an argument's lowering calls rustbuffer_alloc while the outer
 * status is held; a Rust callback may call into Rust again), always last in,
 * first out, so a depth counter into a list that only grows is enough. The
 * native memory is freed by JNA's cleaner once the thread is gone.
 *
 * @suppress
 */
internal class UniffiCallArena {
    private val statuses = ArrayList<UniffiCallStatus>(4)
    private var statusDepth = 0
    private val frames = ArrayList<UniffiFfiFrame>(2)
    private var frameDepth = 0

    fun acquireStatus(): UniffiCallStatus {
        val status = if (statusDepth < statuses.size) statuses[statusDepth] else UniffiCallStatus().also { statuses.add(it) }
        statusDepth++
        status.reset()
        return status
    }

    fun releaseStatus() { statusDepth-- }

    fun acquireFrame(): UniffiFfiFrame {
        val frame = if (frameDepth < frames.size) frames[frameDepth] else UniffiFfiFrame(this).also { frames.add(it) }
        frameDepth++
        return frame
    }

    fun releaseFrame() { frameDepth-- }

    companion object {
        private val perThread = object : ThreadLocal<UniffiCallArena>() {
            override fun initialValue() = UniffiCallArena()
        }

        fun current(): UniffiCallArena = perThread.get()!!
    }
}
'''


def insert_runtime(text: str, max_args: int, descriptors: list[str]) -> str:
    m = re.search(r"Native\.register\(UniffiLib::class\.java, (findLibraryName\(componentName = \"\w+\"\))\)", text)
    if not m:
        raise PostProcessError("Native.register(UniffiLib::class.java, findLibraryName(...)) not found")
    runtime = RUNTIME.replace("@LIBRARY_NAME@", m.group(1)).replace("@MAX_ARGS@", str(max_args))
    anchor = "// This is a helper for safely passing byte references into the rust code.\n"
    text = replace_once(text, anchor, runtime.lstrip("\n") + "\n" + anchor, "insertion point after RustBuffer")
    # The descriptors of the libffi-called functions, right after UniffiLib.
    start, end = lib_object_span(text)
    holder = (
        "\n}\n\n"
        "// Post-processed: the C functions UniffiLib calls through libffi.\n"
        "private object UniffiLibFfi {\n" + "\n".join(descriptors) + "\n"
    )
    return text[:end] + holder + text[end:]


# --- checks --------------------------------------------------------------------

def check(text: str) -> None:
    problems = []
    for m in re.finditer(r"external fun (\w+)\(([^)]*)\)\s*:\s*([\w.]+)", text):
        if re.search(r"RustBuffer|ForeignBytes|UniffiRustCallStatus", m.group(0)):
            problems.append(f"external fun {m.group(1)} still passes a Structure: {m.group(0)!r}")
    for line in text.split("\n"):
        if re.match(r"^\s*(override )?fun callback\(", line) and PLAIN_RB.search(line):
            problems.append(f"JNA callback with a plain RustBuffer: {line.strip()}")
    in_struct = False
    for line in text.split("\n"):
        if line.startswith("@Structure.FieldOrder("):
            in_struct = True
        elif in_struct and line == "}":
            in_struct = False
        elif in_struct and "@JvmField" in line and PLAIN_RB.search(line):
            problems.append(f"Structure field of the plain RustBuffer type: {line.strip()}")
    if re.search(r"=\s*UniffiRustCallStatus\(\)", text):
        problems.append("a UniffiRustCallStatus() is still built on the call path")
    if re.search(r"open class RustBuffer\s*:\s*Structure", text):
        problems.append("RustBuffer is still a JNA Structure")
    for needed in ("internal class UniffiCallArena", "private object UniffiLibFfi", "internal class UniffiCallStatus",
                   "private fun toUtf8Strict(value: String)"):
        if needed not in text:
            problems.append(f"missing: {needed}")
    if problems:
        raise PostProcessError("post-conditions failed:\n  " + "\n  ".join(problems))


MARKER_PREFIX = "// utd-stream: post-processed by scripts/kotlin_postprocess.py"


def process(text: str) -> tuple[str, bool]:
    if MARKER in text:
        check(text)
        return text, False
    if MARKER_PREFIX in text:
        raise PostProcessError("post-processed by another version of this script: regenerate it (scripts/bindings.sh)")
    if "// This file was autogenerated by some hot garbage in the `uniffi` crate." not in text:
        raise PostProcessError("not a UniFFI-generated Kotlin file (header missing)")
    text = rewrite_rust_buffer(text)
    text = rewrite_callback_status_struct(text)
    text = rewrite_struct_fields(text)
    text = rewrite_callbacks(text)
    text = rewrite_call_status(text)
    text, descriptors, max_args = rewrite_by_value_functions(text)
    text = rewrite_string_encoding(text)
    text = insert_runtime(text, max(max_args, 1), descriptors)
    text = replace_once(
        text,
        "@file:Suppress(\"NAME_SHADOWING\")\n",
        MARKER + "\n\n@file:Suppress(\"NAME_SHADOWING\")\n",
        "file annotation",
    )
    check(text)
    return text, True


def main(argv: list[str]) -> int:
    usage = "Usage: scripts/kotlin_postprocess.py [--check] FILE.kt [FILE.kt ...]"
    args = argv[1:]
    if any(a in ("-h", "--help") for a in args):
        print(__doc__.split("\n\n")[0] + "\n\n" + usage)
        return 0
    check_only = bool(args) and args[0] == "--check"
    if check_only:
        args = args[1:]
    if not args:
        print(usage, file=sys.stderr)
        return 2
    if check_only:
        # Exit 0 when every file is post-processed by this version, else 1.
        for name in args:
            try:
                text = Path(name).read_text(encoding="utf-8")
                if MARKER not in text:
                    print(f"kotlin_postprocess: {name}: not post-processed by this version", file=sys.stderr)
                    return 1
                check(text)
            except (OSError, PostProcessError) as e:
                print(f"kotlin_postprocess: {name}: {e}", file=sys.stderr)
                return 1
        return 0
    for name in args:
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8")
            new, changed = process(text)
        except (OSError, PostProcessError) as e:
            print(f"kotlin_postprocess: {name}: {e}", file=sys.stderr)
            return 1
        if changed:
            path.write_text(new, encoding="utf-8")
            print(f"kotlin_postprocess: {name}: rewritten ({new.count('UniffiLibFfi.')} functions through libffi)")
        else:
            print(f"kotlin_postprocess: {name}: already post-processed, unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
