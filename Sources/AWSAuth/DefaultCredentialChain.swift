import AWSSigV4
import AsyncHTTPClient
import Foundation
import Logging

/// The credential chain a controller needs, in this order:
/// environment → web identity (IRSA) → shared files (profile) → container (ECS / EKS Pod Identity) → EC2 IMDS.
///
/// The first provider that yields credentials is remembered; expiring credentials are refreshed by a
/// ``RefreshingCredentialProvider`` (advisory window 15 min, mandatory 10 min, one refresh at a time). A configured
/// provider that fails (web identity, container) reports its error instead of falling through; IMDS failures count
/// as "not found", as in botocore.
public final class DefaultCredentialChain: AWSCredentialProvider {
    private let state: ChainState

    /// - Parameters:
    ///   - environment: the process environment (injectable for tests).
    ///   - httpClient: used for STS, container and IMDS calls; owned by the caller.
    ///   - now: the clock the refresh windows are measured with.
    ///   - logger: diagnostics; secrets, tokens and Authorization values are never logged.
    ///   - timing: timeouts/attempts of the HTTP providers (botocore's defaults).
    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, httpClient: HTTPClient,
        now: @escaping @Sendable () -> Date = { Date() }, logger: Logger, timing: CredentialFetchTiming = .standard
    ) {
        state = ChainState(environment: environment, http: CredentialHTTP(client: httpClient, logger: logger), now: now,
                           logger: logger, timing: timing)
    }

    public func credentials() async throws -> AWSCredentials {
        try await state.provider().credentials()
    }

    /// The name of the provider the chain settled on (nil before the first successful resolution).
    public func resolvedProviderName() async -> String? {
        await state.resolvedName
    }
}

private actor ChainState {
    let environment: [String: String]
    let http: CredentialHTTP
    let now: @Sendable () -> Date
    let logger: Logger
    let timing: CredentialFetchTiming
    private var resolved: (any AWSCredentialProvider)?
    private(set) var resolvedName: String?

    init(environment: [String: String], http: CredentialHTTP, now: @escaping @Sendable () -> Date, logger: Logger, timing: CredentialFetchTiming) {
        self.environment = environment
        self.http = http
        self.now = now
        self.logger = logger
        self.timing = timing
    }

    private var resolving: Task<(String, any AWSCredentialProvider), any Error>?

    /// The provider the chain settled on; concurrent first callers share one resolution, and a failed resolution is
    /// retried by the next caller.
    func provider() async throws -> any AWSCredentialProvider {
        if let resolved { return resolved }
        let task = resolving ?? Task { try await self.resolve() }
        resolving = task
        do {
            let (name, provider) = try await task.value
            if resolved == nil {
                resolved = provider
                resolvedName = name
                logger.info("using AWS credentials provider", metadata: ["provider": "\(name)"])
            }
            resolving = nil
            return provider
        } catch {
            resolving = nil
            throw error
        }
    }

    private func refreshing(_ name: String, initial: AWSCredentials?, fetch: @escaping @Sendable () async throws -> AWSCredentials)
        -> RefreshingCredentialProvider
    {
        RefreshingCredentialProvider(name: name, now: now, logger: logger, initial: initial, fetch: fetch)
    }

    private func resolve() async throws -> (String, any AWSCredentialProvider) {
        var tried: [String] = []

        if let credentials = EnvironmentCredentials.load(from: environment) {
            return ("environment", StaticCredentialProvider(credentials))
        }
        tried.append("environment: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY not set")

        let profileName = AWSConfigResolver.profileName(environment: environment)
        // An unreadable or malformed shared file stops the chain: falling through to other providers (instance
        // metadata) would run with credentials the user did not mean.
        let files = try SharedConfigFiles.load(environment: environment)
        let profile = files.settings(profile: profileName)

        if let configuration = WebIdentityCredentialFetcher.Configuration.resolve(environment: environment, profile: profile) {
            let fetcher = WebIdentityCredentialFetcher(configuration: configuration, http: http, now: now)
            logger.debug("web identity configured", metadata: ["roleArn": "\(configuration.roleArn)", "endpoint": "\(configuration.endpoint)"])
            let provider = refreshing("web identity", initial: nil) { try await fetcher.fetch() }
            _ = try await provider.credentials()
            return ("web identity", provider)
        }
        tried.append("web identity: AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN not set")

        if let credentials = files.credentials(profile: profileName) {
            return ("shared files (profile \(profileName))", StaticCredentialProvider(credentials))
        }
        tried.append("shared files: no keys for profile \(profileName)")

        if let configuration = try ContainerCredentialFetcher.Configuration.resolve(environment: environment) {
            let fetcher = ContainerCredentialFetcher(configuration: configuration, http: http, timing: timing)
            let initial = try await fetcher.fetch()
            return ("container", refreshing("container", initial: initial) { try await fetcher.fetch() })
        }
        tried.append("container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI not set")

        if let configuration = InstanceMetadataCredentialFetcher.Configuration.resolve(environment: environment, timing: timing) {
            let fetcher = InstanceMetadataCredentialFetcher(configuration: configuration, http: http, now: now)
            do {
                let initial = try await fetcher.fetch()
                return ("instance metadata", refreshing("instance metadata", initial: initial) { try await fetcher.fetch() })
            } catch {
                logger.debug("no credentials from instance metadata", metadata: ["error": "\(error)"])
                tried.append("instance metadata: \(error)")
            }
        } else {
            tried.append("instance metadata: disabled")
        }
        throw AWSCredentialError.noCredentials(tried: tried)
    }
}
