import AWSSigV4
import Foundation

/// Something that can supply AWS credentials (possibly refreshing them).
public protocol AWSCredentialProvider: Sendable {
    func credentials() async throws -> AWSCredentials
}

/// Always returns the same credentials.
public struct StaticCredentialProvider: AWSCredentialProvider {
    public let value: AWSCredentials

    public init(_ credentials: AWSCredentials) {
        value = credentials
    }

    public func credentials() async throws -> AWSCredentials { value }
}

/// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN` (legacy `AWS_SECURITY_TOKEN`) and
/// `AWS_CREDENTIAL_EXPIRATION`.
public enum EnvironmentCredentials {
    /// The credentials the environment carries, or nil when the key pair is absent.
    public static func load(from environment: [String: String]) -> AWSCredentials? {
        guard let accessKeyId = environment.nonEmpty("AWS_ACCESS_KEY_ID"),
              let secret = environment.nonEmpty("AWS_SECRET_ACCESS_KEY") else { return nil }
        let token = environment.nonEmpty("AWS_SESSION_TOKEN") ?? environment.nonEmpty("AWS_SECURITY_TOKEN")
        let expiration = environment.nonEmpty("AWS_CREDENTIAL_EXPIRATION").flatMap(ISO8601.parse)
        return AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secret, sessionToken: token, expiration: expiration)
    }
}

extension Dictionary where Key == String, Value == String {
    /// The value of `key` with surrounding whitespace removed, or nil when absent or empty.
    func nonEmpty(_ key: String) -> String? {
        guard let value = self[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }
}
