import AWSSigV4
import Foundation
import Logging

/// EC2 instance metadata (IMDSv2 with the IMDSv1 fallback rules of botocore's `IMDSFetcher`):
/// 1. `PUT /latest/api/token` (`X-aws-ec2-metadata-token-ttl-seconds: 21600`): 200 gives a token; 403/404/405, a
///    timeout or a transport error mean "no token" (IMDSv1, unless `AWS_EC2_METADATA_V1_DISABLED`); 400 is fatal;
///    other statuses are retried.
/// 2. `GET /latest/meta-data/iam/security-credentials/` gives the role name.
/// 3. `GET /latest/meta-data/iam/security-credentials/<role>` gives the credentials JSON.
/// Steps 2–3 retry on a non-200 status, an empty body or (step 3) invalid JSON.
public struct InstanceMetadataCredentialFetcher: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var endpoint: String
        public var v1Disabled: Bool
        public var timeout: Duration
        public var attempts: Int

        /// nil when `AWS_EC2_METADATA_DISABLED=true`.
        public static func resolve(environment: [String: String], timing: CredentialFetchTiming) -> Configuration? {
            if environment.nonEmpty("AWS_EC2_METADATA_DISABLED")?.lowercased() == "true" { return nil }
            var endpoint = environment.nonEmpty("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                ?? (environment.nonEmpty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")?.lowercased() == "ipv6"
                    ? "http://[fd00:ec2::254]/" : "http://169.254.169.254/")
            if !endpoint.hasSuffix("/") { endpoint += "/" }
            let timeout = environment.nonEmpty("AWS_METADATA_SERVICE_TIMEOUT").flatMap(Double.init)
                .map { Duration.milliseconds(Int64($0 * 1000)) } ?? timing.metadataTimeout
            let attempts = environment.nonEmpty("AWS_METADATA_SERVICE_NUM_ATTEMPTS").flatMap(Int.init) ?? timing.metadataAttempts
            return Configuration(endpoint: endpoint, v1Disabled: environment.nonEmpty("AWS_EC2_METADATA_V1_DISABLED")?.lowercased() == "true",
                                 timeout: timeout, attempts: max(1, attempts))
        }
    }

    static let operation = "instance metadata credentials"
    public let configuration: Configuration
    let http: CredentialHTTP
    let now: @Sendable () -> Date

    init(configuration: Configuration, http: CredentialHTTP, now: @escaping @Sendable () -> Date) {
        self.configuration = configuration
        self.http = http
        self.now = now
    }

    /// Static stability (botocore `_evaluate_expiration`): credentials IMDS serves within 10 min + 2–10 min of jitter
    /// of their expiry (or past it) get their expiry extended to that distance from now, so a degraded IMDS does not
    /// stop the controller; a refresh is attempted again before the extended time.
    func extendingExpiryIfNeeded(_ credentials: AWSCredentials) -> AWSCredentials {
        guard let expiration = credentials.expiration else { return credentials }
        let offset = TimeInterval(10 * 60 + Int.random(in: 120...600))
        let current = now()
        guard current >= expiration.addingTimeInterval(-offset) else { return credentials }
        var extended = credentials
        extended.expiration = current.addingTimeInterval(offset)
        http.logger.info("extending the expiry of instance metadata credentials (credential service availability issue)",
                         metadata: ["retryWithinMinutes": "\(Int(offset / 60))"])
        return extended
    }

    public func fetch() async throws -> AWSCredentials {
        let token = try await fetchToken()
        if token == nil && configuration.v1Disabled {
            throw AWSCredentialError.invalidConfiguration(
                provider: "instance metadata", message: "no IMDSv2 token and AWS_EC2_METADATA_V1_DISABLED forbids IMDSv1")
        }
        let headers = token.map { [("X-aws-ec2-metadata-token", $0)] } ?? []
        let base = configuration.endpoint + "latest/meta-data/iam/security-credentials/"
        let roleResponse = try await getWithRetries(operation: "\(Self.operation): role", url: base, headers: headers) { _ in true }
        guard let role = roleResponse.text.split(whereSeparator: \.isNewline).first.map({ $0.trimmingCharacters(in: .whitespaces) }),
              !role.isEmpty else {
            throw AWSCredentialError.malformedResponse(operation: "\(Self.operation): role", message: "no role name")
        }
        let credentialsResponse = try await getWithRetries(
            operation: "\(Self.operation): credentials", url: base + SigV4Signer.uriEncode(role), headers: headers
        ) { body in (try? JSONSerialization.jsonObject(with: Data(body))) is [String: Any] }
        let object = (try? JSONSerialization.jsonObject(with: Data(credentialsResponse.body))) as? [String: Any] ?? [:]
        if let code = object["Code"] as? String, code != "Success" {
            throw AWSCredentialError.serviceError(operation: Self.operation, status: 200, code: code,
                                                  message: object["Message"] as? String ?? "")
        }
        return extendingExpiryIfNeeded(try ContainerCredentialFetcher.parse(credentialsResponse.body))
    }

    /// The IMDSv2 session token, or nil when IMDSv1 should be used.
    func fetchToken() async throws -> String? {
        let operation = "\(Self.operation): token"
        for attempt in 1...configuration.attempts {
            do {
                let response = try await http.send(
                    operation: operation, method: "PUT", url: configuration.endpoint + "latest/api/token",
                    headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")], timeout: configuration.timeout)
                switch response.status {
                case 200 where !response.body.isEmpty: return response.text
                case 403, 404, 405: return nil
                case 400: throw AWSCredentialError.httpStatus(operation: operation, status: 400, message: "bad IMDS token request")
                default: http.logger.debug("IMDS token attempt failed", metadata: ["attempt": "\(attempt)", "status": "\(response.status)"])
                }
            } catch let error as AWSCredentialError {
                guard case .transport = error else { throw error }
                http.logger.debug("IMDS token attempt failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
        }
        return nil
    }

    private func getWithRetries(
        operation: String, url: String, headers: [(String, String)], accept: ([UInt8]) -> Bool
    ) async throws -> CredentialHTTPResponse {
        var lastError: any Error = AWSCredentialError.transport(operation: operation, message: "no attempt made")
        for attempt in 1...configuration.attempts {
            do {
                let response = try await http.send(operation: operation, method: "GET", url: url, headers: headers,
                                                   timeout: configuration.timeout)
                if response.status == 200 && !response.body.isEmpty && accept(response.body) { return response }
                lastError = response.status == 200
                    ? AWSCredentialError.malformedResponse(operation: operation, message: "empty or invalid body")
                    : AWSCredentialError.httpStatus(operation: operation, status: response.status, message: "")
            } catch {
                lastError = error
            }
            http.logger.debug("IMDS attempt failed", metadata: ["operation": "\(operation)", "attempt": "\(attempt)", "error": "\(lastError)"])
        }
        throw lastError
    }
}
