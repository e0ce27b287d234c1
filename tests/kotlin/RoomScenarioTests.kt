// Audio rooms and live streams end to end from Kotlin: the scenarios of
// tests/audio_room.rs and tests/live_stream.rs through the generated
// bindings, against the real engine + livekit-server of utd-stack (webhooks
// wired). The engine decides who publishes, LiveKit pushes it, the session
// reflects it; seat and stage changes are pushed to every participant.
//
// The default transport is LiveKit's FFI library: real WebRTC media. Each
// test runs on its own app with unique room names; the media tests check what
// another session received (a tone by frequency and level, video by its bars).
// Pushed state is awaited through the Flow adapters of Flows.kt (never by
// polling the engine); a fixed wait is used only to check that nothing
// reached another room after a change was seen in the first one.
package com.utdstream.tests

import com.utdstream.sdk.UTDAudioRoomSession
import com.utdstream.sdk.UTDRoom
import com.utdstream.sdk.UTDRoomEvent
import com.utdstream.sdk.UTDRoomEventListener
import com.utdstream.sdk.UTDTrackKind
import com.utdstream.sdk.remoteAudioFlow
import com.utdstream.sdk.remoteVideoFlow
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import com.utdstream.sdk.UTDErrorCode
import com.utdstream.sdk.UTDLiveStreamSession
import com.utdstream.sdk.UTDSeatMode
import com.utdstream.sdk.UTDSeats
import com.utdstream.sdk.UTDSeatsListener
import com.utdstream.sdk.UTDStageRequest
import com.utdstream.sdk.UTDStageRequestListener
import com.utdstream.sdk.UTDStageRole
import com.utdstream.sdk.UTDStreamClient
import com.utdstream.sdk.UTDStreamException
import com.utdstream.sdk.UTDTrackSource
import com.utdstream.sdk.canPublishFlow
import com.utdstream.sdk.connectedFlow
import com.utdstream.sdk.remoteParticipantsFlow
import com.utdstream.sdk.seatsFlow
import com.utdstream.sdk.stageFlow
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull

/** How long a push may take to arrive. */
private val WAIT = 10.seconds

/** A whole test, joins included: under LiveKit's 60 s for a media-less session. */
private val TEST_TIMEOUT = 50.seconds

/**
 * One test's world: its own app on the `signaling` plan, unique room names,
 * one client per participant, and everything disposed at the end.
 */
private class Rooms(label: String) {
    private val stack = StackEnv.require()
    private val app = EngineAdmin(stack).createApp("kt-rooms-$label-${System.nanoTime()}", "signaling")
    private val suffix = System.nanoTime().toString(36)
    private val clients = ConcurrentLinkedQueue<UTDStreamClient>()
    private val audioRooms = ConcurrentLinkedQueue<UTDAudioRoomSession>()
    private val liveStreams = ConcurrentLinkedQueue<UTDLiveStreamSession>()

    /** A room name no other test (or run) uses. */
    fun name(base: String) = "$base-$suffix"

    private fun client() = UTDStreamClient(app.appId, app.appKey, stack.engineUrl).also { clients += it }

    /** [identity] joins the audio room [room]; as its host with [hostSeats] (count, mode). */
    suspend fun audio(room: String, identity: String, hostSeats: Pair<UInt, UTDSeatMode>? = null): UTDAudioRoomSession {
        val session = try {
            client().joinAudioRoom(
                identity = identity,
                roomName = room,
                asHost = hostSeats != null,
                name = identity.uppercase(),
                seatCount = hostSeats?.first,
                seatMode = hostSeats?.second,
            )
        } catch (e: UTDStreamException) {
            throw AssertionError("$identity joins $room: $e", e)
        }
        audioRooms += session
        return session
    }

    /** [identity] joins the live stream [room] (as its host with [asHost]). */
    suspend fun live(room: String, identity: String, asHost: Boolean = false): UTDLiveStreamSession {
        val session = try {
            client().joinLiveStream(identity = identity, roomName = room, asHost = asHost)
        } catch (e: UTDStreamException) {
            throw AssertionError("$identity joins $room: $e", e)
        }
        liveStreams += session
        return session
    }

