// Shared helpers for the Kotlin tests: a log collector (the listener pattern
// apps copy), the utd-stack environment for scenario tests against the real
// engine, and small network fixtures.
package com.utdstream.tests

import com.utdstream.sdk.UTDLogLevel
import com.utdstream.sdk.UTDLogListener
import com.utdstream.sdk.UTDLogRecord
import com.utdstream.sdk.UTDSubscription
import com.utdstream.sdk.subscribeLogs
import java.io.File
import java.net.HttpURLConnection
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.URI
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.TimeSource
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull

/**
 * Collects SDK log records into a channel. The SDK calls `onLog` on its own
 * log thread; `trySend` on an unlimited channel never blocks that thread.
 */
class LogCollector : UTDLogListener {
    val records = Channel<UTDLogRecord>(Channel.UNLIMITED)

    override fun onLog(record: UTDLogRecord) {
        records.trySend(record)
    }

    /** The first record matching [predicate] within [timeout], else null. */
    suspend fun awaitRecord(timeout: Duration, predicate: (UTDLogRecord) -> Boolean): UTDLogRecord? =
        withTimeoutOrNull(timeout) {
            var found: UTDLogRecord? = null
            while (found == null) {
                val record = records.receive()
                if (predicate(record)) found = record
            }
            found
        }

    /** Everything received so far, without waiting. */
    fun drain(): List<UTDLogRecord> = generateSequence { records.tryReceive().getOrNull() }.toList()
}

/**
 * The first value of this flow matching [predicate] within [timeout] (for
 * the SDK's state flows the current value counts). Fails with an
 * AssertionError naming [what] and the last value seen.
 */
suspend fun <T> Flow<T>.firstWithin(what: String, timeout: Duration, predicate: (T) -> Boolean): T {
    var last: Any? = "nothing"
    return try {
        withTimeout(timeout) {
            first {
                last = it
                predicate(it)
            }
        }
    } catch (e: TimeoutCancellationException) {
        throw AssertionError("$what: not within $timeout; last value seen: $last", e)
    }
}

/**
 * Polls [condition] every 25 ms until it holds, failing with [what] after
 * [timeout]. Only for local state the SDK offers no observable for (e.g. the
 * published sources); anything observable is awaited through its flow.
 */
suspend fun eventually(what: String, timeout: Duration, condition: () -> Boolean) {
    val started = TimeSource.Monotonic.markNow()
    while (!condition()) {
        if (started.elapsedNow() > timeout) throw AssertionError("$what: not within $timeout")
        delay(25.milliseconds)
    }
}

/** Subscribes a fresh [LogCollector] at [level]; the caller cancels. */
fun collectLogs(level: UTDLogLevel): Pair<LogCollector, UTDSubscription> {
    val collector = LogCollector()
    return collector to subscribeLogs(level, collector)
}

/**
 * The running engine + livekit-server started by scripts/test-kotlin.sh
 * through the `utd-stack` binary. `UTD_STACK_ENV` is the path of its JSON env
 * file (or the JSON itself).
 */
