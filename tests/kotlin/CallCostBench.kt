// The cost of one call from Kotlin into the SDK through UniFFI + JNA, next to
// a bare JNA call of libc's getpid() measured in the same run (the floor: what
// JNA itself costs for a native call with no arguments and a primitive result).
//
// Not a test: a separate `main`, compiled with the suite. It checks that every
// call returns the right value (and exits 1 when one does not), but it makes
// no timed assertions: the numbers depend on the machine. Each row is the
// median over --batches batches of --iterations calls, after --warmup calls of
// every row that let the JIT compile the path. See docs/kotlin-call-cost.md.
//
// Usage: java -Djna.library.path=target/release ... com.utdstream.tests.CallCostBenchKt
//            [--iterations N] [--batches N] [--warmup N]
// scripts/bench.sh kotlin runs it against the release library; scripts/test-kotlin.sh
// smoke-runs it with a few iterations.
package com.utdstream.tests

import com.sun.jna.Library
import com.sun.jna.Native
import com.sun.jna.Platform
import com.sun.jna.Pointer
import com.sun.jna.Structure
import com.utdstream.sdk.UTDCallPushEvent
import com.utdstream.sdk.UTDErrorCode
import com.utdstream.sdk.UTDStreamClient
import com.utdstream.sdk.UTDStreamType
import com.utdstream.sdk.buildInfo
import com.utdstream.sdk.callKitUuid
import com.utdstream.sdk.parseCallPush
import com.utdstream.sdk.parseEngineReply
import com.utdstream.sdk.sdkVersion
import kotlin.system.exitProcess

/** libc through JNA's direct mapping (`Native.register` + `external fun`), as UniFFI binds the SDK. */
private object LibcDirect {
    init {
        Native.register(LibcDirect::class.java, Platform.C_LIBRARY_NAME)
    }

    external fun getpid(): Int
}

/** libc through JNA's interface mapping (`Native.load`: a java.lang.reflect.Proxy per library). */
private interface LibcMapped : Library {
    fun getpid(): Int
}

/**
 * A JNA Structure shaped like UniFFI's RustBuffer: what the generated code
 * used to build for every call status, argument and result (before
 * scripts/kotlin_postprocess.py), timed as a reference row.
 */
@Structure.FieldOrder("capacity", "len", "data")
open class BenchRustBufferStruct : Structure() {
    @JvmField var capacity: Long = 0
    @JvmField var len: Long = 0
    @JvmField var data: Pointer? = null
}

private class BenchOptions(val iterations: Int, val batches: Int, val warmup: Int)

private fun parseOptions(args: Array<String>): BenchOptions {
    var iterations = 20_000
    var batches = 9
    var warmup = 50_000
    var i = 0
    fun value(flag: String): Int {
        val raw = args.getOrNull(++i) ?: usage("$flag needs a value")
        return raw.toIntOrNull()?.takeIf { it > 0 } ?: usage("$flag wants a positive integer, got '$raw'")
    }
    while (i < args.size) {
        when (args[i]) {
            "--iterations" -> iterations = value("--iterations")
            "--batches" -> batches = value("--batches")
            "--warmup" -> warmup = value("--warmup")
            "--help", "-h" -> usage(null)
            else -> usage("unknown argument '${args[i]}'")
        }
        i++
    }
    return BenchOptions(iterations, batches, warmup)
}

private fun usage(error: String?): Nothing {
    val text = "usage: CallCostBenchKt [--iterations N (calls per batch, 20000)] " +
        "[--batches N (median over, 9)] [--warmup N (calls of each before timing, 50000)]"
    if (error == null) {
        println(text)
        exitProcess(0)
    }
    System.err.println("call-cost bench: $error\n$text")
    exitProcess(2)
}

/**
 * One row: [run] makes `n` calls and returns a value folded from their
 * results (so nothing is optimised away); [check] makes one call and throws
 * when its result is wrong.
 */
private class BenchCase(val name: String, val check: () -> Unit, val run: (n: Int) -> Long)

private fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

/** Median ns per call over the batches (the JIT has been warmed up by then). */
private fun measure(case: BenchCase, options: BenchOptions): Double {
    var sink = case.run(options.warmup / 4 + 1)
    val perCall = DoubleArray(options.batches)
    for (b in 0 until options.batches) {
        val start = System.nanoTime()
        sink += case.run(options.iterations)
        perCall[b] = (System.nanoTime() - start).toDouble() / options.iterations
    }
    // Keep the folded results observable.
    if (sink == Long.MIN_VALUE) println("(sink $sink)")
    perCall.sort()
    return perCall[perCall.size / 2]
}

private const val CALL_ID = "call_Yf3abcdefghijklmnopqrs"
private const val CALL_KIT_UUID = "9d350f04-df41-5513-9d7a-e44d26e3f4a7"
private const val PUSH_JSON =
    """{"aps":{},"type":"call","call_id":"$CALL_ID","caller_identity":"bob","caller_name":"Bob",""" +
        """"call_type":"video_call","sent_at_ms":1700000000000,"ring_expires_at_ms":1700000030000}"""
private const val ENGINE_REPLY = """{"error":{"code":"rate_limited","message":"slow down"}}"""

