// Audio rooms and live streams end to end from Swift: the scenarios of
// tests/audio_room.rs and tests/live_stream.rs through the generated
// bindings, against utd-stack's engine + livekit-server (webhooks wired).
// The engine decides who publishes, LiveKit pushes it, the session reflects
// it, and seat / stage changes are pushed to every participant.
//
// The default transport (LiveKit's FFI library) carries real media; every
// test makes its own app and room names (MediaScenarioTests checks what the
// media carries). Waits go
// through the AsyncStream adapters of AsyncStreams.swift; the only timed
// waits are the "nothing happened in the other room" windows.
import Foundation
import UTDStream
import XCTest

/// One participant: its own client (one user per client) and its session.
struct AudioMember: Sendable {
    let client: UTDStreamClient
    let session: UTDAudioRoomSession
}

struct StreamMember: Sendable {
    let client: UTDStreamClient
    let session: UTDLiveStreamSession
}

/// Where the participants of one test join: the stack and a fresh app on
/// the signaling plan (seats and the stage need signalling).
struct RoomsApp: Sendable {
    let stack: StackEnv
    let app: AdminApp

    static func make() async throws -> RoomsApp {
        let stack = try StackEnv.require()
        let app = try await stack.admin.createApp(name: "swift-rooms-\(UUID().uuidString)", plan: "signaling")
        return RoomsApp(stack: stack, app: app)
    }

    /// A room name no other test (or earlier run) uses.
    func room(_ base: String) -> String {
        "\(base)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    private func client() throws -> UTDStreamClient {
        try UTDStreamClient(appId: app.appId, appKey: app.appKey, baseUrl: stack.engineUrl)
    }

    /// `identity` joins audio room `room`; with `seats` as its host, which
    /// sets the grid up.
    func joinAudio(
        _ room: String, _ identity: String, seats: (UInt32, UTDSeatMode)? = nil
    ) async throws -> AudioMember {
        let client = try client()
        do {
            let session = try await client.joinAudioRoom(
                identity: identity, roomName: room, asHost: seats != nil,
                name: identity.uppercased(), seatCount: seats?.0, seatMode: seats?.1)
            return AudioMember(client: client, session: session)
        } catch {
            client.dispose()
            throw StackError("\(identity) joins \(room): \(error)")
        }
    }

    /// `identity` joins live stream `room`, as its host or a viewer.
    func joinStream(_ room: String, _ identity: String, asHost: Bool = false) async throws -> StreamMember {
        let client = try client()
        do {
            let session = try await client.joinLiveStream(identity: identity, roomName: room, asHost: asHost)
            return StreamMember(client: client, session: session)
        } catch {
            client.dispose()
            throw StackError("\(identity) joins \(room): \(error)")
        }
    }
}

final class RoomScenarioTests: XCTestCase {
    // MARK: - Helpers

    /// Leaves the room and drops the client when the test ends, pass or fail.
    private func track(_ member: AudioMember) -> UTDAudioRoomSession {
        addTeardownBlock {
            await member.session.dispose()
            member.client.dispose()
        }
        return member.session
    }

    private func track(_ member: StreamMember) -> UTDLiveStreamSession {
        addTeardownBlock {
            await member.session.dispose()
            member.client.dispose()
        }
        return member.session
    }

    private func joinAudio(
        _ rooms: RoomsApp, _ room: String, _ identity: String, seats: (UInt32, UTDSeatMode)? = nil
    ) async throws -> UTDAudioRoomSession {
        let member = try await rooms.joinAudio(room, identity, seats: seats)
        return track(member)
    }

    private func joinStream(
        _ rooms: RoomsApp, _ room: String, _ identity: String, asHost: Bool = false
    ) async throws -> UTDLiveStreamSession {
        let member = try await rooms.joinStream(room, identity, asHost: asHost)
        return track(member)
    }