class StackEnv(
    val engineUrl: String,
    val livekitUrl: String,
    val adminToken: String,
    val controlUrl: String,
    /** The engine's call ring timeout in the stack (`ring_timeout_ms`); null when the env file does not say. */
    val ringTimeoutMs: Long? = null,
    /** The APNs stand-in the engine pushes VoIP calls to (`apns_url`); null from a stack without one. */
    val apnsUrl: String? = null,
    /** The FCM stand-in the engine sends data messages to (`fcm_url`); null from a stack without one. */
    val fcmUrl: String? = null,
    /** The S3 store (versitygw) the engine keeps chat attachments in (`s3_endpoint`); null when uploads are off. */
    val s3Endpoint: String? = null,
) {
    /** Stops the engine (the client sees its connection drop). */
    fun stopEngine() = control("/engine/stop")

    /**
     * Every VoIP push the stack's APNs stand-in accepted so far, oldest
     * first (`GET /pushes/apns`). Fails on a stack without push stand-ins.
     */
    fun apnsPushes(): List<RecordedVoipPush> {
        val items = pushes("/pushes/apns")
        return items.map { item ->
            @Suppress("UNCHECKED_CAST")
            val payload = item["payload"] as? Map<String, Any?> ?: error("an APNs push without a payload dictionary: $item")
            RecordedVoipPush(item["device_token"] as? String ?: error("an APNs push without a device token: $item"), payload)
        }
    }

    /**
     * Every data message the stack's FCM stand-in accepted so far, oldest
     * first (`GET /pushes/fcm`). Fails on a stack without push stand-ins.
     */
    fun fcmMessages(): List<RecordedFcmMessage> {
        val items = pushes("/pushes/fcm")
        return items.map { item ->
            val data = item["data"] as? Map<*, *> ?: error("an FCM message without data: $item")
            RecordedFcmMessage(
                item["device_token"] as? String ?: error("an FCM message without a device token: $item"),
                data.entries.associate { (k, v) -> k as String to (v as? String ?: error("FCM data values are strings: $item")) },
            )
        }
    }

    private fun pushes(path: String): List<Map<*, *>> {
        check(apnsUrl != null && fcmUrl != null) { "this utd-stack has no push stand-ins (no apns_url / fcm_url in its env file)" }
        val (status, body) = httpGet(controlUrl.trimEnd('/') + path)
        check(status == 200) { "utd-stack control $path answered HTTP $status: $body" }
        val items = parseJson(body) as? List<*> ?: error("utd-stack control $path is not a JSON array: $body")
        return items.map { it as? Map<*, *> ?: error("utd-stack control $path: not an object: $it") }
    }

    /** Starts the engine again on the same port with the same database. */
    fun startEngine() = control("/engine/start")

    private fun control(path: String) {
        val status = httpPost(controlUrl.trimEnd('/') + path)
        check(status in 200..299) { "utd-stack control $path answered HTTP $status" }
    }

    companion object {
        /** The stack environment, or a failure saying how to get one. */
        fun require(): StackEnv {
            val raw = System.getenv("UTD_STACK_ENV")
                ?: error("UTD_STACK_ENV is not set: run the tests through scripts/test-kotlin.sh, which starts utd-stack")
            val json = if (raw.trimStart().startsWith("{")) raw else File(raw).readText()
            val values = parseFlatJsonObject(json)
            fun field(name: String) = values[name] ?: error("utd-stack env has no \"$name\": $json")
            return StackEnv(
                field("engine_url"),
                field("livekit_url"),
                field("admin_token"),
                field("control_url"),
                values["ring_timeout_ms"]?.toLongOrNull(),
                values["apns_url"],
                values["fcm_url"],
                values["s3_endpoint"],
            )
        }
    }
}

/** A VoIP push as the APNs stand-in received it. */
class RecordedVoipPush(val deviceToken: String, val payload: Map<String, Any?>) {
    /** The payload dictionary serialized to JSON, as an iOS app hands `dictionaryPayload` to `handleCallPush`. */
    val payloadJson: String get() = toJson(payload)

    override fun toString() = "VoIP push to ${deviceToken.take(8)}…: $payloadJson"
}

/** An FCM data message as the FCM stand-in received it. */
class RecordedFcmMessage(val deviceToken: String, val data: Map<String, String>) {
    override fun toString() = "FCM message to ${deviceToken.take(12)}…: $data"
}

/** An app created through the admin API: the publishable credentials a client gets. */
class AdminApp(val appId: String, val appKey: String)

/**
 * The engine's admin API (docs/engine-api.md §12) over plain HTTP with the
 * stack's admin token, for scenario tests that set plans, bans and limits.
 */
class EngineAdmin(private val stack: StackEnv) {
    private val http = java.net.http.HttpClient.newBuilder()
        .version(java.net.http.HttpClient.Version.HTTP_1_1)
        .connectTimeout(java.time.Duration.ofSeconds(5))
        .build()