    suspend fun dispose() = coroutineScope {
        (audioRooms.map { async { it.dispose() } } + liveStreams.map { async { it.dispose() } }).awaitAll()
        clients.forEach { it.dispose() }
    }
}

/** Runs [body] with a fresh [Rooms]; disposes it whatever happened (bounded, even when cancelled). */
private suspend fun withRooms(label: String, body: suspend CoroutineScope.(Rooms) -> Unit) = coroutineScope {
    val rooms = Rooms(label)
    try {
        body(rooms)
    } finally {
        withContext(NonCancellable) { withTimeoutOrNull(15.seconds) { rooms.dispose() } }
    }
}

/** Runs [block], which must fail with [code]; returns the error. */
private inline fun expectError(code: UTDErrorCode, what: String, block: () -> Unit): UTDStreamException {
    val error = assertFailsWith<UTDStreamException>("$what: expected $code") { block() }
    assertEquals(code, error.code(), "$what: $error")
    return error
}

/** Who sits on seat [index], null when it is free. */
private fun UTDSeats.holder(index: Int): String? = seats.getOrNull(index)?.identity

/** The index of [identity]'s seat, null when they hold none. */
private fun UTDSeats.seatOf(identity: String): UInt? = seats.firstOrNull { it.identity == identity }?.index

private fun UTDAudioRoomSession.holder(index: Int): String? = seats()?.holder(index)

/** The sources this device publishes now, in a stable order. */
private fun UTDLiveStreamSession.published(): List<UTDTrackSource> =
    room().localParticipant()?.publishedSources.orEmpty().sortedBy { it.name }

private fun UTDLiveStreamSession.onStage(identity: String) = stage().any { it.identity == identity }

/** Records every seat grid a raw `observeSeats` listener is given. */
private class SeatsRecorder : UTDSeatsListener {
    val grids = CopyOnWriteArrayList<UTDSeats>()

    override fun onSeats(seats: UTDSeats) {
        grids += seats
    }
}

/** Hands raised to a host, through a raw `observeStageRequests` listener. */
private class RaisedHands : UTDStageRequestListener {
    val requests = Channel<UTDStageRequest>(Channel.UNLIMITED)

    override fun onStageRequest(request: UTDStageRequest) {
        requests.trySend(request)
    }
}

fun registerRoomScenarioTests(suite: TestSuite) {
    registerAudioRoomTests(suite)
    registerLiveStreamTests(suite)
    registerRoomMediaTests(suite)
}

/** Pushes [tone] through this room's audio sink until the scope ends (the sink paces it at real time). */
fun CoroutineScope.sing(room: UTDRoom, tone: Tone) = launch(Dispatchers.Default) {
    val sink = room.audioSink()
    while (isActive) sink.pushFrame(tone.nextFrame())
}

/** Collects [identity]'s decoded audio at [room] until the last 500 ms are a tone of [frequency]. */
suspend fun hearTone(room: UTDRoom, identity: String, frequency: Double, timeout: kotlin.time.Duration) {
    val heard = ArrayList<Short>()
    val ok = withTimeoutOrNull(timeout) {
        room.remoteAudioFlow(identity).first { frame ->
            heard.addAll(frame.samples)
            if (heard.size > 48_000) heard.subList(0, heard.size - 48_000).clear()
            isTone(heard.takeLast(24_000), frequency)
        }
    }
    if (ok == null) throw AssertionError("$identity never sounded like $frequency Hz: ${readTone(heard.takeLast(24_000))}")
}