    /// Joins `identities` to audio room `room` all at once; every member
    /// that joined is tracked even when another join failed.
    private func joinAudioConcurrently(
        _ rooms: RoomsApp, _ room: String, _ identities: [String]
    ) async throws -> [UTDAudioRoomSession] {
        let results = await withTaskGroup(of: (Int, Result<AudioMember, any Error>).self) { group in
            for (i, identity) in identities.enumerated() {
                group.addTask {
                    do {
                        return (i, .success(try await rooms.joinAudio(room, identity)))
                    } catch {
                        return (i, .failure(error))
                    }
                }
            }
            var results = [Result<AudioMember, any Error>?](repeating: nil, count: identities.count)
            for await (i, result) in group { results[i] = result }
            return results.compactMap { $0 }
        }
        var sessions: [UTDAudioRoomSession] = []
        var failure: (any Error)?
        for result in results {
            switch result {
            case .success(let member): sessions.append(track(member))
            case .failure(let error): failure = failure ?? error
            }
        }
        if let failure { throw failure }
        return sessions
    }

    /// The sources this participant publishes now, in a fixed order.
    private func published(_ room: UTDRoom) -> [UTDTrackSource] {
        sortedSources(room.localParticipant()?.publishedSources ?? [])
    }

    private func onStage(_ stage: UTDStage, _ identity: String) -> Bool {
        stage.members.contains { $0.identity == identity }
    }

    // MARK: - Audio room

    func testASeatIsWhatGrantsPublishAndEveryParticipantSeesIt() async throws {
        let rooms = try await RoomsApp.make()
        let lobby = rooms.room("lobby")
        let host = try await joinAudio(rooms, lobby, "host", seats: (4, .free))
        XCTAssertTrue(host.isHost())
        XCTAssertTrue(host.room().canPublish(), "the host publishes from the start")
        let listener = try await joinAudio(rooms, lobby, "listener")
        XCTAssertFalse(listener.isHost())
        XCTAssertEqual(listener.seats()?.seatCount, 4)
        XCTAssertFalse(listener.room().canPublish(), "listeners join without publish")

        let refused = await assertThrowsUTD { try await listener.room().setMicrophone(enabled: true) }
        XCTAssertEqual(refused?.code(), .forbidden, "no seat, no microphone")

        // Made before the seat is taken: it must show false, then true.
        let grants = listener.room().canPublishUpdates()
        try await listener.takeSeat(index: 1)
        try await awaitElement(grants, "LiveKit's grant reaches the listener") { $0 }
        XCTAssertTrue(listener.room().canPublish())
        let local = try XCTUnwrap(listener.room().localParticipant(), "connected")
        XCTAssertEqual(local.identity, "listener")
        XCTAssertEqual(local.publishedSources, [.microphone], "takeSeat turned the microphone on")
        XCTAssertEqual(local.permission.canPublishSources, [.microphone])
        try await awaitElement(host.seatUpdates(), "the host is pushed the new seat grid") {
            $0.holder(1) == "listener"
        }
        try await awaitElement(host.room().remoteParticipantUpdates(), "the host's room sees the listener may publish") {
            $0.contains { $0.identity == "listener" && $0.canPublish }
        }

        let revocation = listener.room().canPublishUpdates()
        try await listener.leaveSeat()
        try await awaitElement(revocation, "canPublish false as pushed by LiveKit") { !$0 }
        XCTAssertEqual(listener.room().permission()?.canPublish, false)
        let again = await assertThrowsUTD { try await listener.room().setMicrophone(enabled: true) }
        XCTAssertEqual(again?.code(), .forbidden, "off the seat")
        try await awaitElement(host.seatUpdates(), "the host is pushed the freed seat") { $0.holder(1) == nil }
    }

