import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP answer.
public struct ECRHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Sends one HTTP request. Throws `TransportFailure` when no complete answer arrived.
public protocol ECRHTTPTransport: Sendable {
    func send(method: String, url: URL, headers: [(name: String, value: String)], body: [UInt8],
              timeout: Double) async throws -> ECRHTTPResponse
    func shutdown() async throws
}

/// The transport over async-http-client.
public final class AsyncHTTPClientTransport: ECRHTTPTransport {
    private let client: HTTPClient
    private let ownsClient: Bool

    /// Creates (and owns) an HTTP client.
    public init(connectTimeout: Double = 10) {
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.defaultConfiguration(connectTimeout: connectTimeout))
        ownsClient = true
    }

    /// Uses `client`; `owned` says whether `shutdown()` shuts it down.
    public init(client: HTTPClient, owned: Bool = false) {
        self.client = client
        ownsClient = owned
    }

    /// The HTTP client settings mir uses for AWS: a connect timeout, no decompression.
    public static func defaultConfiguration(connectTimeout: Double = 10) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .milliseconds(Int64(connectTimeout * 1000)))
        configuration.decompression = .disabled
        return configuration
    }

    public func send(method: String, url: URL, headers: [(name: String, value: String)], body: [UInt8],
                     timeout: Double) async throws -> ECRHTTPResponse {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let deadline = TimeAmount.milliseconds(Int64(timeout * 1000))
        do {
            let response = try await client.execute(request, timeout: deadline)
            let collected = try await response.body.collect(upTo: 64 << 20)
            return ECRHTTPResponse(status: Int(response.status.code),
                                   headers: response.headers.map { (name: $0.name, value: $0.value) },
                                   body: Array(buffer: collected))
        } catch let error as CancellationError {
            throw error
        } catch let error as HTTPClientError {
            switch error {
            case .readTimeout, .deadlineExceeded, .connectTimeout, .writeTimeout, .getConnectionFromPoolTimeout:
                throw TransportFailure.timeout(String(describing: error))
            case .cancelled where Task.isCancelled:
                throw CancellationError()
            default:
                throw TransportFailure.connectionFailure(error)
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw TransportFailure.connectionFailure(error)
        }
    }

    public func shutdown() async throws {
        if ownsClient { try await client.shutdown() }
    }
}

extension TransportFailure: Error, CustomStringConvertible {
    public var description: String {
        switch self {
        case .timeout(let detail): return "timed out (\(detail))"
        case .refused(let detail): return "connection refused (\(detail))"
        case .reset(let detail): return "connection reset (\(detail))"
        case .connection(let detail): return "connection failed (\(detail))"
        }
    }

    /// A failure to connect or to get an answer, classified by its type and errno (never by its text):
    /// ECONNREFUSED is `refused`; ECONNRESET, EPIPE and a connection the server closed are `reset`.
    public static func connectionFailure(_ error: any Error) -> TransportFailure {
        let detail = String(describing: error)
        // The errno's own words: NIO describes a refused connect as "connection reset (error set): Connection refused".
        switch errnoCode(of: error) {
        case let code? where code == ECONNREFUSED: return .refused("\(String(cString: strerror(code))) (errno \(code))")
        case let code? where code == ECONNRESET || code == EPIPE: return .reset("\(String(cString: strerror(code))) (errno \(code))")
        default: break
        }
        if let client = error as? HTTPClientError, client == .remoteConnectionClosed { return .reset(detail) }
        return .connection(detail)
    }

    /// The errno behind a NIO error: an `IOError`, or the first one among a `NIOConnectionError`'s attempts.
    static func errnoCode(of error: any Error) -> CInt? {
        if let io = error as? IOError { return io.errnoCode }
        if let connect = error as? NIOConnectionError {
            return connect.connectionErrors.lazy.compactMap { errnoCode(of: $0.error) }.first
        }
        return nil
    }
}