private fun registerRoomMediaTests(suite: TestSuite) {
    suite.asyncTest("media: audio room — the seated speaker's tone reaches the host; data reaches only its addressee", TEST_TIMEOUT) {
        withRooms("media-seat") { rooms ->
            val lounge = rooms.name("lounge")
            val host = rooms.audio(lounge, "host", 4u to UTDSeatMode.FREE)
            val speaker = rooms.audio(lounge, "speaker")
            val bystander = rooms.audio(lounge, "bystander")
            val voice = sing(speaker.room(), Tone(440.0))
            speaker.takeSeat(1u)
            host.room().remoteParticipantsFlow().firstWithin("the host sees the speaker", WAIT) { list -> list.any { it.identity == "speaker" } }
            hearTone(host.room(), "speaker", 440.0, WAIT)
            voice.cancel()

            host.room().remoteParticipantsFlow().firstWithin("the host sees both", WAIT) { it.size == 2 }
            delay(500.milliseconds) // data sent before a receiver's data channel is up is lost
            val atSpeaker = Channel<UTDRoomEvent>(Channel.UNLIMITED)
            val atBystander = Channel<UTDRoomEvent>(Channel.UNLIMITED)
            val s1 = speaker.room().observeEvents(object : UTDRoomEventListener { override fun onEvent(event: UTDRoomEvent) { atSpeaker.trySend(event) } })
            val s2 = bystander.room().observeEvents(object : UTDRoomEventListener { override fun onEvent(event: UTDRoomEvent) { atBystander.trySend(event) } })
            try {
                host.room().sendData("only for you".toByteArray(), true, listOf("speaker"), "dm")
                host.room().sendData("marker".toByteArray(), true, listOf("bystander"), null)
                val got = withTimeoutOrNull(WAIT) {
                    var e = atSpeaker.receive()
                    while (e !is UTDRoomEvent.DataReceived) e = atSpeaker.receive()
                    e
                } ?: throw AssertionError("the speaker got no data")
                assertEquals("only for you", String(got.payload))
                assertEquals("dm", got.topic)
                assertEquals("host", got.from)
                val seen = withTimeoutOrNull(WAIT) {
                    var e = atBystander.receive()
                    while (e !is UTDRoomEvent.DataReceived) e = atBystander.receive()
                    e
                } ?: throw AssertionError("the bystander got no marker")
                assertEquals("marker", String(seen.payload), "the bystander got nothing addressed to the speaker")
            } finally {
                s1.cancel()
                s2.cancel()
            }
        }
    }

    suite.asyncTest("media: live stream — a viewer receives the host's video frames at the pushed size, showing the pattern", TEST_TIMEOUT) {
        withRooms("media-video") { rooms ->
            val show = rooms.name("show")
            val host = rooms.live(show, "host", asHost = true)
            val viewer = rooms.live(show, "viewer")
            val camera = launch(Dispatchers.Default) {
                val sink = host.room().videoSink()
                var ts = 0L
                while (isActive) {
                    sink.pushFrame(patternFrame(320, 240, ts))
                    ts += 33_000
                    delay(33.milliseconds)
                }
            }
            host.goLive(true)
            val participants = viewer.room().remoteParticipantsFlow().firstWithin("the host's camera is subscribed", WAIT) { list ->
                list.any { p -> p.identity == "host" && p.tracks.any { it.source == UTDTrackSource.CAMERA && it.subscribed } }
            }
            val track = participants.first { it.identity == "host" }.tracks.first { it.source == UTDTrackSource.CAMERA }
            assertEquals(UTDTrackKind.VIDEO, track.kind)
            viewer.room().remoteVideoFlow(track.sid).firstWithin("a 320x240 frame showing the pattern", WAIT) { showsPattern(it, 320, 240) }
            camera.cancel()
        }
    }
}

