import AWSAuth
import AWSSigV4
import AsyncHTTPClient
import Foundation
import Logging
import MirRegistry

extension ECRRegistry {
    /// Builds the ECR adapter the CLI uses: configuration from flags and the environment (AWS CLI names),
    /// credentials from the default chain, a shared adaptive limiter per (account, region).
    /// Call `shutdown()` when done.
    /// - Throws: `RegistryError` with code `InvalidConfiguration` for a bad region, endpoint or setting.
    public static func make(region: String?, endpointURL: String?, profile: String?, environment: [String: String],
                            logger: Logger) async throws -> ECRRegistry {
        let configuration: ECRConfiguration
        do {
            configuration = try ECRConfiguration.fromEnvironment(environment, region: region, endpointURL: endpointURL, profile: profile)
        } catch {
            throw RegistryError(.invalidConfiguration, operation: "Configure", message: error.message)
        }
        var chainEnvironment = environment
        if let profile = configuration.profile { chainEnvironment["AWS_PROFILE"] = profile }
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: AsyncHTTPClientTransport.defaultConfiguration())
        let provider = DefaultCredentialChain(environment: chainEnvironment, httpClient: httpClient, logger: logger)
        return await make(configuration: configuration, credentialProvider: provider,
                          transport: AsyncHTTPClientTransport(client: httpClient, owned: true), logger: logger)
    }

    /// Builds the adapter from explicit parts (tests, and callers with their own credential provider).
    public static func make(configuration: ECRConfiguration, credentialProvider: any AWSCredentialProvider,
                            transport: any ECRHTTPTransport = AsyncHTTPClientTransport(),
                            limiterPool: RateLimiterPool = .shared, logger: Logger) async -> ECRRegistry {
        var limiter: AdaptiveRateLimiter?
        if configuration.retryMode == .adaptive || configuration.maxRequestsPerSecond != nil {
            let account: String
            if let id = configuration.accountId {
                account = id
            } else if let keyId = try? await credentialProvider.credentials().accessKeyId {
                account = "access-key:\(keyId)"
            } else {
                account = "unknown"
            }
            let key = RateLimiterKey(account: account, region: configuration.region)
            limiter = limiterPool.limiter(for: key) { AdaptiveRateLimiter(maxRequestsPerSecond: configuration.maxRequestsPerSecond) }
        }
        // The endpoint was validated by `fromEnvironment`; a hand-made configuration may still be wrong.
        let endpoint = (try? configuration.endpoint()) ?? URL(string: "https://api.ecr.\(configuration.region).amazonaws.com")!
        let client = ECRClient(endpoint: endpoint,
                               authorizer: SigV4RequestAuthorizer(region: configuration.region, credentials: { try await credentialProvider.credentials() }),
                               transport: transport, retryPolicy: configuration.retryPolicy,
                               requestTimeout: configuration.requestTimeout, rateLimiter: limiter, logger: logger)
        return ECRRegistry(client: client, region: configuration.region, consistencyWindow: configuration.createConsistencyWindow,
                           logger: logger)
    }
}

extension RegistryError.Code {
    /// A flag, environment variable or profile setting is invalid.
    public static let invalidConfiguration = RegistryError.Code("InvalidConfiguration")
}
