import AWSSigV4
import Foundation
import Logging

/// Web identity federation (IRSA on EKS): `AssumeRoleWithWebIdentity` on STS with the token read from a file.
///
/// The call is unsigned, over the query protocol, to the regional endpoint `https://sts.<region>.amazonaws.com/`
/// (global `https://sts.amazonaws.com/` without a region; an `AWS_ENDPOINT_URL_STS`/`AWS_ENDPOINT_URL` override wins).
/// The token file is re-read on every fetch because the kubelet rotates it.
public struct WebIdentityCredentialFetcher: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var roleArn: String
        public var tokenFile: String
        public var roleSessionName: String?
        public var endpoint: String
        public var durationSeconds: Int?

        public init(roleArn: String, tokenFile: String, roleSessionName: String? = nil, endpoint: String, durationSeconds: Int? = nil) {
            self.roleArn = roleArn
            self.tokenFile = tokenFile
            self.roleSessionName = roleSessionName
            self.endpoint = endpoint
            self.durationSeconds = durationSeconds
        }

        /// From `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` [+ `AWS_ROLE_SESSION_NAME`], else from the profile's
        /// `web_identity_token_file` + `role_arn` [+ `role_session_name`]; nil when neither is configured.
        public static func resolve(environment: [String: String], profile: [String: String] = [:]) -> Configuration? {
            let region = AWSConfigResolver.region(environment: environment, files: SharedConfigFiles(configProfiles: [
                AWSConfigResolver.profileName(environment: environment): profile,
            ]))
            let endpoint = AWSConfigResolver.endpointOverride(service: "sts", environment: environment)
                ?? stsEndpoint(region: region, environment: environment)
            if let tokenFile = environment.nonEmpty("AWS_WEB_IDENTITY_TOKEN_FILE"), let roleArn = environment.nonEmpty("AWS_ROLE_ARN") {
                return Configuration(roleArn: roleArn, tokenFile: tokenFile, roleSessionName: environment.nonEmpty("AWS_ROLE_SESSION_NAME"),
                                     endpoint: endpoint)
            }
            if let tokenFile = profile.nonEmpty("web_identity_token_file"), let roleArn = profile.nonEmpty("role_arn") {
                return Configuration(roleArn: roleArn, tokenFile: AWSConfigResolver.expandHome(tokenFile, environment: environment),
                                     roleSessionName: profile.nonEmpty("role_session_name"), endpoint: endpoint)
            }
            return nil
        }

        /// The STS endpoint for `region`: regional (`.amazonaws.com.cn` in China) unless
        /// `AWS_STS_REGIONAL_ENDPOINTS=legacy` asks for the global endpoint; global without a region.
        public static func stsEndpoint(region: String?, environment: [String: String]) -> String {
            guard let region, !region.isEmpty, region != "aws-global" else { return "https://sts.amazonaws.com/" }
            if environment.nonEmpty("AWS_STS_REGIONAL_ENDPOINTS")?.lowercased() == "legacy" && !region.hasPrefix("cn-") {
                return "https://sts.amazonaws.com/"
            }
            return "https://sts.\(region).amazonaws.com\(region.hasPrefix("cn-") ? ".cn" : "")/"
        }
    }

    static let operation = "sts:AssumeRoleWithWebIdentity"
    public let configuration: Configuration
    let http: CredentialHTTP
    let now: @Sendable () -> Date

    init(configuration: Configuration, http: CredentialHTTP, now: @escaping @Sendable () -> Date) {
        self.configuration = configuration
        self.http = http
        self.now = now
    }

    /// Reads the token file and exchanges the token for role credentials.
    public func fetch() async throws -> AWSCredentials {
        let token: String
        do {
            token = try String(contentsOfFile: configuration.tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw AWSCredentialError.fileUnreadable(operation: Self.operation, path: configuration.tokenFile, message: "\(error)")
        }
        guard !token.isEmpty else {
            throw AWSCredentialError.invalidConfiguration(provider: "web identity", message: "the token file \(configuration.tokenFile) is empty")
        }
        let sessionName = configuration.roleSessionName ?? "mir-session-\(Int(now().timeIntervalSince1970))"
        var form = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", configuration.roleArn),
            ("RoleSessionName", sessionName), ("WebIdentityToken", token),
        ]
        if let duration = configuration.durationSeconds { form.append(("DurationSeconds", String(duration))) }
        let body = form.map { "\(SigV4Signer.uriEncode($0.0))=\(SigV4Signer.uriEncode($0.1))" }.joined(separator: "&")
        http.logger.debug("assuming role with web identity", metadata: [
            "roleArn": "\(configuration.roleArn)", "roleSessionName": "\(sessionName)", "endpoint": "\(configuration.endpoint)",
        ])
        let response = try await http.send(
            operation: Self.operation, method: "POST", url: configuration.endpoint,
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Accept", "text/xml")],
            body: Array(body.utf8), timeout: .seconds(10))
        let text = response.text
        guard response.status == 200 else {
            let code = MiniXML.text(of: "Code", in: text) ?? "HTTP\(response.status)"
            let message = MiniXML.text(of: "Message", in: text) ?? ""
            throw AWSCredentialError.serviceError(operation: Self.operation, status: response.status, code: code, message: message)
        }
        guard let accessKeyId = MiniXML.text(of: "AccessKeyId", in: text, inside: "Credentials"),
              let secret = MiniXML.text(of: "SecretAccessKey", in: text, inside: "Credentials"),
              let sessionToken = MiniXML.text(of: "SessionToken", in: text, inside: "Credentials"),
              let expirationText = MiniXML.text(of: "Expiration", in: text, inside: "Credentials") else {
            throw AWSCredentialError.malformedResponse(operation: Self.operation, message: "missing Credentials fields")
        }
        guard let expiration = ISO8601.parse(expirationText) else {
            throw AWSCredentialError.malformedResponse(operation: Self.operation, message: "unparseable Expiration \(expirationText)")
        }
        return AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secret, sessionToken: sessionToken, expiration: expiration)
    }
}
