import Foundation
import Logging

/// Adds authentication to a request: returns every header to send (the given ones included).
/// The production implementation signs with SigV4 (`SigV4RequestAuthorizer`).
public protocol ECRRequestAuthorizer: Sendable {
    func authorize(method: String, url: URL, headers: [(name: String, value: String)], body: [UInt8],
                   date: Date) async throws -> [(name: String, value: String)]
}

/// Why an ECR call failed, after retries.
public enum ECRCallError: Error, Sendable, CustomStringConvertible {
    /// ECR (or moto, or a proxy) answered with an error.
    case service(ECRServiceError, operation: String, attempts: Int)
    /// No answer: connection refused/reset or timed out, on every attempt.
    case transport(TransportFailure, operation: String, attempts: Int)
    /// Credentials could not be obtained, so nothing was sent.
    case credentials(String, operation: String)
    /// The answer was not the JSON the operation returns.
    case malformedResponse(String, operation: String)

    public var operation: String {
        switch self {
        case .service(_, let operation, _), .transport(_, let operation, _), .credentials(_, let operation),
             .malformedResponse(_, let operation): return operation
        }
    }

    public var description: String {
        switch self {
        case .service(let error, let operation, let attempts):
            return "\(operation): \(error)\(attempts > 1 ? " after \(attempts) attempts" : "")"
        case .transport(let failure, let operation, let attempts):
            return "\(operation): \(failure)\(attempts > 1 ? " after \(attempts) attempts" : "")"
        case .credentials(let message, let operation): return "\(operation): no usable AWS credentials: \(message)"
        case .malformedResponse(let message, let operation): return "\(operation): malformed answer: \(message)"
        }
    }
}

/// ECR's awsJson1_1 wire client: one POST to `/` per call with `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>`,
/// signed on every attempt, retried per `RetryPolicy` with a retry quota, paced by the shared adaptive limiter.
/// Logs never carry credentials or the Authorization header.
public final class ECRClient: Sendable {
    public static let targetPrefix = "AmazonEC2ContainerRegistry_V20150921"
    public static let contentType = "application/x-amz-json-1.1"

    public let endpoint: URL
    public let retryPolicy: RetryPolicy
    public let requestTimeout: Double
    /// Nil unless the retry mode is adaptive or a ceiling is configured.
    public let rateLimiter: AdaptiveRateLimiter?
    public let retryQuota: RetryQuota
    private let authorizer: any ECRRequestAuthorizer
    private let transport: any ECRHTTPTransport
    private let clock: any RetryClock
    private let random: @Sendable () -> Double
    private let logger: Logger

    public init(endpoint: URL, authorizer: any ECRRequestAuthorizer, transport: any ECRHTTPTransport,
                retryPolicy: RetryPolicy = RetryPolicy(), requestTimeout: Double = 30,
                rateLimiter: AdaptiveRateLimiter? = nil, retryQuota: RetryQuota = RetryQuota(),
                clock: any RetryClock = SystemRetryClock(),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
                logger: Logger = Logger(label: "mir.ecr")) {
        self.endpoint = endpoint
        self.authorizer = authorizer
        self.transport = transport
        self.retryPolicy = retryPolicy
        self.requestTimeout = requestTimeout
        self.rateLimiter = rateLimiter
        self.retryQuota = retryQuota
        self.clock = clock
        self.random = random
        self.logger = logger
    }

    /// Calls an operation with an encodable input and decodes its output.
    public func call<Output: Decodable>(_ operation: String, _ input: some Encodable & Sendable,
                                        as output: Output.Type = Output.self) async throws(ECRCallError) -> Output {
        let body: [UInt8]
        do {
            body = Array(try Self.encoder.encode(input))
        } catch {
            throw .malformedResponse("cannot encode the request: \(error)", operation: operation)
        }
        let response = try await send(operation, body: body)
        do {
            return try JSONDecoder().decode(Output.self, from: Data(response.body.isEmpty ? Array("{}".utf8) : response.body))
        } catch {
            throw .malformedResponse("\(error)", operation: operation)
        }
    }

