import Foundation
import KubeClient
import Logging

/// Leader election settings (client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period).
public struct LeaderElectionConfig: Sendable {
    public var namespace: String
    public var leaseName: String
    /// `hostname_uuid` by default.
    public var identity: String
    public var leaseDuration: Duration
    public var renewDeadline: Duration
    public var retryPeriod: Duration
    /// Give the lease up on shutdown so another replica takes over at once (client-go's ReleaseOnCancel).
    public var releaseOnCancel: Bool

    public init(namespace: String, leaseName: String = "mir-controller", identity: String = LeaderElectionConfig.defaultIdentity(),
                leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2),
                releaseOnCancel: Bool = true) {
        self.releaseOnCancel = releaseOnCancel
        self.namespace = namespace
        self.leaseName = leaseName
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
    }

    public static func defaultIdentity() -> String {
        "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.lowercased())"
    }

    /// client-go's rules, with whole seconds as the Lease can only say: each duration at least 1 s, lease duration
    /// > renew deadline > retry period × 1.2 (the jitter factor). Throws a message naming the flags' values.
    public func validate() throws(LeaderElectionConfigError) {
        for (name, value) in [("lease duration", leaseDuration), ("renew deadline", renewDeadline), ("retry period", retryPeriod)]
        where value < .seconds(1) {
            throw LeaderElectionConfigError(message: "leader election \(name) must be at least 1s (got \(Self.text(value))): the Lease records whole seconds")
        }
        guard leaseDuration > renewDeadline else {
            throw LeaderElectionConfigError(message: "leader election lease duration (\(Self.text(leaseDuration))) must be greater than the renew deadline (\(Self.text(renewDeadline)))")
        }
        guard renewDeadline > retryPeriod * 1.2 else {
            throw LeaderElectionConfigError(message: "leader election renew deadline (\(Self.text(renewDeadline))) must be greater than 1.2 × the retry period (\(Self.text(retryPeriod)))")
        }
    }

    /// The lease duration as the Lease records it: whole seconds, rounded up (never shorter than the real one).
    public var leaseDurationSeconds: Int {
        let (seconds, attoseconds) = leaseDuration.components
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }

    static func text(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}

/// Invalid leader election settings.
public struct LeaderElectionConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Leadership was lost (the lease could not be renewed within the renew deadline): the process must exit, as a
/// controller-runtime manager does ("leader election lost"), so that it restarts as a candidate.
public struct LeaderElectionLost: Error, Sendable, Hashable, CustomStringConvertible {
    public var lease: String
    public var identity: String
    public init(lease: String, identity: String) {
        self.lease = lease
        self.identity = identity
    }
    public var description: String { "leader election lost" }
}

/// Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does: acquire when the
/// lease is free or expired (judged by the local clock from when its record last changed), renew every retry
/// period, give up leadership when a renewal does not succeed within the renew deadline, release on shutdown.
public actor LeaderElector {
    public let config: LeaderElectionConfig
    let client: KubeClient
    let clock: any KubeClock
    let logger: Logger
    /// The last lease record seen and when (on `clock`) it was first seen.
    private var observed: (record: Lease.Spec, at: Duration)?
    public private(set) var isLeader = false
    /// True once leadership was lost (not given up on cancellation).
    public private(set) var lostLeadership = false

    public init(client: KubeClient, config: LeaderElectionConfig, clock: any KubeClock = SystemKubeClock(),
                logger: Logger = Logger(label: "mir.leaderelection")) {
        self.client = client
        self.config = config
        self.clock = clock
        self.logger = logger
    }

    /// Campaigns until leading, runs `lead` while leading (cancelled when leadership is lost), and returns when the
    /// calling task is cancelled (releasing the lease if held) or leadership is lost.
    public func run(_ lead: @escaping @Sendable () async -> Void) async {
        // Acquire.
        while !Task.isCancelled {
            if await tryAcquireOrRenew() { break }
            try? await clock.sleep(for: jittered(config.retryPeriod))
        }
        guard !Task.isCancelled else {
            // Cancelled (SIGTERM) right as the lease was won: give it back (release checks it is ours).
            if config.releaseOnCancel { await Task { await self.release() }.value }
            return
        }
        setLeader(true)
        logger.info("became leader", metadata: ["identity": "\(config.identity)", "lease": "\(config.namespace)/\(config.leaseName)"])
        let leading = Task { await lead() }
        // Renew.
        var lastRenew = clock.now()
        while !Task.isCancelled {
            try? await clock.sleep(for: config.retryPeriod)
            if Task.isCancelled { break }
            if await tryAcquireOrRenew() {
                lastRenew = clock.now()
            } else if clock.now() - lastRenew >= config.renewDeadline {
                logger.warning("lost leadership: the lease could not be renewed within \(config.renewDeadline)")
                lostLeadership = true
                break
            }
        }
        leading.cancel()
        await leading.value
        setLeader(false)
        // A fresh task: the caller is usually cancelled by now, and the release must still reach the server.
        if config.releaseOnCancel { await Task { await self.release() }.value }
    }

    private func setLeader(_ value: Bool) {
        isLeader = value
        ControllerMetrics.leader(value, lease: config.leaseName)
    }

    private func jittered(_ d: Duration) -> Duration { d + d * Double.random(in: 0..<1.2) }

    /// One attempt; true when this instance holds the lease afterwards.
    func tryAcquireOrRenew() async -> Bool {
        let now = Date()
        let mine = Lease.Spec(holderIdentity: config.identity, leaseDurationSeconds: config.leaseDurationSeconds,
                              acquireTime: MicroTime(now), renewTime: MicroTime(now), leaseTransitions: 0)
        let existing: Lease
        do {
            existing = try await client.get(Lease.self, name: config.leaseName, namespace: config.namespace)
        } catch let error as KubeAPIError where error.isNotFound {
            do {
                _ = try await client.create(Lease(metadata: ObjectMeta(name: config.leaseName, namespace: config.namespace), spec: mine))
                observed = (mine, clock.now())
                return true
            } catch {
                return false
            }
        } catch {
            logger.debug("get lease: \(error)")
            return false
        }
        let record = existing.spec ?? Lease.Spec()
        if observed?.record != record { observed = (record, clock.now()) }
        let holder = record.holderIdentity ?? ""
        let duration = Duration.seconds(record.leaseDurationSeconds ?? config.leaseDurationSeconds)
        let expired = clock.now() >= (observed?.at ?? clock.now()) + duration
        if !holder.isEmpty, holder != config.identity, !expired { return false }

        var updated = existing
        var spec = record
        if holder == config.identity {
            spec.renewTime = MicroTime(now)
            spec.leaseDurationSeconds = mine.leaseDurationSeconds
        } else {
            spec = mine
            spec.leaseTransitions = (record.leaseTransitions ?? 0) + 1
        }
        updated.spec = spec
        do {
            let stored = try await client.update(updated)
            observed = (stored.spec ?? spec, clock.now())
            return true
        } catch {
            return false
        }
    }

    /// Gives the lease up (client-go: empty holder, 1 s duration) so another replica takes over at once.
    func release() async {
        do {
            var lease = try await client.get(Lease.self, name: config.leaseName, namespace: config.namespace)
            guard lease.spec?.holderIdentity == config.identity else { return }
            lease.spec?.holderIdentity = nil
            lease.spec?.leaseDurationSeconds = 1
            lease.spec?.renewTime = MicroTime(Date())
            _ = try await client.update(lease)
            logger.info("released the lease", metadata: ["identity": "\(config.identity)"])
        } catch {
            logger.warning("release lease: \(error)")
        }
    }
}
