// Chat end to end from Kotlin, through the generated bindings and the Flow
// adapters of ChatFlows.kt, against the real engine of utd-stack (and its
// versitygw S3 store for attachments): a 1:1 conversation with typing, read
// receipts and an attachment, and the durable send queue across a client
// restart while the engine is down. Each test makes its own `pro` app (the
// plan with the chat capability) through the admin API.
package com.utdstream.tests

import com.utdstream.sdk.UTDChatAttachment
import com.utdstream.sdk.UTDConversationKind
import com.utdstream.sdk.UTDOutgoingAttachment
import com.utdstream.sdk.UTDSendState
import com.utdstream.sdk.UTDStreamClient
import com.utdstream.sdk.UTDTimelineSnapshot
import com.utdstream.sdk.conversationsFlow
import com.utdstream.sdk.snapshotsFlow
import com.utdstream.sdk.typersFlow
import java.io.File
import java.net.URI
import java.util.concurrent.atomic.AtomicInteger
import kotlin.io.path.createTempDirectory
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.async

private val WAIT = 20.seconds
private val chatAppCounter = AtomicInteger()

/** A fresh `pro` app (chat on) in the stack's engine. */
private fun newChatApp(): Pair<StackEnv, AdminApp> {
    val stack = StackEnv.require()
    val app = EngineAdmin(stack).createApp("kt-chat-${chatAppCounter.incrementAndGet()}-${System.nanoTime()}", "pro")
    return stack to app
}

private fun StackEnv.chatClient(app: AdminApp) = UTDStreamClient(app.appId, app.appKey, engineUrl)

/** The keys of a snapshot's rows, failing if one is shown twice. */
private fun UTDTimelineSnapshot.uniqueKeys(who: String): List<String> {
    val keys = items.map { it.key }
    check(keys.toSet().size == keys.size) { "$who shows a message twice: $keys" }
    return keys
}

/**
 * The attachment's bytes as another member reads them: `GET /uploads/{id}`
 * with that member's bearer (a `ready` upload with a presigned GET), then
 * the GET from the S3 store.
 */
private fun downloadAttachment(stack: StackEnv, bearer: String, attachment: UTDChatAttachment): ByteArray {
    val uploadId = assertNotNull(attachment.uploadId, "a received attachment has its upload id")
    val (status, body) = httpGet(
        stack.engineUrl.trimEnd('/') + "/api/v1/uploads/$uploadId",
        mapOf("Authorization" to "Bearer $bearer"),
    )
    assertEquals(200, status, "GET /uploads/$uploadId as the receiver: $body")
    val upload = parseJson(body) as? Map<*, *> ?: error("not an object: $body")
    assertEquals("ready", upload["status"], "upload status: $body")
    val get = upload["get"] as? Map<*, *> ?: error("a ready upload without a presigned GET: $body")
    val url = get["url"] as? String ?: error("no GET url: $body")
    val connection = URI(url).toURL().openConnection() as java.net.HttpURLConnection
    try {
        connection.connectTimeout = 5_000
        connection.readTimeout = 30_000
        assertEquals(200, connection.responseCode, "GET of the presigned URL")
        return connection.inputStream.use { it.readBytes() }
    } finally {
        connection.disconnect()
    }
}

