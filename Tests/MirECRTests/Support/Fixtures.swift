import AsyncHTTPClient
import Foundation
import Logging
import AWSSigV4
@testable import MirECR

enum Fixtures {
    /// How tests authenticate to moto without IAM enforcement.
    /// Real SigV4 with moto's conventional test keys (moto routes unsigned requests to S3, so always sign).
    static var motoAuthorizer: any ECRRequestAuthorizer {
        SigV4RequestAuthorizer(region: "us-east-1", credentials: AWSCredentials(accessKeyId: "testing", secretAccessKey: "testing",
                                                                                sessionToken: nil, expiration: nil))
    }

    /// A registry over `endpoint` (on the shared HTTP client, so nothing needs shutting down) with fast backoff (so retry tests run quickly) and the given authorizer.
    static func registry(endpoint: URL, authorizer: any ECRRequestAuthorizer = PlaceholderAuthorizer(),
                         maxAttempts: Int = 3, requestTimeout: Double = 30, limiter: AdaptiveRateLimiter? = nil,
                         logger: Logger = Logger(label: "test")) -> ECRRegistry {
        let client = ECRClient(endpoint: endpoint, authorizer: authorizer, transport: AsyncHTTPClientTransport(client: .shared),
                               retryPolicy: RetryPolicy(mode: .standard, maxAttempts: maxAttempts,
                                                        backoff: ExponentialBackoff(base: 0.02, cap: 0.2)),
                               requestTimeout: requestTimeout, rateLimiter: limiter, logger: logger)
        return ECRRegistry(client: client, region: "us-east-1", consistencyWindow: 10, logger: logger)
    }

    /// A Docker v2 manifest moto accepts; distinct `seed`s give distinct digests (moto hashes the layer digests).
    static func manifest(seed: Int) -> String {
        let layer = String(repeating: String(format: "%02x", seed % 256), count: 32)
        return """
        {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",\
        "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1234,"digest":"sha256:\(String(repeating: "c", count: 64))"},\
        "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":100,"digest":"sha256:\(layer)"}]}
        """
    }

    /// A lifecycle policy valid for ECR and moto (≥ 100 characters).
    static let lifecyclePolicy = #"{"rules":[{"rulePriority":1,"description":"keep the newest 10 tagged images","selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}"#
}