    func testRequestModeHostApprovesAndInvitesToAChosenSeat() async throws {
        let rooms = try await RoomsApp.make()
        let stageRoom = rooms.room("stage")
        let host = try await joinAudio(rooms, stageRoom, "host", seats: (5, .request))
        let asker = try await joinAudio(rooms, stageRoom, "asker")
        let guest = try await joinAudio(rooms, stageRoom, "guest")

        let refused = await assertThrowsUTD { try await asker.takeSeat(index: 2) }
        XCTAssertEqual(refused?.code(), .forbidden, "request mode: listeners cannot just sit")

        let requestId = try await asker.requestToSpeak()
        let askedTwice = try await asker.requestToSpeak()
        XCTAssertEqual(askedTwice, requestId, "asking twice is the same request")
        try await awaitElement(host.seatUpdates(), "the host is pushed the request") {
            $0.requests.contains { $0.requestId == requestId && $0.identity == "asker" }
        }
        let approved = try await host.approveSpeaker(requestId: requestId)
        XCTAssertEqual(approved.seatOf("asker"), 0, "the lowest free seat (the host sits on none)")
        try await awaitElement(asker.room().canPublishUpdates(), "the asker may publish once approved") { $0 }
        try await asker.room().setMicrophone(enabled: true)

        _ = try await host.inviteToSpeak(identity: "guest", seatIndex: 3)
        try await awaitElement(guest.room().canPublishUpdates(), "the guest may publish once invited") { $0 }
        try await awaitElement(guest.seatUpdates(), "the guest is pushed its seat") { $0.seatOf("guest") == 3 }
        let taken = await assertThrowsUTD { try await host.inviteToSpeak(identity: "host", seatIndex: 3) }
        XCTAssertEqual(taken?.code(), .conflict, "seat 3 is taken")
    }

    func testHostOperationsByAListenerAreForbidden() async throws {
        let rooms = try await RoomsApp.make()
        let club = rooms.room("club")
        let host = try await joinAudio(rooms, club, "host", seats: (3, .request))
        let listener = try await joinAudio(rooms, club, "listener")
        let requestId = try await listener.requestToSpeak()

        let setup = await assertThrowsUTD { try await listener.setupSeats(seatCount: 8, seatMode: nil, modeId: nil) }
        let invite = await assertThrowsUTD { try await listener.inviteToSpeak(identity: "listener", seatIndex: nil) }
        let approve = await assertThrowsUTD { try await listener.approveSpeaker(requestId: requestId) }
        XCTAssertEqual(setup?.code(), .forbidden, "setupSeats: \(String(describing: setup))")
        XCTAssertEqual(invite?.code(), .forbidden, "inviteToSpeak: \(String(describing: invite))")
        XCTAssertEqual(approve?.code(), .forbidden, "approveSpeaker: \(String(describing: approve))")

        let seats = try await host.getSeats()
        XCTAssertEqual(seats.seatCount, 3, "nothing changed")
        XCTAssertTrue(seats.seats.allSatisfy { $0.identity == nil }, "\(seats.seats)")
        XCTAssertFalse(listener.room().canPublish())
    }

    func testTwentyConcurrentTakersOfOneSeatMakeExactlyOneSpeaker() async throws {
        let rooms = try await RoomsApp.make()
        let race = rooms.room("race")
        let host = try await joinAudio(rooms, race, "host", seats: (2, .free))
        let identities = (0..<20).map { String(format: "taker%02d", $0) }
        let takers = try await joinAudioConcurrently(rooms, race, identities)

        let outcomes = await withTaskGroup(of: (Int, (any Error)?).self) { group in
            for (i, taker) in takers.enumerated() {
                group.addTask {
                    do {
                        try await taker.takeSeat(index: 0)
                        return (i, nil)
                    } catch {
                        return (i, error)
                    }
                }
            }
            var outcomes = [(any Error)?](repeating: nil, count: takers.count)
            for await (i, error) in group { outcomes[i] = error }
            return outcomes
        }
        let winners = outcomes.indices.filter { outcomes[$0] == nil }
        XCTAssertEqual(winners.count, 1, "exactly one winner: \(outcomes)")
        for (i, error) in outcomes.enumerated() {
            guard let error else { continue }
            XCTAssertEqual((error as? UTDStreamError)?.code(), .conflict, "\(identities[i]) loses with conflict: \(error)")
        }
        guard let winnerIndex = winners.first else { return }
        let winner = identities[winnerIndex]
        XCTAssertTrue(takers[winnerIndex].room().canPublish(), "the winner was granted publish")
        for member in takers + [host] {
            try await awaitElement(member.seatUpdates(), "everyone is pushed the same winner") {
                $0.holder(0) == winner
            }
        }
        for (i, taker) in takers.enumerated() where i != winnerIndex {
            XCTAssertFalse(taker.room().canPublish(), "\(identities[i]) got no grant")
        }
    }

