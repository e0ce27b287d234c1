// Media through the exported sessions from Swift, against utd-stack's engine
// + livekit-server with LiveKit's own media library underneath: what one
// session pushes, another receives. A tone is checked by frequency and level
// (zero crossings, RMS), video by the grey bars of a test pattern, data by
// its bytes and who got it.
import Foundation
import UTDStream
import XCTest

/// A 48 kHz mono sine tone that keeps its phase across 10 ms frames.
struct Tone: Sendable {
    let frequency: Double
    var position = 0

    init(_ frequency: Double) { self.frequency = frequency }

    mutating func nextFrame() -> UTDAudioFrame {
        var samples = [Int16]()
        samples.reserveCapacity(480)
        for _ in 0..<480 {
            let t = Double(position) / 48_000
            position += 1
            samples.append(Int16(sin(2 * Double.pi * frequency * t) * 0.5 * Double(Int16.max)))
        }
        return UTDAudioFrame(samples: samples, sampleRate: 48_000, numChannels: 1)
    }
}

/// (frequency in Hz, RMS level 0...1) of mono 48 kHz samples.
func readTone(_ samples: ArraySlice<Int16>) -> (Double, Double) {
    guard samples.count > 1 else { return (0, 0) }
    var crossings = 0
    var sum = 0.0
    var previous = samples.first!
    for s in samples {
        if previous < 0 && s >= 0 { crossings += 1 }
        previous = s
        let x = Double(s) / Double(Int16.max)
        sum += x * x
    }
    return (Double(crossings) / (Double(samples.count) / 48_000), (sum / Double(samples.count)).squareRoot())
}

let bars: [Int] = [40, 100, 160, 220]

func patternFrame(width: Int, height: Int, timestampUs: Int64) -> UTDVideoFrame {
    var y = Data(count: width * height)
    for row in 0..<height {
        for col in 0..<width { y[row * width + col] = UInt8(bars[col * bars.count / width]) }
    }
    let chroma = Data(repeating: 128, count: ((width + 1) / 2) * ((height + 1) / 2))
    return UTDVideoFrame(
        width: UInt32(width), height: UInt32(height), format: .i420,
        planes: [
            UTDVideoPlane(data: y, stride: UInt32(width)),
            UTDVideoPlane(data: chroma, stride: UInt32((width + 1) / 2)),
            UTDVideoPlane(data: chroma, stride: UInt32((width + 1) / 2)),
        ],
        timestampUs: timestampUs, rotation: .deg0)
}

func showsPattern(_ frame: UTDVideoFrame, width: Int, height: Int) -> Bool {
    guard Int(frame.width) == width, Int(frame.height) == height, let plane = frame.planes.first else { return false }
    let stride = Int(plane.stride)
    let bar = width / bars.count
    let bytes = [UInt8](plane.data)
    return bars.enumerated().allSatisfy { i, expected in
        var sum = 0
        var n = 0
        for row in (height / 4)..<(height * 3 / 4) {
            for col in (i * bar + bar / 4)..<(i * bar + bar * 3 / 4) {
                sum += Int(bytes[row * stride + col])
                n += 1
            }
        }
        return abs(sum / n - expected) <= 24
    }
}

/// Pushes `tone` through `room`'s audio sink until cancelled (the sink paces it).
func sing(_ room: UTDRoom, _ frequency: Double) -> Task<Void, Never> {
    let sink = room.audioSink()
    return Task {
        var tone = Tone(frequency)
        while !Task.isCancelled { try? await sink.pushFrame(frame: tone.nextFrame()) }
    }
}

/// Waits until the last 500 ms of `identity`'s audio at `room` are a tone of `frequency`.
func hearTone(_ room: UTDRoom, _ identity: String, _ frequency: Double) async throws -> Bool {
    for await list in room.remoteParticipantUpdates() where list.contains(where: { $0.identity == identity }) { break }
    let frames = try await room.remoteAudioFrames(identity: identity)
    let heard = await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            var samples = [Int16]()
            for await frame in frames {
                samples.append(contentsOf: frame.samples)
                if samples.count > 48_000 { samples.removeFirst(samples.count - 48_000) }
                if samples.count >= 24_000 {
                    let (f, level) = readTone(samples.suffix(24_000))
                    if abs(f - frequency) <= frequency * 0.03 && level >= 0.1 { return true }
                }
            }
            return false
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(15))
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
    return heard
}

