import Foundation

/// Why credentials could not be obtained. Every case names the provider or operation; none carries a secret.
public enum AWSCredentialError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No provider in the chain found credentials; `tried` lists the providers in order with their reasons.
    case noCredentials(tried: [String])
    /// A provider is configured but its configuration is unusable (e.g. a container URI on a forbidden host).
    case invalidConfiguration(provider: String, message: String)
    /// An HTTP call returned an unexpected status.
    case httpStatus(operation: String, status: Int, message: String)
    /// An AWS service returned an error document (e.g. STS `InvalidIdentityToken`).
    case serviceError(operation: String, status: Int, code: String, message: String)
    /// A response could not be understood.
    case malformedResponse(operation: String, message: String)
    /// The request did not complete (connection refused, timeout, …).
    case transport(operation: String, message: String)
    /// Reading a local file (token file, shared credentials) failed.
    case fileUnreadable(operation: String, path: String, message: String)
    /// A line of an AWS shared file (`~/.aws/credentials`, `~/.aws/config`) cannot be parsed.
    case malformedFile(path: String, line: Int, message: String)

    public var description: String {
        switch self {
        case .noCredentials(let tried):
            "no AWS credentials found (tried: \(tried.joined(separator: "; ")))"
        case .invalidConfiguration(let provider, let message):
            "\(provider): invalid configuration: \(message)"
        case .httpStatus(let operation, let status, let message):
            "\(operation): HTTP \(status)\(message.isEmpty ? "" : ": \(message)")"
        case .serviceError(let operation, let status, let code, let message):
            "\(operation): \(code) (HTTP \(status)): \(message)"
        case .malformedResponse(let operation, let message):
            "\(operation): malformed response: \(message)"
        case .transport(let operation, let message):
            "\(operation): request failed: \(message)"
        case .fileUnreadable(let operation, let path, let message):
            "\(operation): cannot read \(path): \(message)"
        case .malformedFile(let path, let line, let message):
            "\(path):\(line): malformed AWS shared file: \(message) (the credential chain stops here; fix or remove the line)"
        }
    }
}
