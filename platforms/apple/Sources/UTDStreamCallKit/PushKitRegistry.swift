// PushKit adapter: a PKPushRegistry behind UTDVoIPPushRegistering whose
// delegate hands VoIP pushes and tokens to UTDCallKit. Apple platforms only;
// no decision lives here.
#if canImport(PushKit)
import Foundation
import PushKit

/// VoIP pushes for the bridge. Keep it alive as long as the bridge.
public final class UTDPushKitRegistry: NSObject, UTDVoIPPushRegistering, PKPushRegistryDelegate, @unchecked Sendable {
    /// The PushKit registry; its delegate calls run on `queue`.
    public let registry: PKPushRegistry
    /// Where pushes and tokens go; weak: the bridge owns this adapter.
    private weak var bridge: UTDCallKit?

    /// A registry delivering on `queue` (the main queue by default).
    public init(queue: DispatchQueue = .main) {
        registry = PKPushRegistry(queue: queue)
        super.init()
        registry.delegate = self
    }

    public func connect(to bridge: UTDCallKit) { self.bridge = bridge }

    public func setVoIPPushesEnabled(_ enabled: Bool) {
        registry.desiredPushTypes = enabled ? [.voIP] : []
    }

    public func pushRegistry(_ registry: PKPushRegistry, didUpdate credentials: PKPushCredentials, for type: PKPushType) {
        guard type == .voIP else { return }
        bridge?.voipTokenUpdated(credentials.token)
    }

    public func pushRegistry(_ registry: PKPushRegistry, didInvalidatePushTokenFor type: PKPushType) {
        guard type == .voIP else { return }
        bridge?.voipTokenInvalidated()
    }

    public func pushRegistry(
        _ registry: PKPushRegistry, didReceiveIncomingPushWith payload: PKPushPayload,
        for type: PKPushType, completion: @escaping () -> Void
    ) {
        guard type == .voIP, let bridge else { return completion() }
        // Reported synchronously, on this queue, before returning.
        bridge.handleVoIPPush(payload: payload.dictionaryPayload, completion: completion)
    }
}
#endif
