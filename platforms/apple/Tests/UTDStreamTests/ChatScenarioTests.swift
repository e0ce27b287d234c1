// Chat end to end from Swift, through the generated bindings and the
// AsyncStream adapters of ChatAsyncStreams.swift, against the real engine of
// utd-stack (and its versitygw S3 store for attachments): a 1:1 conversation
// with typing, read receipts and an attachment, and the durable send queue
// across a client restart while the engine is down. Each test makes its own
// `pro` app (the plan with the chat capability) through the admin API.
import Foundation
import UTDStream
import XCTest

final class ChatScenarioTests: XCTestCase {
    private static let wait: Duration = .seconds(20)

    /// A fresh `pro` app (chat on) in the stack's engine.
    private func newApp() async throws -> (StackEnv, AdminApp) {
        let stack = try StackEnv.require()
        let app = try await stack.admin.createApp(name: "swift-chat-\(UUID().uuidString)", plan: "pro")
        return (stack, app)
    }

    private func makeClient(_ stack: StackEnv, _ app: AdminApp) throws -> UTDStreamClient {
        try UTDStreamClient(appId: app.appId, appKey: app.appKey, baseUrl: stack.engineUrl)
    }

    private func tempDirectory(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The attachment as another member reads it: `GET /uploads/{id}` with
    /// that member's bearer (a `ready` upload with a presigned GET), then
    /// the GET from the S3 store. Returns the body.
    private func download(_ stack: StackEnv, bearer: String, _ attachment: UTDChatAttachment) async throws -> String {
        let uploadId = try XCTUnwrap(attachment.uploadId, "a received attachment has its upload id")
        let engine = stack.engineUrl.hasSuffix("/") ? String(stack.engineUrl.dropLast()) : stack.engineUrl
        let (status, body) = try await httpRequest(
            "GET", url: engine + "/api/v1/uploads/\(uploadId)", headers: ["Authorization": "Bearer \(bearer)"])
        XCTAssertEqual(status, 200, "GET /uploads/\(uploadId) as the receiver: \(body)")
        let upload = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "not an object: \(body)")
        XCTAssertEqual(upload["status"] as? String, "ready", body)
        let get = try XCTUnwrap(upload["get"] as? [String: Any], "a ready upload without a presigned GET: \(body)")
        let url = try XCTUnwrap(get["url"] as? String, body)
        let (getStatus, bytes) = try await httpRequest("GET", url: url)
        XCTAssertEqual(getStatus, 200, "GET of the presigned URL: \(bytes)")
        return bytes
    }