    func testASecondRoomNeverSeesTheFirstRoomsEvents() async throws {
        let rooms = try await RoomsApp.make()
        let roomA = rooms.room("room-a")
        let roomB = rooms.room("room-b")
        let hostA = try await joinAudio(rooms, roomA, "host-a", seats: (3, .free))
        let hostB = try await joinAudio(rooms, roomB, "host-b", seats: (3, .free))
        let seenB = try XCTUnwrap(hostB.seats(), "B's grid")
        // Made before anything happens in A: they record whatever B hears.
        let bSeats = hostB.seatUpdates()
        let bPeople = hostB.room().remoteParticipantUpdates()

        let speakerA = try await joinAudio(rooms, roomA, "speaker-a")
        try await speakerA.takeSeat(index: 2)
        try await awaitElement(hostA.seatUpdates(), "A's host sees A's speaker") { $0.holder(2) == "speaker-a" }
        // A's change has been pushed and seen; give B the same time to be wrong.
        async let movedB = first(bSeats, within: .milliseconds(300)) { $0 != seenB }
        async let crowdB = first(bPeople, within: .milliseconds(300)) { !$0.isEmpty }
        let (moved, crowd) = await (movedB, crowdB)
        XCTAssertNil(moved, "B was pushed a grid it should not have seen")
        XCTAssertNil(crowd, "somebody from A appeared in B")
        XCTAssertEqual(hostB.seats(), seenB, "B's grid did not move")
        XCTAssertEqual(hostB.room().remoteParticipants(), [], "nobody from A appears in B")
    }

    func testASpeakerLeavingTheRoomFreesTheSeatForEveryone() async throws {
        let rooms = try await RoomsApp.make()
        let den = rooms.room("den")
        let host = try await joinAudio(rooms, den, "host", seats: (2, .free))
        let speaker = try await joinAudio(rooms, den, "speaker")
        try await speaker.takeSeat(index: 0)
        try await awaitElement(host.seatUpdates(), "the host sees the speaker seated") { $0.holder(0) == "speaker" }

        let connection = speaker.room().connectedUpdates()
        try await speaker.leave()
        XCTAssertFalse(speaker.room().isConnected())
        try await awaitElement(connection, "the speaker's room reports it left") { !$0 }
        try await awaitElement(host.seatUpdates(), "LiveKit's webhook frees the seat, pushed to the host") {
            $0.holder(0) == nil
        }
        try await awaitElement(speaker.seatUpdates(), "the departed speaker still hears seat updates") {
            $0.holder(0) == nil
        }

        try await speaker.rejoin()
        XCTAssertTrue(speaker.room().isConnected())
        try await awaitElement(speaker.room().connectedUpdates(), "the speaker's room is connected again") { $0 }
        XCTAssertFalse(speaker.room().canPublish(), "rejoined as a listener")

        await speaker.dispose()
        await speaker.dispose()  // idempotent
        let calls: [(String, () async throws -> Void)] = [
            ("getSeats", { _ = try await speaker.getSeats() }),
            ("takeSeat", { try await speaker.takeSeat(index: 1) }),
            ("rejoin", { try await speaker.rejoin() }),
            ("setMicrophone", { try await speaker.room().setMicrophone(enabled: true) }),
        ]
        for (name, call) in calls {
            let disposed = await assertThrowsUTD { try await call() }
            XCTAssertEqual(disposed?.code(), .disposed, "\(name) after dispose")
        }
    }

