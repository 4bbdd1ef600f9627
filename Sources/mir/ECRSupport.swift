import Foundation
import Logging
import MirBuildEngine
import MirECR
import MirRegistry

extension CommonOptions {
    /// `--registry ecr`: AWS ECR with the AWS CLI's settings (flags first, then AWS_REGION / AWS_DEFAULT_REGION,
    /// AWS_PROFILE, AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL, the shared config files) and the default credential chain.
    func openECR() async throws -> OpenedRegistry {
        var logger = Logger(label: "mir.ecr")
        logger.logLevel = ProcessInfo.processInfo.environment["MIR_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let ecr = try await ECRRegistry.make(region: region, endpointURL: endpointURL, profile: profile,
                                             environment: ProcessInfo.processInfo.environment, logger: logger)
        // Build engines push to ECR with GetAuthorizationToken's credentials (user AWS), through a 0600 auth file.
        let credentials = TokenCredentialSource(accepting: TokenCredentialSource.isECRHost) {
            let token = try await ecr.getAuthorizationToken()
            return (RegistryCredentials(username: token.username, password: token.password), token.expiresAt)
        }
        return OpenedRegistry(registry: CountingRegistry(ecr), close: { try? await ecr.shutdown() }, credentials: credentials)
    }
}