private fun registerAudioRoomTests(suite: TestSuite) {
    suite.asyncTest("rooms: audio room — a seat is what grants publish, and the host is pushed every seat change", TEST_TIMEOUT) {
        withRooms("seat") { rooms ->
            val lobby = rooms.name("lobby")
            val host = rooms.audio(lobby, "host", 4u to UTDSeatMode.FREE)
            assertTrue(host.isHost())
            assertTrue(host.room().canPublish(), "the host publishes from the start")
            val listener = rooms.audio(lobby, "listener")
            assertFalse(listener.isHost())
            assertEquals(4u, listener.seats()?.seatCount)
            assertFalse(listener.room().canPublish(), "listeners join without publish")

            expectError(UTDErrorCode.FORBIDDEN, "no seat, no microphone") { listener.room().setMicrophone(true) }

            // Returns once LiveKit pushed the grant and the microphone is on.
            listener.takeSeat(1u)
            assertTrue(listener.room().canPublish(), "canPublish flipped true on takeSeat")
            val local = assertNotNull(listener.room().localParticipant(), "connected")
            assertEquals(listOf(UTDTrackSource.MICROPHONE), local.publishedSources)
            assertEquals(listOf(UTDTrackSource.MICROPHONE), local.permission.canPublishSources)
            host.seatsFlow().firstWithin("the host is pushed the new seat grid", WAIT) { it.holder(1) == "listener" }
            host.room().remoteParticipantsFlow().firstWithin("the host's room sees the listener may publish", WAIT) { list ->
                list.any { it.identity == "listener" && it.canPublish }
            }

            listener.leaveSeat()
            listener.room().canPublishFlow().firstWithin("canPublish false as pushed by LiveKit", WAIT) { !it }
            expectError(UTDErrorCode.FORBIDDEN, "off the seat") { listener.room().setMicrophone(true) }
            host.seatsFlow().firstWithin("the host is pushed the freed seat", WAIT) { it.holder(1) == null }
            host.room().remoteParticipantsFlow().firstWithin("the host's room sees the listener's grant revoked", WAIT) { list ->
                list.any { it.identity == "listener" && !it.canPublish }
            }
        }
    }

    suite.asyncTest("rooms: audio room — request mode: the host hears the request, approves it, and invites to a chosen seat", TEST_TIMEOUT) {
        withRooms("request") { rooms ->
            val stage = rooms.name("stage")
            val host = rooms.audio(stage, "host", 5u to UTDSeatMode.REQUEST)
            val asker = rooms.audio(stage, "asker")
            val guest = rooms.audio(stage, "guest")

            expectError(UTDErrorCode.FORBIDDEN, "request mode: listeners cannot just sit") { asker.takeSeat(2u) }

            val requestId = asker.requestToSpeak()
            assertEquals(requestId, asker.requestToSpeak(), "asking twice is the same request")
            host.seatsFlow().firstWithin("the host is pushed the request", WAIT) { grid ->
                grid.requests.any { it.requestId == requestId && it.identity == "asker" }
            }
            val approved = host.approveSpeaker(requestId)
            assertEquals(0u, approved.seatOf("asker"), "the lowest free seat (the host sits on none)")
            asker.room().canPublishFlow().firstWithin("the asker may publish once approved", WAIT) { it }
            asker.room().setMicrophone(true)
            assertEquals(listOf(UTDTrackSource.MICROPHONE), asker.room().localParticipant()?.publishedSources)

            host.inviteToSpeak("guest", 3u)
            guest.room().canPublishFlow().firstWithin("the guest may publish once invited", WAIT) { it }
            guest.seatsFlow().firstWithin("the guest is pushed its seat", WAIT) { it.seatOf("guest") == 3u }
            expectError(UTDErrorCode.CONFLICT, "seat 3 is taken") { host.inviteToSpeak("host", 3u) }
        }
    }

    suite.asyncTest("rooms: audio room — setupSeats, inviteToSpeak and approveSpeaker by a listener are forbidden", TEST_TIMEOUT) {
        withRooms("forbidden") { rooms ->
            val club = rooms.name("club")
            val host = rooms.audio(club, "host", 3u to UTDSeatMode.REQUEST)
            val listener = rooms.audio(club, "listener")
            val requestId = listener.requestToSpeak()

            expectError(UTDErrorCode.FORBIDDEN, "setupSeats") { listener.setupSeats(8u) }
            expectError(UTDErrorCode.FORBIDDEN, "inviteToSpeak") { listener.inviteToSpeak("listener") }
            expectError(UTDErrorCode.FORBIDDEN, "approveSpeaker") { listener.approveSpeaker(requestId) }

            val seats = host.getSeats()
            assertEquals(3u, seats.seatCount, "nothing changed")
            assertEquals(UTDSeatMode.REQUEST, seats.seatMode)
            assertTrue(seats.seats.all { it.identity == null }, "nobody seated: $seats")
            assertFalse(listener.room().canPublish())
        }
    }

    suite.asyncTest("rooms: audio room — 20 concurrent takers of one seat make exactly one speaker", TEST_TIMEOUT) {
        withRooms("race") { rooms ->
            val race = rooms.name("race")
            val host = rooms.audio(race, "host", 2u to UTDSeatMode.FREE)
            val identities = (0 until 20).map { "taker%02d".format(it) }
            val takers = identities.map { identity -> async { rooms.audio(race, identity) } }.awaitAll()

            val results = takers.map { taker -> async { runCatching { taker.takeSeat(0u) } } }.awaitAll()
            val winners = results.indices.filter { results[it].isSuccess }
            assertEquals(1, winners.size, "exactly one winner: $results")
            val losers = results.mapNotNull { it.exceptionOrNull() }
            assertEquals(19, losers.size)
            for (error in losers) {
                assertTrue(error is UTDStreamException && error.code() == UTDErrorCode.CONFLICT, "losers get conflict: $error")
            }
            val winner = winners.single()
            assertTrue(takers[winner].room().canPublish())
            for ((member, who) in takers.zip(identities) + (host to "host")) {
                member.seatsFlow().firstWithin("$who is pushed the winner ${identities[winner]}", WAIT) {
                    it.holder(0) == identities[winner]
                }
            }
            for (i in takers.indices) {
                if (i != winner) assertFalse(takers[i].room().canPublish(), "${identities[i]} got no grant")
            }
        }
    }

    suite.asyncTest("rooms: audio room — a second room never sees the first room's seat changes or participants", TEST_TIMEOUT) {
        withRooms("isolation") { rooms ->
            val roomA = rooms.name("room-a")
            val roomB = rooms.name("room-b")
            val hostA = rooms.audio(roomA, "host-a", 3u to UTDSeatMode.FREE)
            val hostB = rooms.audio(roomB, "host-b", 3u to UTDSeatMode.FREE)
            val listenerB = rooms.audio(roomB, "listener-b")
            val seenB = assertNotNull(hostB.seats(), "B's grid")
            val recorderB = SeatsRecorder()
            val subscriptionB = listenerB.observeSeats(recorderB)
            try {
                eventually("B's listener is given the current grid", WAIT) { recorderB.grids.isNotEmpty() }
                // B's participant list works: it shows B's own listener.
                hostB.room().remoteParticipantsFlow().firstWithin("B's host sees B's listener", WAIT) { list ->
                    list.any { it.identity == "listener-b" }
                }

                val speakerA = rooms.audio(roomA, "speaker-a")
                speakerA.takeSeat(2u)
                hostA.seatsFlow().firstWithin("A's host sees A's speaker", WAIT) { it.holder(2) == "speaker-a" }
                hostA.room().remoteParticipantsFlow().firstWithin("A's host sees A's speaker join", WAIT) { list ->
                    list.any { it.identity == "speaker-a" }
                }
                // A change in A has been pushed and seen; give B the same time to be wrong.
                delay(300.milliseconds)
                assertEquals(seenB, hostB.seats(), "B's grid did not move")
                assertEquals(seenB, listenerB.seats(), "B's listener's grid did not move")
                assertTrue(recorderB.grids.all { it == seenB }, "B's listener was pushed only B's grid: ${recorderB.grids}")
                assertEquals(listOf("listener-b"), hostB.room().remoteParticipants().map { it.identity }, "nobody from A appears in B")
                assertEquals(listOf("host-b"), listenerB.room().remoteParticipants().map { it.identity }, "nobody from A appears in B")
            } finally {
                subscriptionB.cancel()
            }
        }
    }

    suite.asyncTest("rooms: audio room — a speaker leaving the media room frees the seat; rejoin works; dispose ends the session", TEST_TIMEOUT) {
        withRooms("leave") { rooms ->
            val den = rooms.name("den")
            val host = rooms.audio(den, "host", 2u to UTDSeatMode.FREE)
            val speaker = rooms.audio(den, "speaker")
            speaker.takeSeat(0u)
            host.seatsFlow().firstWithin("the host sees the speaker seated", WAIT) { it.holder(0) == "speaker" }

            speaker.leave()
            assertFalse(speaker.room().isConnected())
            speaker.room().connectedFlow().firstWithin("connectedFlow says disconnected", WAIT) { !it }
            host.seatsFlow().firstWithin("LiveKit's webhook frees the seat, pushed to the host", WAIT) { it.holder(0) == null }
            speaker.seatsFlow().firstWithin("the departed speaker still hears seat updates", WAIT) { it.holder(0) == null }
            host.room().remoteParticipantsFlow().firstWithin("the host sees the speaker gone", WAIT) { list ->
                list.none { it.identity == "speaker" }
            }

            speaker.rejoin()
            assertTrue(speaker.room().isConnected())
            assertFalse(speaker.room().canPublish(), "rejoined as a listener")
            host.room().remoteParticipantsFlow().firstWithin("the host sees the speaker back", WAIT) { list ->
                list.any { it.identity == "speaker" && !it.canPublish }
            }

            speaker.dispose()
            speaker.dispose() // idempotent
            expectError(UTDErrorCode.DISPOSED, "getSeats after dispose") { speaker.getSeats() }
            expectError(UTDErrorCode.DISPOSED, "takeSeat after dispose") { speaker.takeSeat(1u) }
            expectError(UTDErrorCode.DISPOSED, "rejoin after dispose") { speaker.rejoin() }
            expectError(UTDErrorCode.DISPOSED, "setMicrophone after dispose") { speaker.room().setMicrophone(true) }
            assertEquals(den, speaker.roomName(), "plain getters still answer")
        }
    }
}

