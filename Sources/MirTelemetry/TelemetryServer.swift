import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// What a listener serves.
public enum TelemetryEndpoint: String, Sendable, Hashable, CaseIterable {
    /// `/metrics`: the Prometheus text exposition of the registry.
    case metrics
    /// `/healthz` and `/healthz/<check>`.
    case healthz
    /// `/readyz` and `/readyz/<check>`.
    case readyz
}

/// Errors of ``TelemetryServer``.
public enum TelemetryServerError: Error, Sendable, CustomStringConvertible {
    /// Binding `address` failed (e.g. the port is in use).
    case bindFailed(address: BindAddress, reason: String)
    /// ``TelemetryServer/listeningAddresses()`` was awaited but the server stopped (or never started listening).
    case notListening

    public var description: String {
        switch self {
        case .bindFailed(let address, let reason): "telemetry server: binding \(address) failed: \(reason)"
        case .notListening: "telemetry server: not listening"
        }
    }
}

/// The HTTP server for `/metrics`, `/healthz` and `/readyz`, run as a swift-service-lifecycle `Service`.
///
/// As in controller-runtime, metrics and probes listen on separate addresses (default `:8080` and `:8081`); give
/// both the same address to serve all three paths from one listener, or `nil` to disable one. Every response
/// closes its connection (`Connection: close`); other paths get 404 and methods other than GET/HEAD get 405.
/// On graceful shutdown the listeners close at once and in-flight requests finish; on cancellation everything
/// closes.
public final class TelemetryServer: Service, Sendable {
    /// Where to listen and what to serve.
    public struct Configuration: Sendable {
        /// The metrics listener (`/metrics`); `nil` disables it.
        public var metricsAddress: BindAddress?
        /// The probe listener (`/healthz`, `/readyz`); `nil` disables it. Equal addresses (other than port 0) share
        /// one listener.
        public var probesAddress: BindAddress?
        /// How long one connection may take to send its request and receive the answer.
        public var requestTimeout: Duration
        /// Set by ``single(_:requestTimeout:)``: serve everything from one listener, even on port 0.
        var sharesOneListener = false

        public init(metricsAddress: BindAddress? = .defaultMetrics, probesAddress: BindAddress? = .defaultProbes,
                    requestTimeout: Duration = .seconds(10)) {
            self.metricsAddress = metricsAddress
            self.probesAddress = probesAddress
            self.requestTimeout = requestTimeout
        }

        /// One listener on `address` serving `/metrics`, `/healthz` and `/readyz`.
        public static func single(_ address: BindAddress, requestTimeout: Duration = .seconds(10)) -> Configuration {
            var configuration = Configuration(metricsAddress: address, probesAddress: address, requestTimeout: requestTimeout)
            configuration.sharesOneListener = true
            return configuration
        }

        /// The listeners to open and what each serves.
        var listeners: [(address: BindAddress, endpoints: Set<TelemetryEndpoint>)] {
            var plan: [(address: BindAddress, endpoints: Set<TelemetryEndpoint>)] = []
            if let metricsAddress { plan.append((metricsAddress, [.metrics])) }
            if let probesAddress {
                if let index = plan.firstIndex(where: { $0.address == probesAddress && (probesAddress.port != 0 || sharesOneListener) }) {
                    plan[index].endpoints.formUnion([.healthz, .readyz])
                } else {
                    plan.append((probesAddress, [.healthz, .readyz]))
                }
            }
            return plan
        }
    }

    /// The addresses actually bound (ports resolved when configured as 0).
    public struct ListeningAddresses: Sendable, Equatable {
        public var metrics: SocketAddress?
        public var probes: SocketAddress?
    }

    private enum ListenState {
        case starting([CheckedContinuation<ListeningAddresses, any Error>])
        case listening(ListeningAddresses)
        case stopped
    }

    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    private typealias Listener = (channel: NIOAsyncChannel<Connection, Never>, endpoints: Set<TelemetryEndpoint>)

    private let configuration: Configuration
    private let registry: PrometheusCollectorRegistry
    private let healthChecks: HealthChecks
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let listenState = Mutex(ListenState.starting([]))