    func testADirectConversationWithTypingReceiptsAndAnAttachment() async throws {
        let (stack, app) = try await newApp()
        guard stack.s3Endpoint != nil else {
            XCTFail("this utd-stack runs without an S3 store (no s3_endpoint), so attachments cannot be sent: run scripts/setup.sh versitygw")
            return
        }
        let alice = try makeClient(stack, app)
        let bob = try makeClient(stack, app)
        let aliceDir = try tempDirectory("utd-chat-alice")
        let bobDir = try tempDirectory("utd-chat-bob")
        let files = try tempDirectory("utd-chat-files")
        defer {
            alice.dispose()
            bob.dispose()
            for dir in [aliceDir, bobDir, files] { try? FileManager.default.removeItem(at: dir) }
        }
        _ = try await alice.authenticate(identity: "alice")
        let bobBearer = try await bob.authenticate(identity: "bob")
        XCTAssertEqual(alice.chatEnabled(), true, "the pro plan has chat")
        try await alice.connect()
        try await bob.connect()
        let aliceChat = try alice.chat(storeDirectory: aliceDir.path)
        let bobChat = try bob.chat(storeDirectory: bobDir.path)
        XCTAssertEqual(aliceChat.identity(), "alice")

        let conversation = try await aliceChat.directConversation(identity: "bob")
        XCTAssertEqual(conversation.kind, .direct)
        XCTAssertEqual(conversation.peerIdentity, "bob")
        XCTAssertEqual(conversation.memberCount, 2)
        let id = conversation.conversationId
        let bobSide = try await bobChat.directConversation(identity: "alice")
        XCTAssertEqual(bobSide.conversationId, id, "one direct conversation per pair")
        try await awaitElement(aliceChat.conversationUpdates(), "the conversation is in alice's list", within: Self.wait) {
            $0.conversations.contains { $0.conversationId == id }
        }
        let aliceTimeline = try await aliceChat.timeline(conversationId: id)
        let bobTimeline = try await bobChat.timeline(conversationId: id)
        XCTAssertEqual(bobTimeline.conversationId(), id)
        XCTAssertTrue(bobTimeline.snapshot().items.isEmpty, "a new conversation: \(bobTimeline.snapshot())")

        // Typing: bob sees alice start; her message stops it.
        try await awaitElement(bobTimeline.typerUpdates(), "nobody types yet", within: Self.wait) { $0.isEmpty }
        try await aliceTimeline.setTyping(typing: true)
        try await awaitElement(bobTimeline.typerUpdates(), "bob sees alice typing", within: Self.wait) { $0 == ["alice"] }
        XCTAssertEqual(bobTimeline.typers(), ["alice"])
        XCTAssertEqual(aliceTimeline.typers(), [], "a user is never among her own typers")

        // A text message: the local echo at once, then the engine's message in its place.
        let echo = try await aliceTimeline.send(text: "hello bob", attachments: [])
        XCTAssertTrue(echo.isOwn)
        XCTAssertNil(echo.messageId, "an echo is not on the engine yet")
        XCTAssertNil(echo.seq)
        XCTAssertEqual(echo.sendState, .queued)
        XCTAssertEqual(echo.key, "alice/\(echo.clientMessageId)")
        try await awaitElement(bobTimeline.typerUpdates(), "sending stopped alice's typing", within: Self.wait) { $0.isEmpty }
        let echoKey = echo.key
        let aliceSent = try await awaitElement(
            aliceTimeline.snapshotUpdates(), "alice's message sent in place", within: Self.wait
        ) { s in s.items.contains { $0.key == echoKey && $0.sendState == .sent } }
        assertUniqueKeys(aliceSent, "alice's timeline")
        let sentItem = try XCTUnwrap(aliceSent.items.first { $0.key == echoKey })
        let seq = try XCTUnwrap(sentItem.seq)
        XCTAssertNotNil(sentItem.messageId)
        let bobFirst = try await awaitElement(
            bobTimeline.snapshotUpdates(), "bob receives the message", within: Self.wait
        ) { s in s.items.contains { $0.key == echoKey } }
        assertUniqueKeys(bobFirst, "bob's timeline")
        let received = try XCTUnwrap(bobFirst.items.first { $0.key == echoKey })
        XCTAssertEqual(received.text, "hello bob")
        XCTAssertEqual(received.senderIdentity, "alice")
        XCTAssertFalse(received.isOwn)
        XCTAssertEqual(received.seq, seq)
        XCTAssertEqual(received.messageId, sentItem.messageId)

        // Read receipts: bob's unread count, then his read mark at alice.
        try await awaitElement(bobChat.conversationUpdates(), "bob's list counts one unread", within: Self.wait) { list in
            list.totalUnread == 1 && list.conversations.contains { $0.conversationId == id && $0.unreadCount == 1 }
        }
        XCTAssertEqual(bobTimeline.unreadCount(), 1)
        XCTAssertEqual(bobChat.totalUnread(), 1)
        let unreadAfter = try await bobTimeline.markRead()
        XCTAssertEqual(unreadAfter, 0, "nothing unread after marking read")
        try await awaitElement(aliceTimeline.snapshotUpdates(), "alice sees bob's read receipt", within: Self.wait) { s in
            s.receipts.contains { $0.identity == "bob" && $0.lastReadSeq >= seq && $0.lastDeliveredSeq >= seq }
        }
        try await awaitElement(bobChat.conversationUpdates(), "bob's badge is cleared", within: Self.wait) { list in
            list.totalUnread == 0
                && list.conversations.contains { $0.conversationId == id && $0.unreadCount == 0 && $0.lastReadSeq >= seq }
        }
        XCTAssertEqual(bobTimeline.unreadCount(), 0)

        // An attachment: the SDK copies the file at send, so the app's copy may go.
        let content = String(repeating: "a small attachment from alice\n", count: 40)
        let file = files.appendingPathComponent("note.txt")
        try Data(content.utf8).write(to: file)
        let withFile = try await aliceTimeline.send(
            text: "see the file",
            attachments: [UTDOutgoingAttachment(path: file.path, contentType: "text/plain", fileName: "note.txt")])
        try FileManager.default.removeItem(at: file)
        XCTAssertEqual(withFile.attachments.count, 1)
        XCTAssertNotNil(withFile.attachments.first?.localPath, "an unsent attachment has its device copy")
        XCTAssertEqual(withFile.attachments.first?.size, UInt64(content.utf8.count))
        let fileKey = withFile.key
        let aliceWithFile = try await awaitElement(
            aliceTimeline.snapshotUpdates(), "alice's attachment sent", within: .seconds(45)
        ) { s in s.items.contains { $0.key == fileKey && $0.sendState == .sent } }
        assertUniqueKeys(aliceWithFile, "alice's timeline")
        let aliceAttachment = try XCTUnwrap(aliceWithFile.items.first { $0.key == fileKey }?.attachments.first)
        let bobWithFile = try await awaitElement(
            bobTimeline.snapshotUpdates(), "bob receives the attachment, ready", within: Self.wait
        ) { s in s.items.contains { $0.key == fileKey && $0.attachments.count == 1 && $0.attachments[0].uploadId != nil } }
        assertUniqueKeys(bobWithFile, "bob's timeline")
        let arrived = try XCTUnwrap(bobWithFile.items.first { $0.key == fileKey })
        XCTAssertEqual(arrived.text, "see the file")
        let attachment = try XCTUnwrap(arrived.attachments.first)
        XCTAssertEqual(attachment.uploadId, aliceAttachment.uploadId)
        XCTAssertEqual(attachment.contentType, "text/plain")
        XCTAssertEqual(attachment.size, UInt64(content.utf8.count))
        XCTAssertEqual(attachment.fileName, "note.txt")
        XCTAssertNil(attachment.localPath, "the receiver has no device copy")
        let downloaded = try await download(stack, bearer: bobBearer, attachment)
        XCTAssertEqual(downloaded, content, "the bytes bob downloads")
        XCTAssertEqual(bobTimeline.snapshot().items.map(\.key), [echoKey, fileKey])
    }