private fun registerLiveStreamTests(suite: TestSuite) {
    suite.asyncTest("rooms: live stream — the stage is what grants publish, and the viewer follows it", TEST_TIMEOUT) {
        withRooms("stage") { rooms ->
            val show = rooms.name("show")
            val host = rooms.live(show, "host", asHost = true)
            assertTrue(host.isHost())
            host.goLive(withVideo = true)
            assertEquals(listOf(UTDTrackSource.CAMERA, UTDTrackSource.MICROPHONE), host.published())
            assertEquals(UTDStageRole.Host, host.stage().firstOrNull()?.role, "host first: ${host.stage()}")

            val viewer = rooms.live(show, "viewer")
            assertFalse(viewer.isHost())
            assertFalse(viewer.room().canPublish())
            expectError(UTDErrorCode.FORBIDDEN, "a viewer cannot broadcast") { viewer.goLive(withVideo = true) }
            assertEquals(emptyList<UTDTrackSource>(), viewer.published())
            // No media on this transport: the host's grant is what others see.
            viewer.room().remoteParticipantsFlow().firstWithin("the viewer sees the host, allowed to publish", WAIT) { list ->
                list.any { it.identity == "host" && it.canPublish }
            }

            host.inviteToStage("viewer")
            viewer.room().canPublishFlow().firstWithin("the viewer's canPublish follows the invite", WAIT) { it }
            viewer.stageFlow().firstWithin("the viewer is pushed the stage with itself as co-host", WAIT) { stage ->
                stage.members.any { it.identity == "viewer" && it.role == UTDStageRole.CoHost }
            }
            viewer.goLive(withVideo = true)
            assertEquals(listOf(UTDTrackSource.CAMERA, UTDTrackSource.MICROPHONE), viewer.published())

            host.removeFromStage("viewer")
            viewer.room().canPublishFlow().firstWithin("demotion revokes the viewer's publish", WAIT) { !it }
            eventually("the demoted viewer's tracks go away", WAIT) { viewer.published().isEmpty() }
            viewer.stageFlow().firstWithin("the viewer is pushed the stage without itself", WAIT) { stage ->
                stage.members.none { it.identity == "viewer" }
            }
            expectError(UTDErrorCode.FORBIDDEN, "off stage") { viewer.room().setCamera(true) }
        }
    }

    suite.asyncTest("rooms: live stream — a raised hand reaches the host's listener and a co-host can step down", TEST_TIMEOUT) {
        withRooms("hand") { rooms ->
            val show = rooms.name("show")
            val host = rooms.live(show, "host", asHost = true)
            val hands = RaisedHands()
            val subscription = host.observeStageRequests(hands)
            try {
                val viewer = rooms.live(show, "viewer")

                viewer.requestStage()
                val raised = withTimeoutOrNull(WAIT) { hands.requests.receive() }
                    ?: throw AssertionError("the host's observeStageRequests listener hears the raised hand: not within $WAIT")
                assertEquals("viewer", raised.identity)
                assertTrue(raised.createdAtMs > 0u, "$raised")
                host.stageFlow().firstWithin("the host's stage lists the request", WAIT) { stage ->
                    stage.requests.any { it.identity == "viewer" }
                }
                assertTrue(hands.requests.tryReceive().isFailure, "one raised hand, heard once")

                host.inviteToStage("viewer")
                viewer.room().canPublishFlow().firstWithin("on stage: may publish", WAIT) { it }
                viewer.goLive(withVideo = false)
                assertEquals(listOf(UTDTrackSource.MICROPHONE), viewer.published(), "audio only")

                val after = viewer.leaveStage()
                assertTrue(after.members.none { it.identity == "viewer" }, "$after")
                viewer.room().canPublishFlow().firstWithin("stepping down revokes publish", WAIT) { !it }
                assertEquals(emptyList<UTDTrackSource>(), viewer.published(), "camera and mic are off")
                host.stageFlow().firstWithin("the host is pushed the smaller stage", WAIT) { stage ->
                    stage.members.none { it.identity == "viewer" }
                }

                expectError(UTDErrorCode.INVALID_STATE, "the host cannot leave the stage") { host.leaveStage() }
                assertTrue(host.onStage("host"))
            } finally {
                subscription.cancel()
            }
        }
    }

    suite.asyncTest("rooms: live stream — six co-hosts (no cap), and a viewer cannot manage the stage", TEST_TIMEOUT) {
        withRooms("cohosts") { rooms ->
            val show = rooms.name("show")
            val host = rooms.live(show, "host", asHost = true)
            val names = (0 until 6).map { "viewer$it" }
            val viewers = names.map { name -> async { rooms.live(show, name) } }.awaitAll()
            for (name in names) host.inviteToStage(name)
            for ((viewer, name) in viewers.zip(names)) {
                viewer.room().canPublishFlow().firstWithin("$name may publish once invited", WAIT) { it }
            }
            assertEquals(7, host.stage().size, "host + 6 co-hosts, no cap: ${host.stage()}")
            assertEquals(6, host.stage().count { it.role == UTDStageRole.CoHost })

            val outsider = rooms.live(show, "outsider")
            expectError(UTDErrorCode.FORBIDDEN, "a viewer invites") { outsider.inviteToStage("outsider") }
            expectError(UTDErrorCode.FORBIDDEN, "a viewer removes") { outsider.removeFromStage("viewer0") }
            expectError(UTDErrorCode.FORBIDDEN, "a co-host invites") { viewers[0].inviteToStage("outsider") }
            assertTrue(host.onStage("viewer0"))
            assertEquals(7, host.refreshStage().members.size, "nothing changed")
            assertFalse(outsider.room().canPublish())
        }
    }

    suite.asyncTest("rooms: live stream — another stream's viewers never see this stream's stage", TEST_TIMEOUT) {
        withRooms("streams") { rooms ->
            val showA = rooms.name("show-a")
            val showB = rooms.name("show-b")
            val hostA = rooms.live(showA, "host-a", asHost = true)
            val viewerA = rooms.live(showA, "viewer-a")
            val viewerB = rooms.live(showB, "viewer-b")
            val bBefore = viewerB.stageState()

            hostA.inviteToStage("viewer-a")
            viewerA.room().canPublishFlow().firstWithin("A's viewer is promoted", WAIT) { it }
            viewerA.stageFlow().firstWithin("A's viewer is pushed A's stage", WAIT) { stage ->
                stage.members.any { it.identity == "viewer-a" }
            }
            // A change in A has been pushed and seen; give B the same time to be wrong.
            delay(300.milliseconds)
            assertEquals(bBefore, viewerB.stageState(), "B's stage did not move")
            assertTrue(viewerB.room().remoteParticipants().isEmpty(), "${viewerB.room().remoteParticipants()}")
            assertFalse(viewerB.room().canPublish())
            expectError(UTDErrorCode.NOT_FOUND, "viewer-b is not in A") { hostA.inviteToStage("viewer-b") }
        }
    }
}