    /// Sends one operation with retries; returns the 200 answer.
    public func send(_ operation: String, body: [UInt8]) async throws(ECRCallError) -> ECRHTTPResponse {
        var attempt = 1
        var quotaTaken = 0
        while true {
            let failure: Failure
            do {
                if let rateLimiter { try await rateLimiter.acquire() }
            } catch {
                throw .transport(.connection("cancelled"), operation: operation, attempts: attempt)
            }
            let headers: [(name: String, value: String)]
            do {
                headers = try await authorizer.authorize(
                    method: "POST", url: endpoint,
                    headers: [("Content-Type", Self.contentType), ("X-Amz-Target", "\(Self.targetPrefix).\(operation)")],
                    body: body, date: Date())
            } catch {
                throw .credentials(String(describing: error), operation: operation)
            }
            logger.debug("ECR request", metadata: ["operation": "\(operation)", "attempt": "\(attempt)", "endpoint": "\(endpoint)"])
            logger.trace("ECR request detail", metadata: ["operation": "\(operation)", "headers": "\(Self.redacted(headers))",
                                                         "body": "\(String(decoding: body.prefix(2048), as: UTF8.self))"])
            do {
                let response = try await transport.send(method: "POST", url: endpoint, headers: headers, body: body,
                                                        timeout: requestTimeout)
                logger.trace("ECR response", metadata: ["operation": "\(operation)", "status": "\(response.status)",
                                                       "headers": "\(Self.redacted(response.headers))"])
                if (200..<300).contains(response.status) {
                    rateLimiter?.record(throttled: false)
                    retryQuota.release(acquired: quotaTaken)
                    return response
                }
                let error = ECRErrorDecoder.decode(status: response.status, headers: response.headers, body: response.body)
                failure = .service(error)
            } catch let transportFailure as TransportFailure {
                failure = .transport(transportFailure)
            } catch {
                throw .transport(.connection(String(describing: error)), operation: operation, attempts: attempt)
            }
            let retryClass = failure.retryClass
            rateLimiter?.record(throttled: retryClass == .throttling)
            let giveUp: String?
            if retryClass == .nonRetryable {
                giveUp = nil
            } else if attempt >= retryPolicy.maxAttempts {
                giveUp = "max attempts (\(retryPolicy.maxAttempts)) reached"
            } else if let cost = retryQuota.acquire(for: retryClass) {
                quotaTaken += cost
                giveUp = nil
                let delay = retryPolicy.backoff.delay(afterAttempt: attempt, random: random())
                logger.debug("ECR retry", metadata: ["operation": "\(operation)", "attempt": "\(attempt)",
                                                    "class": "\(retryClass.rawValue)", "failure": "\(failure)",
                                                    "delaySeconds": "\(delay)"])
                do {
                    try await clock.sleep(seconds: delay)
                } catch {
                    throw failure.callError(operation: operation, attempts: attempt)
                }
                attempt += 1
                continue
            } else {
                giveUp = "retry quota exhausted"
            }
            if let giveUp {
                logger.debug("ECR giving up", metadata: ["operation": "\(operation)", "reason": "\(giveUp)", "failure": "\(failure)"])
            }
            throw failure.callError(operation: operation, attempts: attempt)
        }
    }

    /// Shuts the transport down.
    public func shutdown() async throws {
        try await transport.shutdown()
    }

    private enum Failure: CustomStringConvertible {
        case service(ECRServiceError)
        case transport(TransportFailure)

        var retryClass: RetryClass {
            switch self {
            case .service(let error): return ECRRetryClassifier.classify(error)
            case .transport(let failure): return ECRRetryClassifier.classify(failure)
            }
        }

        func callError(operation: String, attempts: Int) -> ECRCallError {
            switch self {
            case .service(let error): return .service(error, operation: operation, attempts: attempts)
            case .transport(let failure): return .transport(failure, operation: operation, attempts: attempts)
            }
        }

        var description: String {
            switch self {
            case .service(let error): return error.description
            case .transport(let failure): return failure.description
            }
        }
    }

    /// Header names whose values are secret and never logged.
    public static let secretHeaders: Set<String> = ["authorization", "x-amz-security-token", "x-amz-content-sha256-secret",
                                                    "x-aws-ec2-metadata-token", "cookie", "set-cookie"]

    static func redacted(_ headers: [(name: String, value: String)]) -> String {
        headers.map { "\($0.name): \(secretHeaders.contains($0.name.lowercased()) ? "<redacted>" : $0.value)" }
            .joined(separator: ", ")
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
