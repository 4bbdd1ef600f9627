import Foundation
import Synchronization

/// How a failed attempt is treated.
public enum RetryClass: String, Sendable, Hashable {
    /// Throttled by the service: retried, and the adaptive limiter slows down.
    case throttling
    /// A transient fault (5xx, connection reset/refused): retried.
    case transient
    /// The request timed out: retried, at a higher retry-quota cost.
    case timeout
    /// Retrying cannot help (client errors, quotas, auth, NotFound/AlreadyExists).
    case nonRetryable
}

/// A transport-level failure (no HTTP answer).
public enum TransportFailure: Sendable, Hashable {
    /// Connect or read timeout, or the request deadline passed.
    case timeout(String)
    /// The server refused the connection (nothing listens: ECONNREFUSED).
    case refused(String)
    /// The connection was reset (ECONNRESET, EPIPE) or closed by the server before a complete answer.
    case reset(String)
    /// Any other failure to connect or to get a complete answer.
    case connection(String)
}

/// ECR-correct retry classification. Standard mode's rules, except that `LimitExceededException` (a hard
/// quota in ECR, e.g. repositories per registry) is not treated as throttling, and a bare HTTP 429 is.
public enum ECRRetryClassifier {
    public static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "RequestThrottled", "SlowDown", "EC2ThrottledException", "ThrottleException",
    ]
    public static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "ServiceUnavailable",
        "ServiceUnavailableException", "InternalFailure", "InternalServerError", "ServerException",
    ]
    public static let transientStatuses: Set<Int> = [500, 502, 503, 504]

    /// Codes that are never retried, whatever the HTTP status says.
    public static let neverRetriedCodes: Set<String> = ECRAuthErrorCodes.accessDenied
        .union(ECRAuthErrorCodes.signature).union(ECRAuthErrorCodes.credentials)
        .union(["LimitExceededException", "InvalidParameterException", "ValidationException", "InvalidTagParameterException",
                "TooManyTagsException", "RepositoryNotFoundException", "RepositoryAlreadyExistsException",
                "RepositoryNotEmptyException", "ImageNotFoundException", "ImageAlreadyExistsException",
                "ImageTagAlreadyExistsException", "LifecyclePolicyNotFoundException", "LayersNotFoundException",
                "RepositoryPolicyNotFoundException", "KmsException", "SerializationException"])

    public static func classify(_ error: ECRServiceError) -> RetryClass {
        if neverRetriedCodes.contains(error.code) { return .nonRetryable }
        if throttlingCodes.contains(error.code) || error.httpStatus == 429 { return .throttling }
        if transientCodes.contains(error.code) || transientStatuses.contains(error.httpStatus) { return .transient }
        return .nonRetryable
    }

    public static func classify(_ failure: TransportFailure) -> RetryClass {
        switch failure {
        case .timeout: return .timeout
        case .connection, .refused, .reset: return .transient
        }
    }
}

/// The retry mode, named as the AWS CLI names it (`AWS_RETRY_MODE`).
public enum RetryMode: String, Sendable, Hashable, CaseIterable {
    /// Like `standard` with 5 attempts by default (botocore's legacy count); mir keeps the 20 s cap.
    case legacy
    /// Exponential backoff with full jitter, capped at 20 s, and a retry quota.
    case standard
    /// `standard` plus the client-side adaptive token bucket.
    case adaptive

    public var defaultMaxAttempts: Int { self == .legacy ? 5 : 3 }
}

/// Exponential backoff with full jitter: `random[0,1) × min(base × 2^(attempt−1), cap)` seconds.
public struct ExponentialBackoff: Sendable, Hashable {
    public var base: Double
    public var cap: Double

    public init(base: Double = 1, cap: Double = 20) {
        self.base = base
        self.cap = cap
    }

    /// The delay before retrying after failed attempt number `attempt` (1-based), given `random` in [0, 1).
    public func delay(afterAttempt attempt: Int, random: Double) -> Double {
        let exponent = Double(max(0, attempt - 1))
        let ceiling = min(base * pow(2, exponent), cap)
        return max(0, min(random, 1)) * ceiling
    }
}

/// Standard mode's retry quota: a bucket of 500 shared by one client. A retry costs 5 (10 after a timeout); a
/// success without retries refunds 1; a success after retries refunds what those retries took. When the bucket
/// cannot pay, retries stop, so a broken service is not hammered.
public final class RetryQuota: Sendable {
    public static let defaultCapacity = 500
    public static let retryCost = 5
    public static let timeoutRetryCost = 10
    public static let noRetryIncrement = 1

    public let capacity: Int
    private let available: Mutex<Int>

    public init(capacity: Int = RetryQuota.defaultCapacity) {
        self.capacity = capacity
        self.available = Mutex(capacity)
    }

    public var availableCapacity: Int { available.withLock { $0 } }

    /// Takes the cost of one retry; nil when the quota cannot pay it.
    public func acquire(for retryClass: RetryClass) -> Int? {
        let cost = retryClass == .timeout ? Self.timeoutRetryCost : Self.retryCost
        return available.withLock { value in
            guard value >= cost else { return nil }
            value -= cost
            return cost
        }
    }

    /// Called after a success; `acquired` is what this request's retries took (0 when it had none).
    public func release(acquired: Int) {
        let refund = acquired > 0 ? acquired : Self.noRetryIncrement
        available.withLock { $0 = min(capacity, $0 + refund) }
    }
}

/// The retry settings of one client.
public struct RetryPolicy: Sendable, Hashable {
    public var mode: RetryMode
    /// Total attempts, first included (`AWS_MAX_ATTEMPTS`).
    public var maxAttempts: Int
    public var backoff: ExponentialBackoff

    public init(mode: RetryMode = .adaptive, maxAttempts: Int? = nil, backoff: ExponentialBackoff = ExponentialBackoff()) {
        self.mode = mode
        self.maxAttempts = max(1, maxAttempts ?? mode.defaultMaxAttempts)
        self.backoff = backoff
    }
}
