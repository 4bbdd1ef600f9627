import AsyncHTTPClient
import Logging
import MirTelemetry
import NIOCore
import NIOHTTP1
import Prometheus
import Testing

/// A GET over loopback; returns the status, body and headers.
struct HTTPReply {
    var status: Int
    var body: String
    var headers: [(String, String)]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

func get(_ url: String, method: HTTPMethod = .GET, timeout: TimeAmount = .seconds(10)) async throws -> HTTPReply {
    var request = HTTPClientRequest(url: url)
    request.method = method
    let response = try await HTTPClient.shared.execute(request, timeout: timeout)
    let body = try await response.body.collect(upTo: 4 << 20)
    return HTTPReply(status: Int(response.status.code), body: String(buffer: body),
                     headers: response.headers.map { ($0.name, $0.value) })
}

func baseURL(_ address: SocketAddress?) throws -> String {
    let port = try #require(address?.port)
    return "http://127.0.0.1:\(port)"
}

/// Runs a server on 127.0.0.1 with free ports for the duration of `body`, then cancels it.
func withServer<T: Sendable>(
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    checks: HealthChecks,
    sharedListener: Bool = false,
    _ body: @Sendable (TelemetryServer.ListeningAddresses) async throws -> T
) async throws -> T {
    let loopback = BindAddress(host: "127.0.0.1", port: 0)
    let configuration = sharedListener
        ? TelemetryServer.Configuration.single(loopback)
        : TelemetryServer.Configuration(metricsAddress: loopback, probesAddress: loopback)
    let server = TelemetryServer(configuration: configuration, registry: registry, healthChecks: checks,
                                 logger: Logger(label: "test.telemetry"))
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await server.run(); return nil }
        let addresses = try await server.listeningAddresses()
        let result = try await body(addresses)
        group.cancelAll()
        while let _ = try await group.next() {}
        return result
    }
}
