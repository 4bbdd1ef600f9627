import Foundation

/// How mir reaches ECR. Built from flags and the environment with the AWS CLI's names (`fromEnvironment`).
public struct ECRConfiguration: Sendable, Hashable {
    public var region: String
    /// `--endpoint-url`, `AWS_ENDPOINT_URL_ECR` or `AWS_ENDPOINT_URL`: used as given (no FIPS/dual-stack).
    public var endpointURL: URL?
    /// `AWS_USE_FIPS_ENDPOINT` / profile `use_fips_endpoint`.
    public var useFIPS: Bool
    /// `AWS_USE_DUALSTACK_ENDPOINT` / profile `use_dualstack_endpoint`.
    public var useDualStack: Bool
    /// `AWS_RETRY_MODE` / profile `retry_mode`: legacy | standard | adaptive (mir's default: adaptive).
    public var retryMode: RetryMode
    /// Total attempts per call, first included (`AWS_MAX_ATTEMPTS` / profile `max_attempts`).
    public var maxAttempts: Int
    /// Ceiling of the adaptive limiter in requests per second (`MIR_ECR_MAX_REQUESTS_PER_SECOND`); nil: none.
    public var maxRequestsPerSecond: Double?
    /// `--profile`, `AWS_PROFILE` or `AWS_DEFAULT_PROFILE`.
    public var profile: String?
    /// The account that owns the registry, when known (`AWS_ACCOUNT_ID`); keys the shared rate limiter.
    public var accountId: String?
    /// Per-attempt timeout in seconds (connect + answer).
    public var requestTimeout: Double
    /// How long a repository this client just created may still be reported missing (ECR is eventually
    /// consistent right after CreateRepository) before RepositoryNotFoundException is believed.
    public var createConsistencyWindow: Double

    public init(region: String, endpointURL: URL? = nil, useFIPS: Bool = false, useDualStack: Bool = false,
                retryMode: RetryMode = .adaptive, maxAttempts: Int? = nil, maxRequestsPerSecond: Double? = nil,
                profile: String? = nil, accountId: String? = nil, requestTimeout: Double = 30,
                createConsistencyWindow: Double = 10) {
        self.region = region
        self.endpointURL = endpointURL
        self.useFIPS = useFIPS
        self.useDualStack = useDualStack
        self.retryMode = retryMode
        self.maxAttempts = max(1, maxAttempts ?? retryMode.defaultMaxAttempts)
        self.maxRequestsPerSecond = maxRequestsPerSecond
        self.profile = profile
        self.accountId = accountId
        self.requestTimeout = requestTimeout
        self.createConsistencyWindow = createConsistencyWindow
    }

    /// The endpoint calls go to.
    public func endpoint() throws(ECREndpointError) -> URL {
        try ECREndpointResolver.resolve(region: region, useFIPS: useFIPS, useDualStack: useDualStack, endpointOverride: endpointURL)
    }

    public var retryPolicy: RetryPolicy { RetryPolicy(mode: retryMode, maxAttempts: maxAttempts) }

    /// Builds a configuration as the AWS CLI would: explicit arguments (flags) first, then environment variables,
    /// then the selected profile in the shared config file (`AWS_CONFIG_FILE`, default `~/.aws/config`).
    /// - Parameters:
    ///   - environment: the process environment.
    ///   - region: `--region`; else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`.
    ///   - endpointURL: `--endpoint-url`; else `AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`
    ///     (all ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, except the flag).
    ///   - profile: `--profile`; else `AWS_PROFILE`, `AWS_DEFAULT_PROFILE`, `default`.
    public static func fromEnvironment(_ environment: [String: String], region: String? = nil, endpointURL: String? = nil,
                                       profile: String? = nil) throws(ECRConfigurationError) -> ECRConfiguration {
        func env(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        let selectedProfile = nonEmpty(profile) ?? env("AWS_PROFILE") ?? env("AWS_DEFAULT_PROFILE")
        let profileSettings = SharedConfigFile.profile(named: selectedProfile ?? "default", environment: environment)
        func setting(_ envName: String, _ key: String) -> String? { env(envName) ?? profileSettings[key] }

        guard let resolvedRegion = nonEmpty(region) ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? profileSettings["region"] else {
            throw ECRConfigurationError(message: "no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)")
        }
        let ignoreConfigured = parseBool(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) ?? false
        var endpoint: URL?
        let endpointText = nonEmpty(endpointURL)
            ?? (ignoreConfigured ? nil : env("AWS_ENDPOINT_URL_ECR") ?? env("AWS_ENDPOINT_URL") ?? profileSettings["endpoint_url"])
        if let endpointText {
            guard let url = URL(string: endpointText), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  url.host != nil else {
                throw ECRConfigurationError(message: "invalid endpoint URL '\(endpointText)': expected http(s)://host[:port]")
            }
            endpoint = url
        }
        var retryMode = RetryMode.adaptive
        if let text = setting("AWS_RETRY_MODE", "retry_mode") {
            guard let mode = RetryMode(rawValue: text.lowercased()) else {
                throw ECRConfigurationError(message: "invalid retry mode '\(text)': expected legacy, standard or adaptive")
            }
            retryMode = mode
        }
        var maxAttempts: Int?
        if let text = setting("AWS_MAX_ATTEMPTS", "max_attempts") {
            guard let value = Int(text), value >= 1 else {
                throw ECRConfigurationError(message: "invalid max attempts '\(text)': expected an integer ≥ 1")
            }
            maxAttempts = value
        }
        var ceiling: Double?
        if let text = env("MIR_ECR_MAX_REQUESTS_PER_SECOND") {
            guard let value = Double(text), value > 0 else {
                throw ECRConfigurationError(message: "invalid MIR_ECR_MAX_REQUESTS_PER_SECOND '\(text)': expected a number > 0")
            }
            ceiling = value
        }
        let configuration = ECRConfiguration(
            region: resolvedRegion, endpointURL: endpoint,
            useFIPS: parseBool(setting("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint")) ?? false,
            useDualStack: parseBool(setting("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint")) ?? false,
            retryMode: retryMode, maxAttempts: maxAttempts, maxRequestsPerSecond: ceiling,
            profile: selectedProfile, accountId: env("AWS_ACCOUNT_ID"))
        do {
            _ = try configuration.endpoint()
        } catch {
            throw ECRConfigurationError(message: error.message)
        }
        return configuration
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    private static func parseBool(_ value: String?) -> Bool? {
        guard let value else { return nil }
        switch value.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: return nil
        }
    }
}

/// A configuration problem the user must fix (bad flag or environment variable).
public struct ECRConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Reads one profile's settings from the shared AWS config file (only the keys mir uses; no credentials).
enum SharedConfigFile {
    static func profile(named name: String, environment: [String: String]) -> [String: String] {
        let path: String
        if let configured = environment["AWS_CONFIG_FILE"], !configured.isEmpty {
            path = (configured as NSString).expandingTildeInPath
        } else if let home = environment["HOME"], !home.isEmpty {
            path = home + "/.aws/config"
        } else {
            return [:]
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        return parse(text)[name] ?? [:]
    }

    /// Parses `[default]` and `[profile NAME]` sections into name → key → value.
    static func parse(_ text: String) -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let header = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if header == "default" {
                    current = "default"
                } else if header.hasPrefix("profile ") {
                    current = header.dropFirst("profile ".count).trimmingCharacters(in: .whitespaces)
                } else {
                    current = nil
                }
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            result[section, default: [:]][key] = value
        }
        return result
    }
}
