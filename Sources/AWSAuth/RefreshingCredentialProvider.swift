import AWSSigV4
import Foundation
import Logging

/// Caches credentials from a fetch function and refreshes them before they expire, like botocore's
/// `RefreshableCredentials`:
/// - more than `advisoryWindow` (15 min) before expiry: the cached credentials are returned;
/// - inside the advisory window: the cached credentials are returned and one background refresh starts (a failure is
///   logged and the old credentials keep serving);
/// - inside the mandatory window (10 min), or when nothing is cached: callers wait for the refresh and see its error.
/// At most one refresh runs at a time; concurrent callers share it. Credentials without an expiry are never refreshed.
public actor RefreshingCredentialProvider: AWSCredentialProvider {
    public nonisolated let name: String
    private let fetch: @Sendable () async throws -> AWSCredentials
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let advisoryWindow: TimeInterval
    private let mandatoryWindow: TimeInterval
    private var current: AWSCredentials?
    private var inFlight: Task<AWSCredentials, any Error>?
    /// How many refreshes have started (for diagnostics and tests).
    public private(set) var refreshCount = 0

    public init(
        name: String, now: @escaping @Sendable () -> Date = { Date() }, logger: Logger,
        advisoryWindow: TimeInterval = 15 * 60, mandatoryWindow: TimeInterval = 10 * 60,
        initial: AWSCredentials? = nil, fetch: @escaping @Sendable () async throws -> AWSCredentials
    ) {
        self.name = name
        self.now = now
        self.logger = logger
        self.advisoryWindow = advisoryWindow
        self.mandatoryWindow = mandatoryWindow
        self.current = initial
        self.fetch = fetch
    }

    public func credentials() async throws -> AWSCredentials {
        if let current {
            guard let expiration = current.expiration else { return current }
            let remaining = expiration.timeIntervalSince(now())
            if remaining > advisoryWindow { return current }
            if remaining > mandatoryWindow {
                if inFlight == nil {
                    logger.debug("credentials enter the advisory refresh window; refreshing in the background",
                                 metadata: ["provider": "\(name)"])
                    _ = startRefresh()
                }
                return current
            }
            logger.debug("credentials enter the mandatory refresh window; waiting for a refresh", metadata: ["provider": "\(name)"])
        }
        let task = inFlight ?? startRefresh()
        return try await task.value
    }

    private func startRefresh() -> Task<AWSCredentials, any Error> {
        refreshCount += 1
        let fetch = self.fetch
        let task = Task<AWSCredentials, any Error> {
            do {
                let fresh = try await fetch()
                self.refreshSucceeded(fresh)
                return fresh
            } catch {
                self.refreshFailed(error)
                throw error
            }
        }
        inFlight = task
        return task
    }

    private func refreshSucceeded(_ fresh: AWSCredentials) {
        current = fresh
        inFlight = nil
        logger.debug("credentials refreshed", metadata: [
            "provider": "\(name)", "accessKeyId": "\(fresh.accessKeyId)",
            "expiration": "\(fresh.expiration.map { $0.formatted(.iso8601) } ?? "none")",
        ])
    }

    private func refreshFailed(_ error: any Error) {
        inFlight = nil
        logger.warning("credential refresh failed", metadata: ["provider": "\(name)", "error": "\(error)"])
    }
}