    /** Sends [method] [path] with an optional JSON body; returns (status, body). */
    fun request(method: String, path: String, json: String? = null): Pair<Int, String> {
        val builder = java.net.http.HttpRequest.newBuilder(URI(stack.engineUrl.trimEnd('/') + path))
            .timeout(java.time.Duration.ofSeconds(30))
            .header("Authorization", "Bearer ${stack.adminToken}")
        val publisher = if (json == null) {
            java.net.http.HttpRequest.BodyPublishers.noBody()
        } else {
            builder.header("Content-Type", "application/json")
            java.net.http.HttpRequest.BodyPublishers.ofString(json)
        }
        val response = http.send(builder.method(method, publisher).build(), java.net.http.HttpResponse.BodyHandlers.ofString())
        return response.statusCode() to response.body()
    }

    private fun expect(method: String, path: String, json: String?, vararg ok: Int): String {
        val (status, body) = request(method, path, json)
        check(status in ok) { "admin $method $path answered HTTP $status: $body" }
        return body
    }

    /** Creates an app on [plan] (`free`, `signaling`, `pro`, `enterprise`). */
    fun createApp(name: String, plan: String): AdminApp {
        val body = expect("POST", "/admin/v1/apps", """{"name":"$name","plan":"$plan"}""", 201)
        val values = parseFlatJsonObject(body)
        return AdminApp(values["app_id"] ?: error("no app_id in $body"), values["app_key"] ?: error("no app_key in $body"))
    }

    fun setPlan(appId: String, plan: String, reportCapabilities: Boolean = true) {
        expect("PUT", "/admin/v1/apps/$appId/plan", """{"plan":"$plan","report_capabilities":$reportCapabilities}""", 200)
    }

    fun ban(appId: String, identity: String) {
        expect("POST", "/admin/v1/apps/$appId/bans", """{"identity":"$identity"}""", 204)
    }

    fun unban(appId: String, identity: String) {
        expect("DELETE", "/admin/v1/apps/$appId/bans/$identity", null, 204)
    }

    fun setRateLimits(appId: String, perUserPerMinute: Int, perAppPerMinute: Int) {
        expect(
            "PUT", "/admin/v1/apps/$appId/rate-limits",
            """{"per_user_per_minute":$perUserPerMinute,"per_app_per_minute":$perAppPerMinute}""", 200,
        )
    }
}

/** POSTs an empty body; returns the HTTP status. */
fun httpPost(url: String, headers: Map<String, String> = emptyMap()): Int {
    val connection = URI(url).toURL().openConnection() as HttpURLConnection
    try {
        connection.requestMethod = "POST"
        connection.connectTimeout = 5_000
        connection.readTimeout = 30_000
        headers.forEach { (k, v) -> connection.setRequestProperty(k, v) }
        connection.doOutput = true
        connection.outputStream.use { }
        return connection.responseCode
    } finally {
        connection.disconnect()
    }
}

/** GETs [url]; returns (status, body). */
fun httpGet(url: String, headers: Map<String, String> = emptyMap()): Pair<Int, String> {
    val connection = URI(url).toURL().openConnection() as HttpURLConnection
    try {
        connection.connectTimeout = 5_000
        connection.readTimeout = 30_000
        headers.forEach { (k, v) -> connection.setRequestProperty(k, v) }
        val status = connection.responseCode
        val stream = if (status >= 400) connection.errorStream else connection.inputStream
        return status to (stream?.bufferedReader()?.readText() ?: "")
    } finally {
        connection.disconnect()
    }
}

/**
 * Parses a JSON object whose values are strings, numbers, booleans or null
 * (the utd-stack env file). Enough for that file; not a general parser.
 */