    // MARK: - Live stream

    func testTheStageIsWhatGrantsPublishAndTheViewerFollowsIt() async throws {
        let rooms = try await RoomsApp.make()
        let show = rooms.room("show")
        let host = try await joinStream(rooms, show, "host", asHost: true)
        XCTAssertTrue(host.isHost())
        try await host.goLive(withVideo: true)
        XCTAssertEqual(published(host.room()), sortedSources([.camera, .microphone]))
        XCTAssertEqual(host.stage().first?.role, .host)

        let viewer = try await joinStream(rooms, show, "viewer")
        XCTAssertFalse(viewer.isHost())
        XCTAssertFalse(viewer.room().canPublish())
        let refused = await assertThrowsUTD { try await viewer.goLive(withVideo: true) }
        XCTAssertEqual(refused?.code(), .forbidden, "a viewer cannot broadcast")
        // The control-plane transport sends no media, so LiveKit never
        // announces its tracks to others; the host's grant is what is visible.
        try await awaitElement(viewer.room().remoteParticipantUpdates(), "the viewer sees the host, allowed to publish") {
            $0.contains { $0.identity == "host" && $0.canPublish }
        }

        let grants = viewer.room().canPublishUpdates()
        _ = try await host.inviteToStage(identity: "viewer")
        try await awaitElement(grants, "the viewer's canPublish follows the invite") { $0 }
        try await awaitElement(viewer.stageUpdates(), "the viewer is pushed the stage with itself on it") {
            $0.members.contains { $0.identity == "viewer" && $0.role == .coHost }
        }
        try await viewer.goLive(withVideo: true)
        XCTAssertEqual(published(viewer.room()), sortedSources([.camera, .microphone]), "the co-host broadcasts")

        let revocations = viewer.room().canPublishUpdates()
        _ = try await host.removeFromStage(identity: "viewer")
        try await awaitElement(revocations, "demotion revokes the viewer's publish") { !$0 }
        try await eventually("the demoted viewer's tracks go away") { published(viewer.room()).isEmpty }
        try await awaitElement(viewer.stageUpdates(), "the viewer is pushed the stage without itself") {
            !$0.members.contains { $0.identity == "viewer" }
        }
        let again = await assertThrowsUTD { try await viewer.room().setCamera(enabled: true) }
        XCTAssertEqual(again?.code(), .forbidden, "off stage")
    }

    func testARaisedHandReachesTheHostAndACoHostCanStepDown() async throws {
        let rooms = try await RoomsApp.make()
        let show = rooms.room("show")
        let host = try await joinStream(rooms, show, "host", asHost: true)
        // An event stream: made before the hand is raised.
        let hands = host.stageRequests()
        let viewer = try await joinStream(rooms, show, "viewer")

        _ = try await viewer.requestStage()
        let hand = try await awaitElement(hands, "the host hears the raised hand") { _ in true }
        XCTAssertEqual(hand.identity, "viewer")
        try await awaitElement(host.stageUpdates(), "the host's stage lists the request") {
            $0.requests.contains { $0.identity == "viewer" }
        }

        _ = try await host.inviteToStage(identity: "viewer")
        try await awaitElement(viewer.room().canPublishUpdates(), "on stage: may publish") { $0 }
        try await viewer.goLive(withVideo: false)
        XCTAssertEqual(published(viewer.room()), [.microphone], "audio only")

        let stage = try await viewer.leaveStage()
        XCTAssertFalse(onStage(stage, "viewer"), "\(stage.members)")
        try await awaitElement(viewer.room().canPublishUpdates(), "stepping down revokes publish") { !$0 }
        XCTAssertEqual(published(viewer.room()), [], "camera and mic are off")
        try await awaitElement(host.stageUpdates(), "the host is pushed the smaller stage") {
            !$0.members.contains { $0.identity == "viewer" }
        }

        let hostLeaving = await assertThrowsUTD { try await host.leaveStage() }
        XCTAssertEqual(hostLeaving?.code(), .invalidState, "the host cannot leave the stage")
    }

