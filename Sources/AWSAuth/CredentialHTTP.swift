import AsyncHTTPClient
import Foundation
import Logging

/// A completed HTTP exchange with a credential endpoint.
struct CredentialHTTPResponse: Sendable {
    var status: Int
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Thin wrapper over AsyncHTTPClient for the small requests credential providers make.
/// Failures become ``AWSCredentialError/transport(operation:message:)``; the request headers are never logged.
struct CredentialHTTP: Sendable {
    let client: HTTPClient
    let logger: Logger

    static let maxBodyBytes = 1 << 20

    func send(
        operation: String, method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        timeout: Duration
    ) async throws -> CredentialHTTPResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        let milliseconds = max(1, Int64(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        logger.trace("credential endpoint request", metadata: ["operation": "\(operation)", "method": "\(method)", "url": "\(url)"])
        do {
            let response = try await client.execute(request, timeout: .milliseconds(milliseconds))
            let buffer = try await response.body.collect(upTo: Self.maxBodyBytes)
            let result = CredentialHTTPResponse(status: Int(response.status.code), body: Array(buffer.readableBytesView))
            logger.trace("credential endpoint response", metadata: ["operation": "\(operation)", "status": "\(result.status)"])
            return result
        } catch let error as AWSCredentialError {
            throw error
        } catch {
            logger.debug("credential endpoint request failed", metadata: ["operation": "\(operation)", "error": "\(error)"])
            throw AWSCredentialError.transport(operation: operation, message: String(describing: error))
        }
    }
}