fun main(args: Array<String>) {
    val options = parseOptions(args)
    val pid = ProcessHandle.current().pid().toInt()
    val mapped = Native.load(Platform.C_LIBRARY_NAME, LibcMapped::class.java)
    // No network: the constructor only validates its arguments; identity()
    // reads local state (null before authenticate).
    val client = UTDStreamClient("app_bench", "pk_bench", "http://127.0.0.1:1")
    val version = sdkVersion()

    val cases = listOf(
        BenchCase("getpid(), JNA direct mapping", { check(LibcDirect.getpid() == pid) { "direct getpid() != $pid" } }) { n ->
            var acc = 0L
            repeat(n) { acc += LibcDirect.getpid() }
            acc
        },
        BenchCase("getpid(), JNA interface mapping", { check(mapped.getpid() == pid) { "mapped getpid() != $pid" } }) { n ->
            var acc = 0L
            repeat(n) { acc += mapped.getpid() }
            acc
        },
        BenchCase("client.identity()  (sync getter)", { check(client.identity() == null) { "identity() before authenticate is not null" } }) { n ->
            var acc = 0L
            repeat(n) { if (client.identity() == null) acc++ }
            acc
        },
        BenchCase("client.signalingEnabled()  (sync getter)", { check(client.signalingEnabled() == null) { "signalingEnabled() before connect is not null" } }) { n ->
            var acc = 0L
            repeat(n) { if (client.signalingEnabled() == null) acc++ }
            acc
        },
        BenchCase("sdkVersion()  (String)", { check(sdkVersion() == version && version.isNotEmpty()) { "sdkVersion() changed" } }) { n ->
            var acc = 0L
            repeat(n) { acc += sdkVersion().length }
            acc
        },
        BenchCase("callKitUuid(id)  (String in, String out)", { check(callKitUuid(CALL_ID) == CALL_KIT_UUID) { "callKitUuid($CALL_ID) != $CALL_KIT_UUID" } }) { n ->
            var acc = 0L
            repeat(n) { acc += callKitUuid(CALL_ID).length }
            acc
        },
        BenchCase("buildInfo()  (record)", {
            val info = buildInfo()
            check(info.version == version && info.target.isNotEmpty() && info.profile.isNotEmpty()) { "buildInfo() is $info" }
        }) { n ->
            var acc = 0L
            repeat(n) { acc += buildInfo().version.length }
            acc
        },
        BenchCase("parseCallPush(json)  (String in, record out)", {
            val push = (parseCallPush(PUSH_JSON) as? UTDCallPushEvent.Incoming)?.push
                ?: throw AssertionError("parseCallPush did not return an incoming call")
            check(
                push.callId == CALL_ID && push.callKitUuid == CALL_KIT_UUID && push.callerName == "Bob" &&
                    push.streamType == UTDStreamType.VIDEO_CALL && push.ringExpiresAtMs == 1_700_000_030_000uL,
            ) { "parseCallPush returned $push" }
        }) { n ->
            var acc = 0L
            repeat(n) { acc += (parseCallPush(PUSH_JSON) as UTDCallPushEvent.Incoming).push.callId.length }
            acc
        },
        BenchCase("(reference) new JNA Structure, 3 fields", { check(BenchRustBufferStruct().size() >= 20) { "Structure size" } }) { n ->
            var acc = 0L
            repeat(n) { acc += BenchRustBufferStruct().len }
            acc
        },
        // An error object: the JNA call, plus a Kotlin exception (its stack
        // trace is captured on construction) and its cleaner registration.
        BenchCase("parseEngineReply(429, body)  (error object)", {
            parseEngineReply(429.toUShort(), ENGINE_REPLY, "4").use { e ->
                check(e.code() == UTDErrorCode.RATE_LIMITED && e.retryAfterMs() == 4000UL) { "parseEngineReply gave ${e.code()} ${e.retryAfterMs()}" }
            }
        }) { n ->
            var acc = 0L
            repeat(n) { parseEngineReply(429.toUShort(), ENGINE_REPLY, "4").use { acc += it.statusCode()?.toLong() ?: 0L } }
            acc
        },
    )

    var failed = false
    // Warm-up first, over every case: they share most of the generated code
    // (status handling, RustBuffer, string lifting), which the JIT compiles
    // once it is hot. Values are checked before anything is timed.
    for (case in cases) {
        try {
            case.check()
            case.run(options.warmup)
        } catch (t: Throwable) {
            failed = true
            println("FAIL ${case.name} (warm-up): $t")
        }
    }
    val results = cases.map { case ->
        try {
            val ns = measure(case, options)
            case.check()
            case.name to ns
        } catch (t: Throwable) {
            failed = true
            println("FAIL ${case.name}: $t")
            case.name to Double.NaN
        }
    }
    client.dispose()

    val direct = results[0].second
    val viaProxy = results[1].second
    // Native.VERSION is a compile-time constant (the version compiled against):
    // the jar on the classpath names its own in its manifest.
    val jnaVersion = Native::class.java.`package`?.implementationVersion?.substringBefore(' ') ?: "(unknown)"
    println(
        "kotlin call cost: JNA $jnaVersion, ${buildInfo().profile} library from " +
            "${System.getProperty("jna.library.path") ?: "the default path"}, Java ${System.getProperty("java.version")}; " +
            "median of ${options.batches} batches of ${options.iterations} calls, after ${options.warmup} warm-up calls of each",
    )
    println(String.format("%-46s %12s %14s %14s", "call", "ns/call", "× getpid dir.", "× getpid intf."))
    for ((name, ns) in results) {
        println(String.format("%-46s %12.1f %14.1f %14.1f", name, ns, ns / direct, ns / viaProxy))
    }
    if (failed) {
        println("call-cost bench: FAILED (a call returned a wrong value)")
        exitProcess(1)
    }
    println("call-cost bench: ok")
    exitProcess(0)
}
