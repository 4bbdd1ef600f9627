import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A scriptable HTTP/1.1 server on 127.0.0.1 for testing ECR clients. Every request is recorded, then handled by
/// the first matching rule of `plan`: answered, delayed, reset, left hanging, or forwarded to `upstream` (a real
/// speaker such as moto) or, without one, to `fallback`. Tests change the plan per request while it runs.
///
/// Reusable by design: the reliability suite drives it at scale with its own rules (`FaultAction.custom`).
public final class FaultInjectingServer: Sendable {
    /// Answers requests that nothing else answers when there is no upstream.
    public typealias Handler = @Sendable (InjectedRequest) async throws -> InjectedResponse

    /// The rules consulted for every request.
    public let plan: FaultPlan
    /// `http://127.0.0.1:PORT`.
    public let url: URL
    public let port: Int

    private let upstream: URL?
    private let fallback: Handler
    private let client: HTTPClient?
    private let serverChannel: any Channel
    private let acceptTask: Mutex<Task<Void, Never>?>
    private let log = Mutex<[InjectedRequest]>([])
    private let connections = Atomic<Int>(0)
    private let sequence = Atomic<Int>(0)
    private let started = ContinuousClock.now

    /// Starts a server on a free loopback port.
    /// - Parameters:
    ///   - upstream: where `.forward` sends requests (headers and body unchanged, so signatures stay valid).
    ///   - plan: the initial rules.
    ///   - fallback: answers forwarded requests when `upstream` is nil (default: 404 `UnknownOperationException`).
    public static func start(upstream: URL? = nil, plan: FaultPlan = FaultPlan(),
                             fallback: Handler? = nil) async throws -> FaultInjectingServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let server = FaultInjectingServer(channel: channel.channel, upstream: upstream, plan: plan,
                                          fallback: fallback ?? { request in
                                              .ecrError("UnknownOperationException", message: "No fake for \(request.operation ?? request.uri)")
                                          })
        let task = Task<Void, Never> {
            _ = try? await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await server.serve(connection) }
                    }
                }
            }
        }
        server.acceptTask.withLock { $0 = task }
        return server
    }

    private init(channel: any Channel, upstream: URL?, plan: FaultPlan, fallback: @escaping Handler) {
        self.serverChannel = channel
        self.port = channel.localAddress?.port ?? 0
        self.url = URL(string: "http://127.0.0.1:\(self.port)")!
        self.upstream = upstream
        self.plan = plan
        self.fallback = fallback
        self.acceptTask = Mutex(nil)
        if upstream != nil {
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
            self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        } else {
            self.client = nil
        }
    }

    /// Every request received so far, in arrival order.
    public var requests: [InjectedRequest] { log.withLock { $0 } }

    /// Requests received for one operation.
    public func requests(for operation: String) -> [InjectedRequest] {
        requests.filter { $0.operation == operation }
    }

    /// TCP connections accepted so far.
    public var connectionCount: Int { connections.load(ordering: .relaxed) }

    public func clearLog() { log.withLock { $0.removeAll() } }

    /// Stops accepting, drops open connections and shuts the forwarding client down.
    public func stop() async {
        try? await serverChannel.close()
        acceptTask.withLock { $0 }?.cancel()
        try? await client?.shutdown()
    }

    /// Forwards a request to the upstream unchanged (or to the fallback handler).
    public func forward(_ request: InjectedRequest) async throws -> InjectedResponse {
        guard let upstream, let client else { return try await fallback(request) }
        var outgoing = HTTPClientRequest(url: upstream.absoluteString.trimmingSuffix("/") + request.uri)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for header in request.headers where !Self.hopByHop.contains(header.name.lowercased()) {
            outgoing.headers.add(name: header.name, value: header.value)
        }
        outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        let response = try await client.execute(outgoing, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 256 << 20)
        let headers = response.headers.filter { !Self.hopByHop.contains($0.name.lowercased()) }.map { (name: $0.name, value: $0.value) }
        return InjectedResponse(status: Int(response.status.code), headers: headers, body: Array(buffer: body))
    }

    private static let hopByHop: Set<String> = ["connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade", "proxy-connection"]

    private enum Outcome { case respond(InjectedResponse), reset, hang(Duration) }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        connections.add(1, ordering: .relaxed)
        let channel = connection.channel
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                    body = []
                case .body(let buffer):
                    body.append(contentsOf: buffer.readableBytesView)
                case .end:
                    guard let h = head else { continue }
                    let request = record(h, body: body)
                    switch await decide(request) {
                    case .respond(let response):
                        try await write(response, keepAlive: h.isKeepAlive, to: outbound)
                        if !h.isKeepAlive || response.header("Connection")?.lowercased() == "close" { return }
                    case .reset:
                        // SO_LINGER 0: close sends RST, as a dropped or reset connection does.
                        if let provider = channel as? any SocketOptionProvider {
                            try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
                        }
                        try? await channel.close()
                        return
                    case .hang(let duration):
                        try? await Task.sleep(for: duration)
                        try? await channel.close()
                        return
                    }
                }
            }
        }
    }

    private func record(_ head: HTTPRequestHead, body: [UInt8]) -> InjectedRequest {
        let number = sequence.add(1, ordering: .relaxed).newValue
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let request = InjectedRequest(sequenceNumber: number, method: head.method.rawValue, uri: head.uri,
                                      headers: head.headers.map { (name: $0.name, value: $0.value) }, body: body, receivedAt: seconds)
        log.withLock { $0.append(request) }
        return request
    }

    private func decide(_ request: InjectedRequest) async -> Outcome {
        let decision = plan.decide(for: request)
        if let delay = decision?.delay, delay > .zero { try? await Task.sleep(for: delay) }
        let forwarder: Forwarder = { [self] in try await self.forward($0) }
        do {
            switch decision?.action ?? .forward {
            case .forward: return .respond(try await forward(request))
            case .respond(let response): return .respond(response)
            case .resetConnection: return .reset
            case .hang(let duration): return .hang(duration)
            case .custom(let body): return .respond(try await body(request, forwarder))
            }
        } catch {
            // The upstream could not be reached: answer as a gateway would.
            return .respond(InjectedResponse(status: 502, headers: [("Content-Type", "text/plain")],
                                             body: Array("fault-injecting server: upstream failed: \(error)".utf8)))
        }
    }

    private func write(_ response: InjectedResponse, keepAlive: Bool,
                       to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders()
        for header in response.headers where !Self.hopByHop.contains(header.name.lowercased()) {
            headers.add(name: header.name, value: header.value)
        }
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        let close = !keepAlive || response.header("Connection")?.lowercased() == "close"
        headers.replaceOrAdd(name: "Connection", value: close ? "close" : "keep-alive")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        try await outbound.write(.head(head))
        if !response.body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body)))) }
        try await outbound.write(.end(nil))
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
