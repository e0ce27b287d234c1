// Shared helpers for the Swift tests. LogCollector is the listener pattern
// apps copy: under Swift 6 strict concurrency a listener must be Sendable,
// so it keeps only `let` state (an AsyncStream and its continuation).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import UTDStream
import XCTest

/// Receives SDK log records on the SDK's log thread and hands them to async
/// code through an AsyncStream.
final class LogCollector: UTDLogListener {
    let records: AsyncStream<UTDLogRecord>
    private let continuation: AsyncStream<UTDLogRecord>.Continuation

    init() {
        (records, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    func onLog(record: UTDLogRecord) {
        continuation.yield(record)
    }
}

/// Subscribes a fresh collector at `level`; the caller cancels the subscription.
func collectLogs(_ level: UTDLogLevel) -> (LogCollector, UTDSubscription) {
    let collector = LogCollector()
    return (collector, subscribeLogs(minLevel: level, listener: collector))
}

/// The first element of `stream` matching `predicate` within `timeout`, or nil.
/// Consumes the stream: use each stream for one wait (a timed-out wait ends it).
func first<T: Sendable>(
    _ stream: AsyncStream<T>,
    within timeout: Duration,
    where predicate: @escaping @Sendable (T) -> Bool = { _ in true }
) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask {
            for await element in stream where predicate(element) {
                return element
            }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let winner = await group.next() ?? nil
        group.cancelAll()
        return winner
    }
}

/// Asserts that `body` throws a UTDStreamError and returns it.
func assertThrowsUTD<T>(
    _ body: () async throws -> T,
    file: StaticString = #filePath,
    line: UInt = #line
) async -> UTDStreamError? {
    do {
        let value = try await body()
        XCTFail("expected a UTDStreamError, got \(value)", file: file, line: line)
    } catch let error as UTDStreamError {
        return error
    } catch {
        XCTFail("expected a UTDStreamError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Synchronous variant of `assertThrowsUTD`.
func assertThrowsUTDSync<T>(
    _ body: () throws -> T,
    file: StaticString = #filePath,
    line: UInt = #line
) -> UTDStreamError? {
    do {
        let value = try body()
        XCTFail("expected a UTDStreamError, got \(value)", file: file, line: line)
    } catch let error as UTDStreamError {
        return error
    } catch {
        XCTFail("expected a UTDStreamError, got \(error)", file: file, line: line)
    }
    return nil
}

/// What a `ScriptedHTTPServer` received.
struct ReceivedRequest: Sendable {
    let method: String
    let path: String
    let head: String
    let body: String
}

/// A loopback HTTP/1.1 server on a POSIX socket that answers every request
/// with one canned reply: a stand-in engine for replies the real one is hard
/// to provoke on demand. Requests arrive on `requests`.
final class ScriptedHTTPServer: Sendable {
    let port: UInt16
    let requests: AsyncStream<ReceivedRequest>
    private let listener: Int32

    init(status: Int, body: String, headers: [String: String] = [:]) throws {
        let (fd, port) = try listenOnLoopback()
        self.listener = fd
        self.port = port
        let (requests, continuation) = AsyncStream.makeStream(of: ReceivedRequest.self)
        self.requests = requests
        var reply = "HTTP/1.1 \(status) Scripted\r\nContent-Type: application/json\r\n"
        reply += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n"
        for (name, value) in headers { reply += "\(name): \(value)\r\n" }
        reply += "\r\n" + body
        let replyBytes = Array(reply.utf8)
        Thread.detachNewThread {
            while true {
                let connection = accept(fd, nil, nil)
                if connection < 0 { break }  // listener closed
                if let request = readRequest(connection) { continuation.yield(request) }
                _ = replyBytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
                close(connection)
            }
            continuation.finish()
        }
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

private func listenOnLoopback() throws -> (Int32, UInt16) {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw POSIXError(.EIO) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
        close(fd)
        throw POSIXError(.EADDRINUSE)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, UInt16(bigEndian: address.sin_port))
}

/// Reads one request (head plus Content-Length body) from a connection.
private func readRequest(_ connection: Int32) -> ReceivedRequest? {
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    let separator = Array("\r\n\r\n".utf8)
    while true {
        if let end = data.firstRange(of: separator) {
            let head = String(decoding: data[..<end.lowerBound], as: UTF8.self)
            let lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.first?.split(separator: " ") ?? []
            let length = lines.dropFirst()
                .first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            while data.count - end.upperBound < length {
                let n = recv(connection, &buffer, buffer.count, 0)
                if n <= 0 { return nil }
                data += buffer[..<n]
            }
            let body = String(decoding: data[end.upperBound..<(end.upperBound + length)], as: UTF8.self)
            guard requestLine.count >= 2 else { return nil }
            return ReceivedRequest(
                method: String(requestLine[0]), path: String(requestLine[1]), head: head, body: body)
        }
        let n = recv(connection, &buffer, buffer.count, 0)
        if n <= 0 { return nil }
        data += buffer[..<n]
    }
}

/// The running engine + livekit-server started by scripts/test-swift.sh
/// (utd-stack). `UTD_STACK_ENV` is the path of its JSON env file.
struct StackEnv: Decodable, Sendable {
    let engineUrl: String
    let livekitUrl: String
    let adminToken: String
    let controlUrl: String
    /// The engine's call ring timeout (utd-stack runs it at 3 s); nil from
    /// a stack that does not report it.
    let ringTimeoutMs: UInt64?
    /// The APNs stand-in the engine pushes VoIP calls to; nil from a stack
    /// without push stand-ins.
    let apnsUrl: String?
    /// The FCM stand-in the engine sends data messages to; nil from a stack
    /// without push stand-ins.
    let fcmUrl: String?
    /// The S3 store (versitygw) the engine keeps chat attachments in; nil
    /// when uploads are off (versitygw not installed).
    let s3Endpoint: String?

    enum CodingKeys: String, CodingKey {
        case engineUrl = "engine_url"
        case livekitUrl = "livekit_url"
        case adminToken = "admin_token"
        case controlUrl = "control_url"
        case ringTimeoutMs = "ring_timeout_ms"
        case apnsUrl = "apns_url"
        case fcmUrl = "fcm_url"
        case s3Endpoint = "s3_endpoint"
    }

    static func require() throws -> StackEnv {
        guard let raw = ProcessInfo.processInfo.environment["UTD_STACK_ENV"] else {
            throw StackError("UTD_STACK_ENV is not set: run the tests through scripts/test-swift.sh")
        }
        let json = raw.hasPrefix("{") ? Data(raw.utf8) : try Data(contentsOf: URL(fileURLWithPath: raw))
        return try JSONDecoder().decode(StackEnv.self, from: json)
    }

    /// Stops the engine (connected clients see their connection drop).
    func stopEngine() async throws { try await control("/engine/stop") }

    /// Starts the engine again on the same port with the same database.
    func startEngine() async throws { try await control("/engine/start") }

    private func control(_ path: String) async throws {
        let (status, body) = try await httpRequest("POST", url: trimmed(controlUrl) + path)
        guard (200..<300).contains(status) else {
            throw StackError("utd-stack control \(path) answered HTTP \(status): \(body)")
        }
    }

    /// The engine's admin API with the stack's admin token.
    var admin: EngineAdmin { EngineAdmin(engineUrl: engineUrl, adminToken: adminToken) }

    /// Every VoIP push the stack's APNs stand-in accepted so far, oldest
    /// first (`GET /pushes/apns`).
    func apnsPushes() async throws -> [RecordedVoIPPush] {
        try await recorded("/pushes/apns").map { item in
            guard let token = item["device_token"] as? String,
                let payload = item["payload"] as? [String: Any]
            else { throw StackError("an APNs push without device_token / payload: \(item)") }
            // As an app serializes PushKit's `dictionaryPayload` for handleCallPush.
            let json = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
            return RecordedVoIPPush(
                deviceToken: token,
                payloadJSON: String(decoding: json, as: UTF8.self),
                strings: payload.compactMapValues { $0 as? String })
        }
    }

    /// Every data message the stack's FCM stand-in accepted so far, oldest
    /// first (`GET /pushes/fcm`).
    func fcmMessages() async throws -> [RecordedFCMMessage] {
        try await recorded("/pushes/fcm").map { item in
            guard let token = item["device_token"] as? String, let data = item["data"] as? [String: Any] else {
                throw StackError("an FCM message without device_token / data: \(item)")
            }
            let strings = data.compactMapValues { $0 as? String }
            guard strings.count == data.count else { throw StackError("FCM data values are strings: \(item)") }
            return RecordedFCMMessage(deviceToken: token, data: strings)
        }
    }

    private func recorded(_ path: String) async throws -> [[String: Any]] {
        guard apnsUrl != nil, fcmUrl != nil else {
            throw StackError("this utd-stack runs no push stand-ins (no apns_url / fcm_url in its env file)")
        }
        let (status, body) = try await httpRequest("GET", url: trimmed(controlUrl) + path)
        guard status == 200 else { throw StackError("utd-stack control \(path) answered HTTP \(status): \(body)") }
        guard let items = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] else {
            throw StackError("utd-stack control \(path) is not an array of objects: \(body)")
        }
        return items
    }
}

/// A VoIP push as the APNs stand-in received it.
struct RecordedVoIPPush: Sendable, CustomStringConvertible {
    let deviceToken: String
    /// The payload dictionary serialized to JSON, as an iOS app hands
    /// `payload.dictionaryPayload` to `handleCallPush`.
    let payloadJSON: String
    /// The payload's string fields (`type`, `call_id`, `caller_identity`, ...).
    let strings: [String: String]

    var description: String { "VoIP push to \(deviceToken.prefix(8))…: \(payloadJSON)" }
}

/// An FCM data message as the FCM stand-in received it.
struct RecordedFCMMessage: Sendable, CustomStringConvertible {
    let deviceToken: String
    /// `RemoteMessage.data`.
    let data: [String: String]

    var description: String { "FCM message to \(deviceToken.prefix(12))…: \(data)" }
}

private func trimmed(_ url: String) -> String {
    url.hasSuffix("/") ? String(url.dropLast()) : url
}

/// One HTTP request through URLSession (FoundationNetworking on Linux);
/// returns (status, body).
func httpRequest(
    _ method: String, url: String, headers: [String: String] = [:], body: String? = nil
) async throws -> (Int, String) {
    guard let target = URL(string: url) else { throw StackError("bad URL \(url)") }
    var request = URLRequest(url: target, timeoutInterval: 30)
    request.httpMethod = method
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    if let body {
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
    }
    let finalRequest = request
    return try await withCheckedThrowingContinuation { continuation in
        URLSession.shared.dataTask(with: finalRequest) { data, response, error in
            if let error {
                continuation.resume(throwing: error)
                return
            }
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            continuation.resume(returning: (status, String(decoding: data ?? Data(), as: UTF8.self)))
        }.resume()
    }
}

/// An app created through the admin API: the publishable credentials.
struct AdminApp: Decodable, Sendable {
    let appId: String
    let appKey: String

    enum CodingKeys: String, CodingKey {
        case appId = "app_id"
        case appKey = "app_key"
    }
}

/// The engine's admin API (docs/engine-api.md §12) for scenario tests that
/// set plans, bans and rate limits.
struct EngineAdmin: Sendable {
    let engineUrl: String
    let adminToken: String

    @discardableResult
    private func call(_ method: String, _ path: String, json: String? = nil, expect: Int) async throws -> String {
        let (status, body) = try await httpRequest(
            method, url: trimmed(engineUrl) + path,
            headers: ["Authorization": "Bearer \(adminToken)"], body: json)
        guard status == expect else {
            throw StackError("admin \(method) \(path) answered HTTP \(status): \(body)")
        }
        return body
    }

    /// Creates an app on `plan` (`free`, `signaling`, `pro`, `enterprise`).
    func createApp(name: String, plan: String) async throws -> AdminApp {
        let body = try await call(
            "POST", "/admin/v1/apps", json: #"{"name":"\#(name)","plan":"\#(plan)"}"#, expect: 201)
        return try JSONDecoder().decode(AdminApp.self, from: Data(body.utf8))
    }

    func setPlan(appId: String, plan: String, reportCapabilities: Bool = true) async throws {
        try await call(
            "PUT", "/admin/v1/apps/\(appId)/plan",
            json: #"{"plan":"\#(plan)","report_capabilities":\#(reportCapabilities)}"#, expect: 200)
    }

    func ban(appId: String, identity: String) async throws {
        try await call("POST", "/admin/v1/apps/\(appId)/bans", json: #"{"identity":"\#(identity)"}"#, expect: 204)
    }

    func unban(appId: String, identity: String) async throws {
        try await call("DELETE", "/admin/v1/apps/\(appId)/bans/\(identity)", expect: 204)
    }

    func setRateLimits(appId: String, perUserPerMinute: Int, perAppPerMinute: Int) async throws {
        try await call(
            "PUT", "/admin/v1/apps/\(appId)/rate-limits",
            json: #"{"per_user_per_minute":\#(perUserPerMinute),"per_app_per_minute":\#(perAppPerMinute)}"#,
            expect: 200)
    }
}

struct StackError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The last value a wait saw, kept for its failure message. Sendable: its
/// only state is behind a lock.
final class LastSeen<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T?

    func set(_ newValue: T) {
        lock.lock()
        value = newValue
        lock.unlock()
    }

    func get() -> T? {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

/// The first element of `stream` matching `predicate` within `timeout`.
/// On a timeout it fails the test with `what` and the last element seen,
/// and throws (the test cannot go on). One wait per stream, as `first`.
@discardableResult
func awaitElement<T: Sendable>(
    _ stream: AsyncStream<T>,
    _ what: String,
    within timeout: Duration = .seconds(10),
    file: StaticString = #filePath,
    line: UInt = #line,
    where predicate: @escaping @Sendable (T) -> Bool
) async throws -> T {
    let last = LastSeen<T>()
    let found = await first(stream, within: timeout) { element in
        last.set(element)
        return predicate(element)
    }
    guard let found else {
        let seen = last.get().map { "\($0)" } ?? "nothing"
        XCTFail("\(what): not within \(timeout); last seen: \(seen)", file: file, line: line)
        throw StackError("timed out waiting for: \(what)")
    }
    return found
}

/// Polls `probe` every 20 ms until it holds, for state the SDK has no
/// listener for (a local participant's published sources). Fails the test
/// and throws after `timeout`.
func eventually(
    _ what: String,
    within timeout: Duration = .seconds(10),
    file: StaticString = #filePath,
    line: UInt = #line,
    _ probe: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !probe() {
        guard ContinuousClock.now < deadline else {
            XCTFail("\(what): not within \(timeout)", file: file, line: line)
            throw StackError("timed out waiting for: \(what)")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Asserts that `value` comes to equal `expected` within `timeout`, for
/// what reaches a test through an AsyncStream read on another task (the
/// CallKit bridge's events): read at once, it may not have arrived yet.
func assertEventuallyEqual<T: Equatable>(
    _ value: @autoclosure () -> T,
    _ expected: T,
    _ what: String = "",
    within timeout: Duration = .seconds(5),
    file: StaticString = #filePath,
    line: UInt = #line
) async {
    let deadline = ContinuousClock.now + timeout
    while value() != expected, ContinuousClock.now < deadline {
        try? await Task.sleep(for: .milliseconds(20))
    }
    XCTAssertEqual(value(), expected, what, file: file, line: line)
}

extension UTDSeats {
    /// The seat `identity` occupies, if any (the Rust `UTDSeats::seat_of`,
    /// which the bindings do not export).
    func seatOf(_ identity: String) -> UInt32? {
        seats.first { $0.identity == identity }?.index
    }

    /// Who sits on seat `index`; nil when it is free or does not exist.
    func holder(_ index: Int) -> String? {
        seats.first { $0.index == UInt32(index) }?.identity
    }
}

/// Track sources in a fixed order, so lists compare regardless of the
/// order the SDK reports them in.
func sortedSources(_ sources: [UTDTrackSource]) -> [UTDTrackSource] {
    sources.sorted { "\($0)" < "\($1)" }
}
