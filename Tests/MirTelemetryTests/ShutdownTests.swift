import Foundation
import Logging
import MirTelemetry
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing
import UnixSignals

/// A stand-in for the reconcile loop: runs until graceful shutdown, then takes a moment to finish its work.
private struct WorkerService: Service {
    let finished: @Sendable () -> Void
    func run() async throws {
        try? await gracefulShutdown()
        try await Task.sleep(for: .milliseconds(50))
        finished()
    }
}

private final class Flag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var value: Bool { state.withLock { $0 } }
}

@Suite("Graceful shutdown through swift-service-lifecycle", .serialized)
struct ShutdownTests {
    private func makeGroup(signals: [UnixSignal], worker: Flag) -> (ServiceGroup, TelemetryServer) {
        let server = TelemetryServer(configuration: .single(BindAddress(host: "127.0.0.1", port: 0)),
                                     registry: PrometheusCollectorRegistry(), healthChecks: HealthChecks.standard())
        let group = Telemetry.makeServiceGroup(services: [WorkerService(finished: { worker.set() })], telemetry: server,
                                               gracePeriod: .seconds(5), signals: signals,
                                               logger: Logger(label: "test.group"))
        return (group, server)
    }

    @Test("a graceful-shutdown signal stops the group (server included) within a bound, after the worker finished")
    func signalStopsGroup() async throws {
        let worker = Flag()
        let (group, server) = makeGroup(signals: [.sigusr2], worker: worker)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let url = try baseURL(try await server.listeningAddresses().probes)
            #expect(try await get(url + "/healthz").status == 200)

            let signalled = ContinuousClock.now
            kill(getpid(), SIGUSR2)
            _ = try await tasks.next()
            let elapsed = ContinuousClock.now - signalled
            #expect(elapsed < .seconds(30), "shutdown took \(elapsed)")
            #expect(worker.value)
            // The listener is closed: connecting fails (the client retries refused connections until its deadline).
            await #expect(throws: (any Error).self) { _ = try await get(url + "/healthz", timeout: .milliseconds(500)) }
        }
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test("triggerGracefulShutdown() and task cancellation both end a running server promptly")
    func programmaticShutdownAndCancel() async throws {
        let worker = Flag()
        let (group, server) = makeGroup(signals: [], worker: worker)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            _ = try await server.listeningAddresses()
            let asked = ContinuousClock.now
            await group.triggerGracefulShutdown()
            _ = try await tasks.next()
            #expect(ContinuousClock.now - asked < .seconds(30))
            #expect(worker.value)
        }

        // Cancellation without graceful shutdown (e.g. the grace period ran out).
        let lone = TelemetryServer(configuration: .single(BindAddress(host: "127.0.0.1", port: 0)),
                                   registry: PrometheusCollectorRegistry(), healthChecks: HealthChecks())
        let task = Task { try await lone.run() }
        _ = try await lone.listeningAddresses()
        let cancelled = ContinuousClock.now
        task.cancel()
        _ = await task.result
        #expect(ContinuousClock.now - cancelled < .seconds(30))
        await #expect(throws: TelemetryServerError.self) { _ = try await lone.listeningAddresses() }
    }
}