    func testAnyNumberOfCoHostsAndViewersCannotManageTheStage() async throws {
        let rooms = try await RoomsApp.make()
        let show = rooms.room("show")
        let host = try await joinStream(rooms, show, "host", asHost: true)
        var viewers: [UTDLiveStreamSession] = []
        for i in 0..<6 {
            viewers.append(try await joinStream(rooms, show, "viewer\(i)"))
        }
        for i in 0..<6 {
            _ = try await host.inviteToStage(identity: "viewer\(i)")
        }
        for (i, viewer) in viewers.enumerated() {
            try await awaitElement(viewer.room().canPublishUpdates(), "invited viewer\(i) may publish") { $0 }
        }
        let stage = host.stage()
        XCTAssertEqual(stage.count, 7, "host + 6 co-hosts, no cap: \(stage)")
        XCTAssertEqual(stage.first?.role, .host)
        XCTAssertEqual(stage.dropFirst().filter { $0.role == .coHost }.count, 6)

        let outsider = try await joinStream(rooms, show, "outsider")
        let invite = await assertThrowsUTD { try await outsider.inviteToStage(identity: "outsider") }
        let remove = await assertThrowsUTD { try await outsider.removeFromStage(identity: "viewer0") }
        XCTAssertEqual(invite?.code(), .forbidden, "inviteToStage: \(String(describing: invite))")
        XCTAssertEqual(remove?.code(), .forbidden, "removeFromStage: \(String(describing: remove))")
        XCTAssertTrue(host.stage().contains { $0.identity == "viewer0" }, "viewer0 is still on stage")
        XCTAssertFalse(outsider.room().canPublish())
    }

    func testAnotherStreamsViewersNeverSeeThisStreamsStage() async throws {
        let rooms = try await RoomsApp.make()
        let showA = rooms.room("show-a")
        let showB = rooms.room("show-b")
        let hostA = try await joinStream(rooms, showA, "host-a", asHost: true)
        let viewerA = try await joinStream(rooms, showA, "viewer-a")
        let viewerB = try await joinStream(rooms, showB, "viewer-b")
        let bBefore = viewerB.stageState()
        // Made before anything happens in A: they record whatever B hears.
        let bStages = viewerB.stageUpdates()
        let bPeople = viewerB.room().remoteParticipantUpdates()

        _ = try await hostA.inviteToStage(identity: "viewer-a")
        try await awaitElement(viewerA.room().canPublishUpdates(), "A's viewer is promoted") { $0 }
        // A's change has been pushed and seen; give B the same time to be wrong.
        async let movedB = first(bStages, within: .milliseconds(300)) { $0 != bBefore }
        async let crowdB = first(bPeople, within: .milliseconds(300)) { !$0.isEmpty }
        let (moved, crowd) = await (movedB, crowdB)
        XCTAssertNil(moved, "B was pushed a stage it should not have seen")
        XCTAssertNil(crowd, "somebody from A appeared in B")
        XCTAssertEqual(viewerB.stageState(), bBefore, "B's stage did not move")
        XCTAssertEqual(viewerB.room().remoteParticipants(), [])

        let wrongRoom = await assertThrowsUTD { try await hostA.inviteToStage(identity: "viewer-b") }
        XCTAssertEqual(wrongRoom?.code(), .notFound, "viewer-b is not in A")
    }
}