fun parseFlatJsonObject(json: String): Map<String, String?> {
    val out = mutableMapOf<String, String?>()
    var i = 0
    fun skipSpace() { while (i < json.length && json[i].isWhitespace()) i++ }
    fun expect(c: Char) {
        skipSpace()
        check(i < json.length && json[i] == c) { "expected '$c' at $i in $json" }
        i++
    }
    fun string(): String {
        expect('"')
        val sb = StringBuilder()
        while (true) {
            check(i < json.length) { "unterminated string in $json" }
            val c = json[i++]
            when (c) {
                '"' -> return sb.toString()
                '\\' -> {
                    val e = json[i++]
                    when (e) {
                        'n' -> sb.append('\n')
                        't' -> sb.append('\t')
                        'r' -> sb.append('\r')
                        'b' -> sb.append('\b')
                        'f' -> sb.append('\u000c')
                        'u' -> { sb.append(json.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                        else -> sb.append(e)
                    }
                }
                else -> sb.append(c)
            }
        }
    }
    expect('{')
    skipSpace()
    if (json[i] == '}') return out
    while (true) {
        val key = string()
        expect(':')
        skipSpace()
        out[key] = if (json[i] == '"') {
            string()
        } else {
            val start = i
            while (i < json.length && json[i] != ',' && json[i] != '}' && !json[i].isWhitespace()) i++
            json.substring(start, i).takeUnless { it == "null" }
        }
        skipSpace()
        if (json[i] == ',') { i++; continue }
        expect('}')
        return out
    }
}

/**
 * Parses any JSON text: objects become `Map<String, Any?>` (in order),
 * arrays `List<Any?>`, numbers `Long` (integral) or `Double`, and strings,
 * booleans and null themselves. For the stack's push lists; strict enough to
 * fail on malformed JSON.
 */
fun parseJson(json: String): Any? {
    var i = 0
    fun fail(what: String): Nothing = throw IllegalArgumentException("$what at $i in $json")
    fun skipSpace() { while (i < json.length && json[i].isWhitespace()) i++ }
    fun expect(c: Char) {
        skipSpace()
        if (i >= json.length || json[i] != c) fail("expected '$c'")
        i++
    }
    fun string(): String {
        expect('"')
        val sb = StringBuilder()
        while (true) {
            if (i >= json.length) fail("unterminated string")
            when (val c = json[i++]) {
                '"' -> return sb.toString()
                '\\' -> when (val e = json[i++]) {
                    'n' -> sb.append('\n')
                    't' -> sb.append('\t')
                    'r' -> sb.append('\r')
                    'b' -> sb.append('\b')
                    'f' -> sb.append('\u000c')
                    'u' -> { sb.append(json.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                    '"', '\\', '/' -> sb.append(e)
                    else -> fail("bad escape \\$e")
                }
                else -> sb.append(c)
            }
        }
    }
    fun value(): Any? {
        skipSpace()
        if (i >= json.length) fail("expected a value")
        return when (json[i]) {
            '{' -> {
                i++
                val map = LinkedHashMap<String, Any?>()
                skipSpace()
                if (json[i] == '}') { i++; return map }
                while (true) {
                    val key = string()
                    expect(':')
                    map[key] = value()
                    skipSpace()
                    if (i < json.length && json[i] == ',') { i++; continue }
                    expect('}')
                    return map
                }
                map // not reached: the loop returns
            }
            '[' -> {
                i++
                val list = ArrayList<Any?>()
                skipSpace()
                if (json[i] == ']') { i++; return list }
                while (true) {
                    list += value()
                    skipSpace()
                    if (i < json.length && json[i] == ',') { i++; continue }
                    expect(']')
                    return list
                }
                list // not reached: the loop returns
            }
            '"' -> string()
            't' -> { if (!json.startsWith("true", i)) fail("bad literal"); i += 4; true }
            'f' -> { if (!json.startsWith("false", i)) fail("bad literal"); i += 5; false }
            'n' -> { if (!json.startsWith("null", i)) fail("bad literal"); i += 4; null }
            else -> {
                val start = i
                while (i < json.length && (json[i].isDigit() || json[i] in "+-.eE")) i++
                val text = json.substring(start, i)
                text.toLongOrNull() ?: text.toDoubleOrNull() ?: fail("bad number '$text'")
            }
        }
    }
    val result = value()
    skipSpace()
    if (i != json.length) fail("trailing characters")
    return result
}

/** Serializes what [parseJson] returns (maps, lists, strings, numbers, booleans, null) back to JSON. */
fun toJson(value: Any?): String = when (value) {
    null -> "null"
    is String -> buildString {
        append('"')
        for (c in value) when {
            c == '"' -> append("\\\"")
            c == '\\' -> append("\\\\")
            c == '\n' -> append("\\n")
            c == '\r' -> append("\\r")
            c == '\t' -> append("\\t")
            c < ' ' -> append("\\u%04x".format(c.code))
            else -> append(c)
        }
        append('"')
    }
    is Boolean, is Long, is Int -> value.toString()
    is Double -> if (value.isFinite()) value.toString() else error("not a JSON number: $value")
    is Map<*, *> -> value.entries.joinToString(",", "{", "}") { (k, v) -> toJson(k as String) + ":" + toJson(v) }
    is List<*> -> value.joinToString(",", "[", "]") { toJson(it) }
    else -> error("not a JSON value: $value (${value::class})")
}

/**
 * A loopback TCP server that accepts connections and never answers: a
 * request to it hangs until the client gives up. [peerClosed] tells whether
 * the client closed the connection it opened.
 */
class SilentServer : AutoCloseable {
    private val server = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val accepted = java.util.concurrent.LinkedBlockingQueue<Socket>()
    private val acceptor = Thread {
        try {
            while (true) accepted.put(server.accept())
        } catch (_: Exception) {
            // closed
        }
    }.apply { isDaemon = true; start() }

    val url: String get() = "http://127.0.0.1:${server.localPort}"

    /** Waits for the first connection; null if none came within [timeoutMs]. */
    fun awaitConnection(timeoutMs: Long): Socket? =
        accepted.poll(timeoutMs, java.util.concurrent.TimeUnit.MILLISECONDS)

    override fun close() {
        server.close()
        acceptor.interrupt()
        generateSequence { accepted.poll() }.forEach { it.close() }
    }
}

/** True if the peer closes [socket] (read returns EOF or reset) within [timeoutMs]. */
fun peerCloses(socket: Socket, timeoutMs: Int): Boolean {
    socket.soTimeout = timeoutMs
    val buffer = ByteArray(4096)
    return try {
        // The request bytes come first; read until EOF.
        while (socket.getInputStream().read(buffer) >= 0) {
            // discard
        }
        true
    } catch (_: java.net.SocketTimeoutException) {
        false
    } catch (_: java.net.SocketException) {
        true // reset by peer
    }
}

/** One request a [ScriptedHttpServer] received. */
class ReceivedRequest(val method: String, val path: String, val headers: Map<String, String>, val body: String)

/**
 * A loopback HTTP/1.1 server that answers every request with the same canned
 * reply: a stand-in engine for replies the real one is hard to provoke on
 * demand. Records what it received.
 */
class ScriptedHttpServer(
    private val status: Int,
    private val body: String,
    private val headers: Map<String, String> = emptyMap(),
) : AutoCloseable {
    private val server = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    val requests = java.util.concurrent.LinkedBlockingQueue<ReceivedRequest>()
    private val acceptor = Thread {
        try {
            while (true) {
                server.accept().use { serve(it) }
            }
        } catch (_: Exception) {
            // closed
        }
    }.apply { isDaemon = true; start() }

    val url: String get() = "http://127.0.0.1:${server.localPort}"

    private fun serve(socket: Socket) {
        socket.soTimeout = 10_000
        val input = socket.getInputStream().buffered()
        fun line(): String {
            val sb = StringBuilder()
            while (true) {
                val c = input.read()
                if (c < 0 || c == '\n'.code) return sb.toString().trimEnd('\r')
                sb.append(c.toChar())
            }
        }
        val (method, path) = line().split(" ").let { it[0] to it[1] }
        val received = mutableMapOf<String, String>()
        while (true) {
            val header = line()
            if (header.isEmpty()) break
            val (name, value) = header.split(":", limit = 2)
            received[name.trim().lowercase()] = value.trim()
        }
        val length = received["content-length"]?.toInt() ?: 0
        val requestBody = String(input.readNBytes(length), Charsets.UTF_8)
        requests.put(ReceivedRequest(method, path, received, requestBody))
        val payload = body.toByteArray(Charsets.UTF_8)
        val reply = buildString {
            append("HTTP/1.1 $status Scripted\r\n")
            append("Content-Type: application/json\r\n")
            append("Content-Length: ${payload.size}\r\n")
            append("Connection: close\r\n")
            headers.forEach { (k, v) -> append("$k: $v\r\n") }
            append("\r\n")
        }
        socket.getOutputStream().apply {
            write(reply.toByteArray(Charsets.UTF_8))
            write(payload)
            flush()
        }
    }

    override fun close() {
        server.close()
        acceptor.interrupt()
    }
}
