import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A request as the API handlers see it.
struct APIRequest: Sendable {
    var method: HTTPMethod
    var path: String
    var query: [String: String]
    var headers: HTTPHeaders
    var body: Data

    init(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: Data) {
        self.method = method
        self.headers = headers
        self.body = body
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = String(parts[0])
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let decode: (Substring) -> String = { s in
                    String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
                }
                query[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
            }
        }
        self.query = query
    }
}

/// Writes the chunks of a streamed response.
struct StreamWriter: Sendable {
    fileprivate let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>

    func write(_ data: Data) async throws {
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: data))))
    }
}

/// A response: complete, or streamed (watch).
enum APIResponse: Sendable {
    case full(status: HTTPResponseStatus, headers: HTTPHeaders, body: Data)
    case stream(status: HTTPResponseStatus, headers: HTTPHeaders, producer: @Sendable (StreamWriter) async -> Void)
}

protocol APIRequestHandler: Sendable {
    func handle(_ request: APIRequest) async -> APIResponse
}

/// An HTTP/1.1 server (optionally TLS) on NIO's async channels.
final class HTTPServer: Sendable {
    private let serverChannel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let runTask: Task<Void, Never>
    let port: Int

    init(host: String, port: Int, tls: NIOSSLContext?, group: EventLoopGroup, handler: any APIRequestHandler, logger: Logger) async throws {
        serverChannel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        self.port = serverChannel.channel.localAddress?.port ?? port
        let channel = serverChannel
        runTask = Task {
            do {
                try await channel.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await connection in inbound {
                            group.addTask { await HTTPServer.serve(connection, handler: handler, logger: logger) }
                        }
                    }
                }
            } catch {
                logger.debug("server stopped: \(error)")
            }
        }
    }

    func shutdown() async {
        try? await serverChannel.channel.close()
        runTask.cancel()
        _ = await runTask.value
    }

    private static func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
                              handler: any APIRequestHandler, logger: Logger) async {
        let channel = connection.channel
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        head = h
                        body.clear()
                    case .body(var b):
                        body.writeBuffer(&b)
                    case .end:
                        guard let h = head else { continue }
                        let request = APIRequest(method: h.method, uri: h.uri, headers: h.headers,
                                                 body: Data(body.readableBytesView))
                        let response = await handler.handle(request)
                        switch response {
                        case .full(let status, var headers, let data):
                            headers.replaceOrAdd(name: "Content-Length", value: String(data.count))
                            if !h.isKeepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
                            try await outbound.write(.head(HTTPResponseHead(version: h.version, status: status, headers: headers)))
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: data))))
                            try await outbound.write(.end(nil))
                        case .stream(let status, var headers, let producer):
                            headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
                            try await outbound.write(.head(HTTPResponseHead(version: h.version, status: status, headers: headers)))
                            let writer = StreamWriter(outbound: outbound)
                            let task = Task { await producer(writer) }
                            channel.closeFuture.whenComplete { _ in task.cancel() }
                            await withTaskCancellationHandler {
                                await task.value
                            } onCancel: {
                                task.cancel()
                            }
                            try await outbound.write(.end(nil))
                        }
                        if !h.isKeepAlive { return }
                        head = nil
                    }
                }
            }
        } catch {
            logger.trace("connection ended: \(error)")
        }
    }
}
