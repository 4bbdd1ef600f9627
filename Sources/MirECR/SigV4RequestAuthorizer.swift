import AWSSigV4
import Foundation

/// Signs every attempt with SigV4 for service `ecr` (the signing name, whatever the endpoint host), with
/// credentials fetched for each attempt, so a refreshing source is always current.
public struct SigV4RequestAuthorizer: ECRRequestAuthorizer {
    /// Where credentials come from; called once per attempt (the source caches and refreshes).
    public typealias CredentialSource = @Sendable () async throws -> AWSCredentials

    public static let signingName = "ecr"
    public let region: String
    private let credentials: CredentialSource

    public init(region: String, credentials: @escaping CredentialSource) {
        self.region = region
        self.credentials = credentials
    }

    /// Fixed credentials.
    public init(region: String, credentials fixed: AWSCredentials) {
        self.init(region: region, credentials: { fixed })
    }

    public func authorize(method: String, url: URL, headers: [(name: String, value: String)], body: [UInt8],
                          date: Date) async throws -> [(name: String, value: String)] {
        SigV4Signer(credentials: try await credentials(), region: region, service: Self.signingName)
            .sign(method: method, url: url, headers: headers, body: body, date: date)
    }
}
