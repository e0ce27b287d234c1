// Idiomatic Kotlin on top of the generated bindings: each observable of the
// SDK (client, logs, rooms and their sessions, calls, the calls kit) as a cold Flow. Collecting
// subscribes (state flows give the current value first, event flows what
// happens from then on); cancelling the collector cancels the SDK
// subscription. Listeners run on SDK threads: trySend never blocks them.
package com.utdstream.sdk

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.channels.Channel

/** Signalling connection state: current value first, then each change. */
fun UTDStreamClient.connectionStateFlow(): Flow<UTDConnectionState> = callbackFlow {
    val subscription = observeConnectionState(object : UTDConnectionStateListener {
        override fun onConnectionState(state: UTDConnectionState) {
            trySend(state)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/** Plan capabilities: current value first, then each change. */
fun UTDStreamClient.capabilitiesFlow(): Flow<UTDCapabilities> = callbackFlow {
    val subscription = observeCapabilities(object : UTDCapabilitiesListener {
        override fun onCapabilities(capabilities: UTDCapabilities) {
            trySend(capabilities)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/** Presence of watched users (a full snapshot each time). */
fun UTDStreamClient.presenceFlow(): Flow<List<UTDPresence>> = callbackFlow {
    val subscription = observePresence(object : UTDPresenceListener {
        override fun onPresence(presence: List<UTDPresence>) {
            trySend(presence)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/** SDK log records at [minLevel] or more severe, redacted. */
fun sdkLogFlow(minLevel: UTDLogLevel): Flow<UTDLogRecord> = callbackFlow {
    val subscription = subscribeLogs(minLevel, object : UTDLogListener {
        override fun onLog(record: UTDLogRecord) {
            trySend(record)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 1024, onBufferOverflow = BufferOverflow.DROP_OLDEST)

// ---- Rooms: UTDRoom, UTDAudioRoomSession, UTDLiveStreamSession ----
//
// State flows (connected, canPublish, participants, seats, stage) give the
// current value first, then every change; a slow collector skips to the
// newest value, which for a state is all it needs. Event flows (room events,
// stage requests) give what happens from the moment collection starts (the
// SDK subscription is made when the collector starts, so start collecting
// before the action whose events you want). None of these flows completes by
// itself when its session is disposed: the SDK just stops delivering, so
// bound a wait with withTimeout or cancel the collector.

/**
 * Whether the media room is connected: the current value first, then each
 * change (`leave()` turns it false, `rejoin()` true again).
 */
fun UTDRoom.connectedFlow(): Flow<Boolean> = callbackFlow {
    val subscription = observeConnected(object : UTDFlagListener {
        override fun onValue(value: Boolean) {
            trySend(value)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * Whether the server lets this participant publish: the current value first,
 * then each permission push (a seat taken or left, a stage invite or
 * removal). Only the server changes it.
 *
 * ```
 * session.takeSeat(1u)
 * session.room().canPublishFlow().first { it } // show the microphone button
 * ```
 */
fun UTDRoom.canPublishFlow(): Flow<Boolean> = callbackFlow {
    val subscription = observeCanPublish(object : UTDFlagListener {
        override fun onValue(value: Boolean) {
            trySend(value)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * Everyone else in the room, sorted by identity: the current list first,
 * then the whole list after each change (joins, leaves, grants, tracks).
 */
fun UTDRoom.remoteParticipantsFlow(): Flow<List<UTDParticipant>> = callbackFlow {
    val subscription = observeRemoteParticipants(object : UTDParticipantsListener {
        override fun onParticipants(participants: List<UTDParticipant>) {
            trySend(participants)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * Every room event from the moment collection starts, in order
 * (participants, tracks, permission, speakers, data, reconnects); there is
 * no "current" value. A collector more than 1024 events behind loses the
 * oldest ones, as the SDK's own listener does past 512.
 */
fun UTDRoom.eventsFlow(): Flow<UTDRoomEvent> = callbackFlow {
    val subscription = observeEvents(object : UTDRoomEventListener {
        override fun onEvent(event: UTDRoomEvent) {
            trySend(event)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 1024, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * The seat grid: the current one (once known; nothing is emitted before),
 * then every newer one, whoever changed it (this device's calls and the
 * engine's pushes alike). Versions never go back.
 *
 * ```
 * session.seatsFlow().collect { grid -> render(grid.seats) }
 * ```
 */
fun UTDAudioRoomSession.seatsFlow(): Flow<UTDSeats> = callbackFlow {
    val subscription = observeSeats(object : UTDSeatsListener {
        override fun onSeats(seats: UTDSeats) {
            trySend(seats)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * The stage (members, host first, and raised hands): the current one (once
 * known; nothing is emitted before), then every newer one.
 */
fun UTDLiveStreamSession.stageFlow(): Flow<UTDStage> = callbackFlow {
    val subscription = observeStage(object : UTDStageListener {
        override fun onStage(stage: UTDStage) {
            trySend(stage)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * Host: each raised hand as it happens, from the moment collection starts
 * (hands raised earlier are in `stageState()?.requests`). Raised hands are
 * rare, so none is dropped however slow the collector.
 */
fun UTDLiveStreamSession.stageRequestsFlow(): Flow<UTDStageRequest> = callbackFlow {
    val subscription = observeStageRequests(object : UTDStageRequestListener {
        override fun onStageRequest(request: UTDStageRequest) {
            trySend(request)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = Channel.UNLIMITED)

// ---- Calls: UTDStreamClient invitations, UTDCallSession ----
//
// A call's status and call object are states: current first (once there is
// a call; nothing is emitted before `start` or the first callee action),
// then each change. Like every SDK state, quick successive changes may reach
// the collector as the newest one only (`ringing` then `active` in a few ms
// can arrive as `active`); statuses never move backwards and the terminal
// one is the last, so it is always delivered. Like the room flows, these do
// not complete when the call is over or the session disposed: bound the wait.

/**
 * This device's view of the call status: the current one first (once there
 * is a call), then each change, ending in a terminal one (`ended`,
 * `rejected`, `busy`, `missed`, `cancelled`, `answeredElsewhere`,
 * `declinedElsewhere`). An intermediate status may be skipped when the next
 * one follows at once, so wait for "this or anything later", not for an
 * exact intermediate value.
 *
 * ```
 * session.start("bob")
 * when (session.statusFlow().first { it != UTDCallStatus.INITIATING && it != UTDCallStatus.RINGING }) {
 *     UTDCallStatus.ACTIVE -> showCallScreen()
 *     else -> showCallFailed()
 * }
 * ```
 */
fun UTDCallSession.statusFlow(): Flow<UTDCallStatus> = callbackFlow {
    val subscription = observeStatus(object : UTDCallStatusListener {
        override fun onStatus(status: UTDCallStatus) {
            trySend(status)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * The engine's call object as last seen (status, who answered on which
 * device, `endReason` once over): the current one first (once there is a
 * call), then each newer one. A slow collector skips to the newest.
 */
fun UTDCallSession.callFlow(): Flow<UTDCall> = callbackFlow {
    val subscription = observeCall(object : UTDCallListener {
        override fun onCall(call: UTDCall) {
            trySend(call)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * Incoming calls for this user while signalling is connected (`connect()`),
 * from the moment collection starts: every connected device of the callee
 * gets each one. There is no "current" value, so an invitation that arrives
 * before the collector starts is not replayed: collect for as long as the
 * app can take calls. None is dropped however slow the collector.
 *
 * ```
 * client.callInvitationsFlow().collect { call ->
 *     val session = client.callSession(call.streamType)
 *     session.ringing(call.callId)
 *     showIncomingCall(call, session)
 * }
 * ```
 */
fun UTDStreamClient.callInvitationsFlow(): Flow<UTDCall> = callbackFlow {
    val subscription = observeCallInvitations(object : UTDCallInvitationListener {
        override fun onInvitation(call: UTDCall) {
            trySend(call)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = Channel.UNLIMITED)

// ---- Calls kit: UTDCallController ----

/**
 * The calls kit's events, in order: first an `IncomingCall` for each call
 * ringing now, then every event as it happens (`IncomingCall` once per call
 * however many paths told of it, `CallJoined`, `CallEnded` once per call).
 * Collect it for as long as the app shows calls, from before `init()` so
 * nothing `init()` finds is missed; cancelling the collector cancels the
 * SDK subscription. None is dropped however slow the collector, and it does
 * not complete by itself when the controller is disposed.
 *
 * ```
 * controller.eventsFlow().collect { event ->
 *     when (event) {
 *         is UTDCallControllerEvent.IncomingCall -> showIncoming(event.call)
 *         is UTDCallControllerEvent.CallJoined -> showCallScreen(event.session)
 *         is UTDCallControllerEvent.CallEnded -> dismissCall(event.callId, event.reason)
 *     }
 * }
 * ```
 */
fun UTDCallController.eventsFlow(): Flow<UTDCallControllerEvent> = callbackFlow {
    val subscription = observeEvents(object : UTDCallControllerListener {
        override fun onEvent(event: UTDCallControllerEvent) {
            trySend(event)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = Channel.UNLIMITED)

// ---- Media: decoded frames, speakers, connection quality ----

/**
 * Decoded audio (48 kHz mono, 10 ms frames) of [identity]'s microphone while
 * collected. Half a second of frames is buffered; a collector further behind
 * loses the oldest. Fails with `notFound` if no such participant is in the room.
 */
fun UTDRoom.remoteAudioFlow(identity: String): Flow<UTDAudioFrame> = callbackFlow {
    val subscription = observeRemoteAudio(identity, object : UTDAudioFrameListener {
        override fun onFrame(frame: UTDAudioFrame) {
            trySend(frame)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 50, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * Decoded I420 frames of the remote video track [trackSid] while collected;
 * a slow collector gets the newest frame (conflated), never a backlog.
 */
fun UTDRoom.remoteVideoFlow(trackSid: String): Flow<UTDVideoFrame> = callbackFlow {
    val subscription = observeRemoteVideo(trackSid, object : UTDVideoFrameListener {
        override fun onFrame(frame: UTDVideoFrame) {
            trySend(frame)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = Channel.CONFLATED)

/** Who is speaking, loudest first, with levels: the current list first, then each change. */
fun UTDRoom.activeSpeakersFlow(): Flow<List<UTDActiveSpeaker>> = callbackFlow {
    val subscription = observeActiveSpeakers(object : UTDSpeakersListener {
        override fun onSpeakers(speakers: List<UTDActiveSpeaker>) {
            trySend(speakers)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/** Every participant's connection rating: the current list first, then each change. */
fun UTDRoom.connectionQualitiesFlow(): Flow<List<UTDParticipantQuality>> = callbackFlow {
    val subscription = observeConnectionQualities(object : UTDConnectionQualityListener {
        override fun onQualities(qualities: List<UTDParticipantQuality>) {
            trySend(qualities)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)
