import AWSAuth
import AWSSigV4
import Foundation
import Testing

@Suite struct RefreshingCredentialProviderTests {
    static func credentials(_ id: String, expiring date: Date?) -> AWSCredentials {
        AWSCredentials(accessKeyId: id, secretAccessKey: "secret-\(id)", sessionToken: "token-\(id)", expiration: date)
    }

    @Test func freshCredentialsAreServedWithoutRefresh() async throws {
        let clock = ManualClock()
        let fetches = Counter()
        let provider = RefreshingCredentialProvider(
            name: "test", now: clock.now, logger: LogStore().logger(),
            initial: Self.credentials("OLD", expiring: clock.date.addingTimeInterval(16 * 60))
        ) {
            fetches.increment()
            return Self.credentials("NEW", expiring: clock.date.addingTimeInterval(3600))
        }
        #expect(try await provider.credentials().accessKeyId == "OLD")
        #expect(fetches.count == 0)
        // Credentials without an expiry never refresh.
        let forever = RefreshingCredentialProvider(name: "static", now: clock.now, logger: LogStore().logger(),
                                                   initial: Self.credentials("FOREVER", expiring: nil)) {
            fetches.increment()
            return Self.credentials("NEW", expiring: nil)
        }
        clock.advance(by: 365 * 86_400)
        #expect(try await forever.credentials().accessKeyId == "FOREVER")
        #expect(fetches.count == 0)
    }

    @Test func firstCallFetchesAndWaits() async throws {
        let clock = ManualClock()
        let fetches = Counter()
        let provider = RefreshingCredentialProvider(name: "test", now: clock.now, logger: LogStore().logger()) {
            Self.credentials("N\(fetches.increment())", expiring: clock.date.addingTimeInterval(3600))
        }
        #expect(try await provider.credentials().accessKeyId == "N1")
        #expect(try await provider.credentials().accessKeyId == "N1")
        #expect(fetches.count == 1)
    }

    @Test func advisoryWindowServesOldCredentialsAndRefreshesOnceInBackground() async throws {
        let clock = ManualClock()
        let fetches = Counter()
        let gate = Gate()
        let provider = RefreshingCredentialProvider(
            name: "test", now: clock.now, logger: LogStore().logger(),
            initial: Self.credentials("OLD", expiring: clock.date.addingTimeInterval(30 * 60))
        ) {
            fetches.increment()
            await gate.wait()
            return Self.credentials("NEW", expiring: clock.date.addingTimeInterval(3600))
        }
        clock.advance(by: 16 * 60)  // 14 minutes left: advisory window
        // The refresh is blocked on the gate, yet callers get the old credentials immediately.
        for _ in 0..<5 { #expect(try await provider.credentials().accessKeyId == "OLD") }
        #expect(await provider.refreshCount == 1)
        await gate.open()
        try await waitUntil { try await provider.credentials().accessKeyId == "NEW" }
        #expect(fetches.count == 1)
        #expect(await provider.refreshCount == 1)
    }

    @Test func advisoryRefreshFailureKeepsOldCredentials() async throws {
        let clock = ManualClock()
        let fetches = Counter()
        let logs = LogStore()
        let provider = RefreshingCredentialProvider(
            name: "test", now: clock.now, logger: logs.logger(),
            initial: Self.credentials("OLD", expiring: clock.date.addingTimeInterval(12 * 60))
        ) {
            fetches.increment()
            throw AWSCredentialError.transport(operation: "test fetch", message: "connection refused")
        }
        #expect(try await provider.credentials().accessKeyId == "OLD")
        try await waitUntil { logs.all.contains { $0.contains("credential refresh failed") } }
        #expect(try await provider.credentials().accessKeyId == "OLD")
        #expect(fetches.count >= 1)
    }

    @Test func mandatoryWindowMakesConcurrentCallersWaitForExactlyOneRefresh() async throws {
        let clock = ManualClock()
        let fetches = Counter()
        let finished = Counter()
        let gate = Gate()
        let provider = RefreshingCredentialProvider(
            name: "test", now: clock.now, logger: LogStore().logger(),
            initial: Self.credentials("OLD", expiring: clock.date.addingTimeInterval(9 * 60))
        ) {
            fetches.increment()
            await gate.wait()
            return Self.credentials("NEW", expiring: clock.date.addingTimeInterval(3600))
        }
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    let id = try await provider.credentials().accessKeyId
                    finished.increment()
                    return id
                }
            }
            try await waitUntil { fetches.count >= 1 }
            try await Task.sleep(for: .milliseconds(200))
            #expect(finished.count == 0, "callers in the mandatory window must wait for the refresh")
            #expect(fetches.count == 1)
            await gate.open()
            for try await id in group { #expect(id == "NEW") }
        }
        #expect(fetches.count == 1)
        #expect(await provider.refreshCount == 1)
    }

    @Test func mandatoryRefreshFailureReachesTheCaller() async throws {
        let clock = ManualClock()
        let provider = RefreshingCredentialProvider(
            name: "test", now: clock.now, logger: LogStore().logger(),
            initial: Self.credentials("OLD", expiring: clock.date.addingTimeInterval(5 * 60))
        ) {
            throw AWSCredentialError.httpStatus(operation: "test fetch", status: 500, message: "")
        }
        await #expect(throws: AWSCredentialError.httpStatus(operation: "test fetch", status: 500, message: "")) {
            try await provider.credentials()
        }
    }
}

/// Polls `condition` for up to 60 s (generous: the whole suite runs concurrently on 2 cores).
func waitUntil(_ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw TestFailure(description: "condition not met within 60 s")
}