    func testMessagesQueuedWhileTheEngineIsDownAreSentInOrderByANewClientOverTheSameStore() async throws {
        let (stack, app) = try await newApp()
        let storeDir = try tempDirectory("utd-chat-queue")
        defer { try? FileManager.default.removeItem(at: storeDir) }
        let texts = ["first, offline", "second, offline", "third, offline"]

        // The first run of the app, ended as when it quits (client disposed): its objects go away.
        let (id, keys) = try await firstRunQueuesWhileTheEngineIsDown(stack, app, storeDir, texts)

        let bob = try makeClient(stack, app)
        defer { bob.dispose() }
        _ = try await bob.authenticate(identity: "bob")
        try await bob.connect()
        let bobChat = try bob.chat(storeDirectory: nil)
        let bobTimeline = try await bobChat.timeline(conversationId: id)
        XCTAssertTrue(bobTimeline.snapshot().items.isEmpty, "nothing reached the engine while it was down")
        // Made before alice's second run: every snapshot bob shows is checked.
        let bobSnapshots = bobTimeline.snapshotUpdates()

        // A new client over the same store directory sends the queue.
        let alice = try makeClient(stack, app)
        defer { alice.dispose() }
        _ = try await alice.authenticate(identity: "alice")
        try await alice.connect()
        let chat = try alice.chat(storeDirectory: storeDir.path)
        let timeline = try await chat.timeline(conversationId: id)
        let sent = try await awaitElement(
            timeline.snapshotUpdates(), "the restored queue sends all three", within: .seconds(45)
        ) { s in s.items.count == 3 && s.items.allSatisfy { $0.sendState == .sent } }
        assertUniqueKeys(sent, "alice's second timeline")
        XCTAssertEqual(sent.items.map(\.key), keys, "the same rows (same idempotency keys), in order")
        XCTAssertEqual(sent.items.map(\.text), texts)
        XCTAssertEqual(sent.items.map(\.seq), [1, 2, 3], "sent in queue order")

        let duplicates = LastSeen<[String]>()
        let atBob = try await awaitElement(bobSnapshots, "bob gets the three messages", within: Self.wait) { s in
            let keys = s.items.map(\.key)
            if Set(keys).count != keys.count { duplicates.set(keys) }
            return s.items.count >= 3
        }
        XCTAssertNil(duplicates.get(), "bob was shown a message twice")
        XCTAssertEqual(atBob.items.map(\.key), keys)
        XCTAssertEqual(atBob.items.map(\.text), texts)
        XCTAssertEqual(atBob.items.map(\.seq), [1, 2, 3])
        // Shown once on the engine too: exactly three messages were stored.
        let hitStart = try await bobTimeline.paginateBackwards(count: 50)
        XCTAssertTrue(hitStart, "the whole history is loaded")
        XCTAssertEqual(bobTimeline.snapshot().items.map(\.key), keys)
        try await bobChat.refresh()
        let listed = try XCTUnwrap(bobChat.conversations().conversations.first { $0.conversationId == id })
        XCTAssertEqual(listed.lastSeq, 3, "the engine holds three messages, no copy")
        XCTAssertEqual(listed.unreadCount, 3)
        XCTAssertEqual(listed.lastMessage?.text, texts.last)
    }

