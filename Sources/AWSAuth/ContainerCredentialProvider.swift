import AWSSigV4
import Foundation
import Logging

/// Container credentials: ECS (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on `http://169.254.170.2`) and EKS Pod Identity /
/// generic (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, https or a loopback/link-local allow-listed host), with the
/// `Authorization` value read from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` on every fetch (fallback
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN`). 2 s timeout, 3 attempts, 1 s apart; any status but 200 is an error.
public struct ContainerCredentialFetcher: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var url: String
        public var authorizationTokenFile: String?
        public var authorizationToken: String?

        public static let ecsHost = "http://169.254.170.2"
        static let allowedHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "[fd00:ec2::23]", "localhost"]

        /// The configuration the environment asks for; nil when neither URI variable is set.
        public static func resolve(environment: [String: String]) throws -> Configuration? {
            let tokenFile = environment.nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            let token = environment.nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            if let relative = environment.nonEmpty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
                let path = relative.hasPrefix("/") ? relative : "/" + relative
                return Configuration(url: ecsHost + path, authorizationTokenFile: tokenFile, authorizationToken: token)
            }
            guard let full = environment.nonEmpty("AWS_CONTAINER_CREDENTIALS_FULL_URI") else { return nil }
            guard let components = URLComponents(string: full), let scheme = components.scheme?.lowercased(),
                  let host = components.host?.lowercased(), !host.isEmpty else {
                throw AWSCredentialError.invalidConfiguration(provider: "container", message: "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL")
            }
            guard scheme == "https" || (scheme == "http" && isAllowedHTTPHost(host)) else {
                throw AWSCredentialError.invalidConfiguration(
                    provider: "container",
                    message: "AWS_CONTAINER_CREDENTIALS_FULL_URI must use https or a loopback/ECS/EKS host, not \(host)")
            }
            return Configuration(url: full, authorizationTokenFile: tokenFile, authorizationToken: token)
        }

        static func isAllowedHTTPHost(_ host: String) -> Bool {
            if allowedHosts.contains(host) { return true }
            let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            if bare == "::1" || bare == "0:0:0:0:0:0:0:1" { return true }
            let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        }
    }

    static let operation = "container credentials"
    public let configuration: Configuration
    let http: CredentialHTTP
    let timing: CredentialFetchTiming

    init(configuration: Configuration, http: CredentialHTTP, timing: CredentialFetchTiming) {
        self.configuration = configuration
        self.http = http
        self.timing = timing
    }

    public func fetch() async throws -> AWSCredentials {
        var headers = [("Accept", "application/json")]
        if let authorization = try authorizationValue() { headers.append(("Authorization", authorization)) }
        var lastError: any Error = AWSCredentialError.transport(operation: Self.operation, message: "no attempt made")
        for attempt in 1...max(1, timing.containerAttempts) {
            if attempt > 1 { try await Task.sleep(for: timing.containerRetryDelay) }
            do {
                let response = try await http.send(operation: Self.operation, method: "GET", url: configuration.url, headers: headers,
                                                   timeout: timing.containerTimeout)
                guard response.status == 200 else {
                    throw AWSCredentialError.httpStatus(operation: Self.operation, status: response.status, message: Self.errorMessage(response))
                }
                return try Self.parse(response.body)
            } catch {
                lastError = error
                http.logger.debug("container credential fetch attempt failed",
                                  metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
        }
        throw lastError
    }

    /// The `Authorization` header value: the token file's content (re-read every time), else the token variable.
    func authorizationValue() throws -> String? {
        var value: String?
        if let file = configuration.authorizationTokenFile {
            do {
                value = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw AWSCredentialError.fileUnreadable(operation: Self.operation, path: file, message: "\(error)")
            }
        } else {
            value = configuration.authorizationToken
        }
        if let value, value.contains("\r") || value.contains("\n") {
            throw AWSCredentialError.invalidConfiguration(provider: "container", message: "the authorization token contains CR or LF")
        }
        return value
    }

    static func parse(_ body: [UInt8]) throws -> AWSCredentials {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw AWSCredentialError.malformedResponse(operation: operation, message: "the body is not a JSON object")
        }
        guard let id = object["AccessKeyId"] as? String, let secret = object["SecretAccessKey"] as? String,
              let token = object["Token"] as? String else {
            throw AWSCredentialError.malformedResponse(operation: operation, message: "missing AccessKeyId, SecretAccessKey or Token")
        }
        var expiration: Date?
        if let text = object["Expiration"] as? String {
            guard let parsed = ISO8601.parse(text) else {
                throw AWSCredentialError.malformedResponse(operation: operation, message: "unparseable Expiration \(text)")
            }
            expiration = parsed
        }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token, expiration: expiration)
    }

    static func errorMessage(_ response: CredentialHTTPResponse) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else { return "" }
        return [object["code"] ?? object["Code"], object["message"] ?? object["Message"]].compactMap { $0 as? String }.joined(separator: ": ")
    }
}

/// Timeouts, attempts and delays of the HTTP-based providers (defaults match botocore; tests shorten them).
public struct CredentialFetchTiming: Sendable {
    public var containerTimeout: Duration = .seconds(2)
    public var containerAttempts = 3
    public var containerRetryDelay: Duration = .seconds(1)
    /// IMDS timeout and attempts; `AWS_METADATA_SERVICE_TIMEOUT` / `AWS_METADATA_SERVICE_NUM_ATTEMPTS` override them.
    public var metadataTimeout: Duration = .seconds(1)
    public var metadataAttempts = 1

    public init() {}

    public static let standard = CredentialFetchTiming()
}