final class MediaScenarioTests: XCTestCase {
    func testTheSeatedSpeakersToneReachesTheHostAndDataOnlyItsAddressee() async throws {
        let rooms = try await RoomsApp.make()
        let lounge = rooms.room("lounge")
        let host = try await rooms.joinAudio(lounge, "host", seats: (4, .free))
        let speaker = try await rooms.joinAudio(lounge, "speaker")
        let bystander = try await rooms.joinAudio(lounge, "bystander")
        addTeardownBlock {
            for m in [host, speaker, bystander] { await m.session.dispose(); m.client.dispose() }
        }
        let voice = sing(speaker.session.room(), 440)
        defer { voice.cancel() }
        try await speaker.session.takeSeat(index: 1)
        let heard = try await hearTone(host.session.room(), "speaker", 440)
        XCTAssertTrue(heard, "the host hears the seated speaker's 440 Hz tone")

        let toSpeaker = speaker.session.room().events()
        let toBystander = bystander.session.room().events()
        for await list in host.session.room().remoteParticipantUpdates() where list.count == 2 { break }
        try await Task.sleep(for: .milliseconds(500))  // data before a receiver's channel is up is lost
        try await host.session.room().sendData(data: Data("only for you".utf8), destinationIdentities: ["speaker"], topic: "dm")
        try await host.session.room().sendData(data: Data("marker".utf8), destinationIdentities: ["bystander"])
        let got = await first(toSpeaker, within: .seconds(10)) { if case .dataReceived = $0 { return true } else { return false } }
        guard case .dataReceived(let from, let payload, let topic) = got else { return XCTFail("the speaker got no data") }
        XCTAssertEqual(from, "host")
        XCTAssertEqual(String(decoding: payload, as: UTF8.self), "only for you")
        XCTAssertEqual(topic, "dm")
        let seen = await first(toBystander, within: .seconds(10)) { if case .dataReceived = $0 { return true } else { return false } }
        guard case .dataReceived(_, let marker, _) = seen else { return XCTFail("the bystander got no marker") }
        XCTAssertEqual(String(decoding: marker, as: UTF8.self), "marker", "nothing addressed to the speaker reached the bystander")
    }

    func testAViewerReceivesTheHostsVideoFramesAtThePushedSize() async throws {
        let rooms = try await RoomsApp.make()
        let show = rooms.room("show")
        let host = try await rooms.joinStream(show, "host", asHost: true)
        let viewer = try await rooms.joinStream(show, "viewer")
        addTeardownBlock {
            for m in [host, viewer] { await m.session.dispose(); m.client.dispose() }
        }
        let sink = host.session.room().videoSink()
        let camera = Task {
            var ts: Int64 = 0
            while !Task.isCancelled {
                try? sink.pushFrame(frame: patternFrame(width: 320, height: 240, timestampUs: ts))
                ts += 33_000
                try? await Task.sleep(for: .milliseconds(33))
            }
        }
        defer { camera.cancel() }
        try await host.session.goLive(withVideo: true)
        let list = await first(viewer.session.room().remoteParticipantUpdates(), within: .seconds(15)) { list in
            list.contains { $0.identity == "host" && $0.tracks.contains { $0.source == .camera && $0.subscribed } }
        }
        let track = try XCTUnwrap(list?.first { $0.identity == "host" }?.tracks.first { $0.source == .camera })
        XCTAssertEqual(track.kind, .video)
        let frames = try await viewer.session.room().remoteVideoFrames(trackSid: track.sid)
        let frame = await first(frames, within: .seconds(15)) { showsPattern($0, width: 320, height: 240) }
        XCTAssertNotNil(frame, "a 320x240 frame showing the pattern reached the viewer")
    }

    func testBothPartiesOfACallHearEachOthersTone() async throws {
        let rooms = try await RoomsApp.make()
        var clients = [UTDStreamClient]()
        for who in ["alice", "bob"] {
            let client = try UTDStreamClient(appId: rooms.app.appId, appKey: rooms.app.appKey, baseUrl: rooms.stack.engineUrl)
            _ = try await client.authenticate(identity: who)
            try await client.connect()
            clients.append(client)
        }
        let caller = try clients[0].callSession(streamType: .audioCall)
        let callee = try clients[1].callSession(streamType: .audioCall)
        let captured = clients
        addTeardownBlock {
            await caller.dispose()
            await callee.dispose()
            for c in captured { c.dispose() }
        }
        let call = try await caller.start(calleeIdentity: "bob", calleeName: nil, metadataJson: nil)
        _ = try await callee.accept(callId: call.callId)
        let aliceVoice = sing(caller.room(), 440)
        let bobVoice = sing(callee.room(), 660)
        defer { aliceVoice.cancel(); bobVoice.cancel() }
        let bobHearsAlice = try await hearTone(callee.room(), "alice", 440)
        XCTAssertTrue(bobHearsAlice, "bob hears alice's 440 Hz tone")
        let aliceHearsBob = try await hearTone(caller.room(), "bob", 660)
        XCTAssertTrue(aliceHearsBob, "alice hears bob's 660 Hz tone")
        _ = try? await caller.end()
    }
}