    /// Alice's first run: opens the conversation, then queues `texts` while
    /// the engine is stopped and waits until the queue found it unreachable;
    /// the client is disposed and the engine started again (also on a
    /// failure, for the tests after this one). Returns the conversation id
    /// and the rows' keys.
    private func firstRunQueuesWhileTheEngineIsDown(
        _ stack: StackEnv, _ app: AdminApp, _ storeDir: URL, _ texts: [String]
    ) async throws -> (String, [String]) {
        let client = try makeClient(stack, app)
        defer { client.dispose() }
        _ = try await client.authenticate(identity: "alice")
        try await client.connect()
        let chat = try client.chat(storeDirectory: storeDir.path)
        let id = try await chat.directConversation(identity: "bob").conversationId
        let timeline = try await chat.timeline(conversationId: id)

        try await stack.stopEngine()
        let queued: Result<[String], Error>
        do {
            var keys: [String] = []
            for text in texts {
                let echo = try await timeline.send(text: text, attachments: [])
                keys.append(echo.key)
            }
            let expected = keys
            // Shown at once and in order; the queue tried, found no engine, keeps them for later.
            let offline = try await awaitElement(
                timeline.snapshotUpdates(), "the queue finds the engine unreachable", within: Self.wait
            ) { s in
                guard s.items.map(\.key) == expected else { return false }
                if case .failed(_, let retryable) = s.items[0].sendState { return retryable }
                return false
            }
            XCTAssertEqual(offline.items.map(\.text), texts)
            XCTAssertFalse(offline.items.contains { $0.sendState == .sent }, "\(offline.items)")
            queued = .success(keys)
        } catch {
            queued = .failure(error)
        }
        client.dispose()
        try await stack.startEngine()
        return (id, try queued.get())
    }

    private func assertUniqueKeys(
        _ snapshot: UTDTimelineSnapshot, _ who: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let keys = snapshot.items.map(\.key)
        XCTAssertEqual(Set(keys).count, keys.count, "\(who) shows a message twice: \(keys)", file: file, line: line)
    }
}
