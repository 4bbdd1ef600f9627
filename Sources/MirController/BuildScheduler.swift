import Foundation
import Synchronization

/// Grants build slots: at most `maxConcurrentBuilds` images build at once across the cluster; among images waiting
/// for a slot, spec changes (and new images, manual rebuilds) go before platform-version and parent rebuilds, and
/// shallower images (parents) before deeper ones.
public final class BuildScheduler: Sendable {
    public struct Request: Sendable, Hashable {
        public var image: String
        /// 0: spec change, new image, manual rebuild; 1: platform upgrade, parent rebuilt.
        public var priority: Int
        /// 0 for a root image, parent depth + 1 for a child.
        public var depth: Int

        public init(image: String, priority: Int, depth: Int) {
            self.image = image
            self.priority = priority
            self.depth = depth
        }
        var rank: (Int, Int, String) { (priority, depth, image) }
    }

    public let maxConcurrentBuilds: Int
    /// How long a granted slot counts as busy before its Job shows up in the cache.
    let reservation: TimeInterval
    private let state = Mutex<(waiting: [String: Request], starting: [String: Date])>(([:], [:]))

    public init(maxConcurrentBuilds: Int, reservation: TimeInterval = 30) {
        self.maxConcurrentBuilds = max(1, maxConcurrentBuilds)
        self.reservation = reservation
    }

    /// Asks for a slot. `activeImages`: images with a running build Job (other than `request.image`). Granted when a
    /// slot is free and no better-ranked request is waiting; otherwise the request waits (call again later).
    public func request(_ request: Request, activeImages: Set<String>, now: Date = Date()) -> Bool {
        state.withLock { s in
            s.starting = s.starting.filter { now.timeIntervalSince($0.value) < reservation && $0.key != request.image }
            let busy = activeImages.subtracting([request.image]).union(s.starting.keys)
            s.waiting[request.image] = request
            guard busy.count < maxConcurrentBuilds else { return false }
            let better = s.waiting.values.filter { $0.image != request.image && !busy.contains($0.image) && $0.rank < request.rank }
            guard better.count < maxConcurrentBuilds - busy.count else { return false }
            s.waiting[request.image] = nil
            s.starting[request.image] = now
            return true
        }
    }

    /// The image no longer wants a slot (built, deleted, or nothing to build).
    public func withdraw(_ image: String) {
        state.withLock { _ = $0.waiting.removeValue(forKey: image) }
    }

    /// The build Job of `image` finished or is gone: its reservation ends. (A running Job keeps its slot through
    /// `activeImages`; the reservation covers the time before the Job shows up in a listing.)
    public func release(_ image: String) {
        state.withLock { _ = $0.starting.removeValue(forKey: image) }
    }

    public var waitingImages: [String] { state.withLock { Array($0.waiting.keys) } }
}