    /// - Parameters:
    ///   - registry: the registry `/metrics` renders (usually ``Telemetry/bootstrap()``'s).
    ///   - healthChecks: the checks behind `/healthz` and `/readyz`.
    public init(configuration: Configuration = Configuration(), registry: PrometheusCollectorRegistry,
                healthChecks: HealthChecks, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "mir.telemetry")) {
        self.configuration = configuration
        self.registry = registry
        self.healthChecks = healthChecks
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Waits until the server listens and returns the bound addresses; throws
    /// ``TelemetryServerError/notListening`` if it stopped first.
    public func listeningAddresses() async throws -> ListeningAddresses {
        try await withCheckedThrowingContinuation { continuation in
            let immediate: Result<ListeningAddresses, any Error>? = listenState.withLock { state in
                switch state {
                case .starting(var waiters):
                    waiters.append(continuation)
                    state = .starting(waiters)
                    return nil
                case .listening(let addresses): return .success(addresses)
                case .stopped: return .failure(TelemetryServerError.notListening)
                }
            }
            if let immediate { continuation.resume(with: immediate) }
        }
    }

    /// Binds the listeners and serves until graceful shutdown or cancellation.
    public func run() async throws {
        let listeners: [Listener]
        do {
            listeners = try await bindListeners()
        } catch {
            finishListening(with: .failure(error))
            throw error
        }
        var addresses = ListeningAddresses()
        for listener in listeners {
            let address = listener.channel.channel.localAddress
            if listener.endpoints.contains(.metrics) { addresses.metrics = address }
            if listener.endpoints.contains(.healthz) { addresses.probes = address }
            logger.info("telemetry server listening", metadata: [
                "address": "\(address.map(String.init(describing:)) ?? "?")",
                "endpoints": "\(listener.endpoints.map(\.rawValue).sorted().joined(separator: ","))",
            ])
        }
        finishListening(with: .success(addresses))
        defer { finishListening(with: .failure(TelemetryServerError.notListening)) }

        let closeListeners: @Sendable () -> Void = {
            for listener in listeners { listener.channel.channel.close(promise: nil) }
        }
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for listener in listeners {
                    group.addTask { try await self.accept(on: listener) }
                }
            }
        } onCancelOrGracefulShutdown: {
            closeListeners()
        }
        logger.info("telemetry server stopped")
    }

    private func finishListening(with result: Result<ListeningAddresses, any Error>) {
        let waiters: [CheckedContinuation<ListeningAddresses, any Error>] = listenState.withLock { state in
            guard case .starting(let waiters) = state else {
                if case .failure = result { state = .stopped }
                return []
            }
            switch result {
            case .success(let addresses): state = .listening(addresses)
            case .failure: state = .stopped
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    private func bindListeners() async throws -> [Listener] {
        var listeners: [Listener] = []
        do {
            for (address, endpoints) in configuration.listeners {
                listeners.append((try await bind(address), endpoints))
            }
        } catch {
            for listener in listeners { try? await listener.channel.channel.close() }
            throw error
        }
        return listeners
    }

    private func bind(_ address: BindAddress) async throws -> NIOAsyncChannel<Connection, Never> {
        do {
            return try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw TelemetryServerError.bindFailed(address: address, reason: String(describing: error))
        }
    }

    private func accept(on listener: Listener) async throws {
        let timeout = configuration.requestTimeout
        do {
            try await withThrowingDiscardingTaskGroup { connections in
                try await listener.channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        connections.addTask {
                            await self.serve(connection, endpoints: listener.endpoints, timeout: timeout)
                        }
                    }
                }
            }
        } catch let error as ChannelError where error == .alreadyClosed || error == .ioOnClosedChannel {
            // The listener was closed by shutdown.
        } catch is CancellationError {
            // Cancelled: the listener is closed by the cancellation handler; stopping is the expected outcome.
        }
    }

    /// Serves one request on `connection`, then closes it; gives up after `timeout`.
    private func serve(_ connection: Connection, endpoints: Set<TelemetryEndpoint>, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await connection.executeThenClose { inbound, outbound in
                        var head: HTTPRequestHead?
                        for try await part in inbound {
                            switch part {
                            case .head(let requestHead): head = requestHead
                            case .body: continue
                            case .end:
                                guard let head else { return }
                                let response = await self.respond(to: head, endpoints: endpoints)
                                try await self.write(response, for: head, to: outbound)
                                return
                            }
                        }
                    }
                } catch {
                    self.logger.debug("telemetry connection ended with an error", metadata: ["error": "\(error)"])
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            _ = await group.next()
            group.cancelAll()
        }
    }

    private struct Reply {
        var status: HTTPResponseStatus
        var contentType: String
        var body: String
    }

    private func respond(to head: HTTPRequestHead, endpoints: Set<TelemetryEndpoint>) async -> Reply {
        guard head.method == .GET || head.method == .HEAD else {
            return Reply(status: .methodNotAllowed, contentType: "text/plain; charset=utf-8", body: "method not allowed\n")
        }
        let (path, query) = Self.split(uri: head.uri)
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let first = segments.first, let endpoint = TelemetryEndpoint(rawValue: first), endpoints.contains(endpoint) else {
            return Self.notFound
        }
        switch endpoint {
        case .metrics:
            guard segments.count == 1 else { return Self.notFound }
            return Reply(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: registry.emitToString())
        case .healthz, .readyz:
            guard segments.count <= 2 else { return Self.notFound }
            let probe: HealthProbe = endpoint == .healthz ? .healthz : .readyz
            let response = await healthChecks.respond(probe: probe, subpath: segments.count == 2 ? segments[1] : "", query: query)
            if !response.failures.isEmpty {
                logger.info("\(probe.rawValue) check failed", metadata: [
                    "failures": .dictionary(response.failures.mapValues { .string($0) }),
                ])
            }
            return Reply(status: HTTPResponseStatus(statusCode: response.status), contentType: "text/plain; charset=utf-8",
                         body: response.body)
        }
    }

    private static let notFound = Reply(status: .notFound, contentType: "text/plain; charset=utf-8", body: "404 page not found\n")

    private func write(_ reply: Reply, for head: HTTPRequestHead,
                       to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        let body = ByteBuffer(string: reply.body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        headers.add(name: "Connection", value: "close")
        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: reply.status, headers: headers)))
        if head.method != .HEAD { try await outbound.write(.body(.byteBuffer(body))) }
        try await outbound.write(.end(nil))
    }

    /// Splits a request target into its decoded path and query items (`name` or `name=value`).
    static func split(uri: String) -> (path: String, query: [(String, String?)]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = percentDecode(String(parts[0]))
        guard parts.count == 2 else { return (path, []) }
        let items: [(String, String?)] = parts[1].split(separator: "&").map { item in
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecode(String(pair[0]).replacingPlus())
            return (name, pair.count == 2 ? percentDecode(String(pair[1]).replacingPlus()) : nil)
        }
        return (path, items)
    }

    static func percentDecode(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
               let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    fileprivate func replacingPlus() -> String {
        String(self.map { $0 == "+" ? " " : $0 })
    }
}