fun registerChatScenarioTests(suite: TestSuite) {
    suite.asyncTest("chat: a 1:1 conversation with typing, read receipts and an attachment", timeout = 120.seconds) {
        val (stack, app) = newChatApp()
        checkNotNull(stack.s3Endpoint) {
            "this utd-stack runs without an S3 store (no s3_endpoint), so attachments cannot be sent: run scripts/setup.sh versitygw"
        }
        val alice = stack.chatClient(app)
        val bob = stack.chatClient(app)
        val aliceDir = createTempDirectory("utd-chat-alice-").toFile()
        val bobDir = createTempDirectory("utd-chat-bob-").toFile()
        val files = createTempDirectory("utd-chat-files-").toFile()
        try {
            alice.authenticate("alice")
            val bobBearer = bob.authenticate("bob")
            assertEquals(true, alice.chatEnabled(), "the pro plan has chat")
            alice.connect()
            bob.connect()
            val aliceChat = alice.chat(aliceDir.path)
            val bobChat = bob.chat(bobDir.path)
            assertEquals("alice", aliceChat.identity())

            val conversation = aliceChat.directConversation("bob")
            assertEquals(UTDConversationKind.DIRECT, conversation.kind)
            assertEquals("bob", conversation.peerIdentity)
            assertEquals(2u, conversation.memberCount)
            val id = conversation.conversationId
            assertEquals(id, bobChat.directConversation("alice").conversationId, "one direct conversation per pair")
            aliceChat.conversationsFlow().firstWithin("the conversation is in alice's list", WAIT) { list ->
                list.conversations.any { it.conversationId == id }
            }
            val aliceTimeline = aliceChat.timeline(id)
            val bobTimeline = bobChat.timeline(id)
            assertEquals(id, bobTimeline.conversationId())
            assertTrue(bobTimeline.snapshot().items.isEmpty(), "a new conversation: ${bobTimeline.snapshot()}")

            // Typing: bob sees alice start; her message stops it.
            bobTimeline.typersFlow().firstWithin("nobody types yet", WAIT) { it.isEmpty() }
            aliceTimeline.setTyping(true)
            bobTimeline.typersFlow().firstWithin("bob sees alice typing", WAIT) { it == listOf("alice") }
            assertEquals(listOf("alice"), bobTimeline.typers())
            assertTrue(aliceTimeline.typers().isEmpty(), "a user is never among her own typers: ${aliceTimeline.typers()}")

            // A text message: the local echo at once, then the engine's message in its place.
            val echo = aliceTimeline.send("hello bob")
            assertTrue(echo.isOwn)
            assertNull(echo.messageId, "an echo is not on the engine yet")
            assertNull(echo.seq)
            assertTrue(echo.sendState is UTDSendState.Queued, "${echo.sendState}")
            assertEquals("alice/${echo.clientMessageId}", echo.key)
            bobTimeline.typersFlow().firstWithin("sending stopped alice's typing", WAIT) { it.isEmpty() }
            val aliceSent = aliceTimeline.snapshotsFlow().firstWithin("alice's message sent in place", WAIT) { s ->
                s.uniqueKeys("alice's timeline")
                s.items.any { it.key == echo.key && it.sendState is UTDSendState.Sent }
            }
            val sentItem = aliceSent.items.single { it.key == echo.key }
            val seq = assertNotNull(sentItem.seq)
            assertNotNull(sentItem.messageId)
            val received = bobTimeline.snapshotsFlow().firstWithin("bob receives the message", WAIT) { s ->
                s.uniqueKeys("bob's timeline")
                s.items.any { it.key == echo.key }
            }.items.single { it.key == echo.key }
            assertEquals("hello bob", received.text)
            assertEquals("alice", received.senderIdentity)
            assertEquals(false, received.isOwn)
            assertEquals(seq, received.seq)
            assertEquals(sentItem.messageId, received.messageId)

            // Read receipts: bob's unread count, then his read mark at alice.
            bobChat.conversationsFlow().firstWithin("bob's list counts one unread", WAIT) { list ->
                list.totalUnread == 1uL && list.conversations.any { it.conversationId == id && it.unreadCount == 1uL }
            }
            assertEquals(1uL, bobTimeline.unreadCount())
            assertEquals(1uL, bobChat.totalUnread())
            assertEquals(0uL, bobTimeline.markRead(), "nothing unread after marking read")
            aliceTimeline.snapshotsFlow().firstWithin("alice sees bob's read receipt", WAIT) { s ->
                s.receipts.any { it.identity == "bob" && it.lastReadSeq >= seq && it.lastDeliveredSeq >= seq }
            }
            bobChat.conversationsFlow().firstWithin("bob's badge is cleared", WAIT) { list ->
                list.totalUnread == 0uL && list.conversations.any { it.conversationId == id && it.unreadCount == 0uL && it.lastReadSeq >= seq }
            }
            assertEquals(0uL, bobTimeline.unreadCount())

            // An attachment: the SDK copies the file at send, so the app's copy may go.
            val bytes = "a small attachment from alice\n".repeat(40).toByteArray()
            val file = File(files, "note.txt").apply { writeBytes(bytes) }
            val withFile = aliceTimeline.send(
                "see the file",
                listOf(UTDOutgoingAttachment(file.path, "text/plain", "note.txt")),
            )
            assertTrue(file.delete(), "the app's copy can be deleted after send")
            assertEquals(1, withFile.attachments.size)
            assertNotNull(withFile.attachments[0].localPath, "an unsent attachment has its device copy")
            assertEquals(bytes.size.toULong(), withFile.attachments[0].size)
            val aliceAttachment = aliceTimeline.snapshotsFlow().firstWithin("alice's attachment sent", 45.seconds) { s ->
                s.uniqueKeys("alice's timeline")
                s.items.any { it.key == withFile.key && it.sendState is UTDSendState.Sent }
            }.items.single { it.key == withFile.key }.attachments.single()
            val arrived = bobTimeline.snapshotsFlow().firstWithin("bob receives the attachment, ready", WAIT) { s ->
                s.uniqueKeys("bob's timeline")
                s.items.any { it.key == withFile.key && it.attachments.singleOrNull()?.uploadId != null }
            }.items.single { it.key == withFile.key }
            assertEquals("see the file", arrived.text)
            val attachment = arrived.attachments.single()
            assertEquals(aliceAttachment.uploadId, attachment.uploadId)
            assertEquals("text/plain", attachment.contentType)
            assertEquals(bytes.size.toULong(), attachment.size)
            assertEquals("note.txt", attachment.fileName)
            assertNull(attachment.localPath, "the receiver has no device copy")
            assertContentEquals(bytes, downloadAttachment(stack, bobBearer, attachment), "the bytes bob downloads")
            assertEquals(listOf(echo.key, withFile.key), bobTimeline.snapshot().items.map { it.key })
        } finally {
            alice.dispose()
            bob.dispose()
            aliceDir.deleteRecursively()
            bobDir.deleteRecursively()
            files.deleteRecursively()
        }
    }

    suite.asyncTest(
        "chat: messages queued while the engine is down are sent in order by a new client over the same store, shown once",
        timeout = 180.seconds,
    ) {
        val (stack, app) = newChatApp()
        val storeDir = createTempDirectory("utd-chat-queue-").toFile()
        val firstRun = stack.chatClient(app)
        var secondRun: UTDStreamClient? = null
        var bob: UTDStreamClient? = null
        var engineStopped = false
        var bobWatch: Deferred<UTDTimelineSnapshot>? = null
        val texts = listOf("first, offline", "second, offline", "third, offline")
        try {
            firstRun.authenticate("alice")
            firstRun.connect()
            val chat1 = firstRun.chat(storeDir.path)
            val id = chat1.directConversation("bob").conversationId
            val timeline1 = chat1.timeline(id)

            stack.stopEngine()
            engineStopped = true
            val echoes = texts.map { timeline1.send(it) }
            val keys = echoes.map { it.key }
            // Shown at once and in order; the queue tried, found no engine, keeps them for later.
            val offline = timeline1.snapshotsFlow().firstWithin("the queue finds the engine unreachable", WAIT) { s ->
                val first = s.items.firstOrNull()?.sendState
                s.uniqueKeys("alice's first timeline") == keys && first is UTDSendState.Failed && first.retryable
            }
            assertEquals(texts, offline.items.map { it.text })
            assertTrue(offline.items.none { it.sendState is UTDSendState.Sent }, "${offline.items}")

            // The first run ends (its client disposed, as when the app quits); nothing of it is used again.
            firstRun.dispose()
            timeline1.close()
            chat1.close()
            stack.startEngine()
            engineStopped = false

            val bobClient = stack.chatClient(app).also { bob = it }
            bobClient.authenticate("bob")
            bobClient.connect()
            val bobTimeline = bobClient.chat(null).timeline(id)
            assertTrue(bobTimeline.snapshot().items.isEmpty(), "nothing reached the engine while it was down")
            // Collected from before alice's second run: every snapshot bob shows is checked.
            val bobSeesThree = async(start = CoroutineStart.UNDISPATCHED) {
                bobTimeline.snapshotsFlow().firstWithin("bob gets the three messages", 60.seconds) { s ->
                    s.uniqueKeys("bob's timeline")
                    s.items.size >= 3
                }
            }.also { bobWatch = it }

            // A new client over the same store directory sends the queue.
            val alice2 = stack.chatClient(app).also { secondRun = it }
            alice2.authenticate("alice")
            alice2.connect()
            val chat2 = alice2.chat(storeDir.path)
            val timeline2 = chat2.timeline(id)
            val sent = timeline2.snapshotsFlow().firstWithin("the restored queue sends all three", 45.seconds) { s ->
                s.uniqueKeys("alice's second timeline")
                s.items.size == 3 && s.items.all { it.sendState is UTDSendState.Sent }
            }
            assertEquals(keys, sent.items.map { it.key }, "the same rows (same idempotency keys), in order")
            assertEquals(texts, sent.items.map { it.text })
            assertEquals(listOf(1uL, 2uL, 3uL), sent.items.map { it.seq }, "sent in queue order")

            val atBob = bobSeesThree.await()
            assertEquals(keys, atBob.items.map { it.key })
            assertEquals(texts, atBob.items.map { it.text })
            assertEquals(listOf(1uL, 2uL, 3uL), atBob.items.map { it.seq })
            // Shown once on the engine too: exactly three messages were stored.
            assertTrue(bobTimeline.paginateBackwards(50u), "the whole history is loaded")
            assertEquals(keys, bobTimeline.snapshot().uniqueKeys("bob's timeline"))
            bobClient.chat(null).refresh()
            val listed = bobClient.chat(null).conversations().conversations.single { it.conversationId == id }
            assertEquals(3uL, listed.lastSeq, "the engine holds three messages, no copy")
            assertEquals(3uL, listed.unreadCount)
            assertEquals(texts.last(), listed.lastMessage?.text)
        } finally {
            // Later tests need the engine whatever happened above.
            if (engineStopped) stack.startEngine()
            bobWatch?.cancel()
            firstRun.dispose()
            secondRun?.dispose()
            bob?.dispose()
            storeDir.deleteRecursively()
        }
    }
}
