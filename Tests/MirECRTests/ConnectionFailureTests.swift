import ECRFaultInjection
import Foundation
import MirRegistry
import Testing
@testable import MirECR
#if canImport(Glibc)
import Glibc
#endif

/// Issue 8, problem 11: a refused connection is reported as refused, a reset one as reset (decided on the error's
/// type and errno, never on its text).
@Suite struct ConnectionFailureTests {
    /// A loopback port nothing listens on: bound, then closed.
    func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        #expect(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func aRefusedConnectionIsReportedAsRefused() async throws {
        let port = try closedPort()
        let registry = Fixtures.registry(endpoint: URL(string: "http://127.0.0.1:\(port)")!, maxAttempts: 2, requestTimeout: 10)
        do {
            _ = try await registry.listImages(repositoryName: "mir/a", maxResults: nil, nextToken: nil)
            Issue.record("a call to a closed port succeeded")
        } catch let error as RegistryError {
            #expect(error.code == .connectionFailed)
            #expect(error.message.hasPrefix("connection refused after 2 attempt(s)"), "\(error)")
            #expect(!error.message.contains("connection reset"), "\(error)")
        }
        try await registry.shutdown()
    }

    @Test func aResetConnectionIsReportedAsReset() async throws {
        let server = try await FaultInjectingServer.start(plan: FaultPlan([FaultRule(action: .resetConnection)]))
        let registry = Fixtures.registry(endpoint: server.url, maxAttempts: 2, requestTimeout: 10)
        do {
            _ = try await registry.listImages(repositoryName: "mir/a", maxResults: nil, nextToken: nil)
            Issue.record("a reset call succeeded")
        } catch let error as RegistryError {
            #expect(error.code == .connectionFailed)
            #expect(error.message.hasPrefix("connection reset by the server after 2 attempt(s)"), "\(error)")
        }
        try await registry.shutdown()
        await server.stop()
    }

    @Test func otherFailuresStayGenericAndAllAreRetried() {
        struct Other: Error {}
        guard case .connection = TransportFailure.connectionFailure(Other()) else { Issue.record("other"); return }
        #expect(ECRRetryClassifier.classify(.refused("x")) == .transient && ECRRetryClassifier.classify(.reset("x")) == .transient)
    }
}
