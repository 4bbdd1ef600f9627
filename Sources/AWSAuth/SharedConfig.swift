import AWSSigV4
import Foundation

/// The AWS shared files (`~/.aws/credentials` and `~/.aws/config`) parsed into profiles.
public struct SharedConfigFiles: Sendable, Equatable {
    /// Profile name → settings from the credentials file (`[name]`).
    public var credentialsProfiles: [String: [String: String]]
    /// Profile name → settings from the config file (`[default]` and `[profile name]`).
    public var configProfiles: [String: [String: String]]

    public init(credentialsProfiles: [String: [String: String]] = [:], configProfiles: [String: [String: String]] = [:]) {
        self.credentialsProfiles = credentialsProfiles
        self.configProfiles = configProfiles
    }

    /// Loads both files from the paths `environment` selects. Missing files are empty; unreadable or malformed ones
    /// throw (`fileUnreadable`, `malformedFile` naming the file and line).
    public static func load(environment: [String: String]) throws -> SharedConfigFiles {
        let credentialsPath = AWSConfigResolver.credentialsFilePath(environment: environment)
        let configPath = AWSConfigResolver.configFilePath(environment: environment)
        let credentialsText = try readIfPresent(credentialsPath)
        let configText = try readIfPresent(configPath)
        return SharedConfigFiles(
            credentialsProfiles: try credentialsText.map { try parseINI($0, configStyle: false, path: credentialsPath) } ?? [:],
            configProfiles: try configText.map { try parseINI($0, configStyle: true, path: configPath) } ?? [:])
    }

    /// The settings of `profile`: config-file values overlaid with credentials-file values (the credentials file wins).
    public func settings(profile: String) -> [String: String] {
        (configProfiles[profile] ?? [:]).merging(credentialsProfiles[profile] ?? [:]) { _, fromCredentials in fromCredentials }
    }

    /// Static credentials of `profile`: `aws_access_key_id`, `aws_secret_access_key`, optional `aws_session_token`
    /// (credentials file first, then the config file).
    public func credentials(profile: String) -> AWSCredentials? {
        for source in [credentialsProfiles[profile], configProfiles[profile]] {
            guard let values = source, let id = values["aws_access_key_id"], !id.isEmpty,
                  let secret = values["aws_secret_access_key"], !secret.isEmpty else { continue }
            let token = values["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
            return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token)
        }
        return nil
    }

    /// Parses an AWS-style INI file. Comments start with `#` or `;`; indented lines continue a nested setting and are
    /// skipped. In config style, `[profile name]` names profile `name` and `[default]` names `default`; other sections
    /// (e.g. `[sso-session x]`, `[services x]`) are ignored. As the AWS CLI's parser, it refuses a section header
    /// without `]`, a setting before any section, and a line that is neither a section, a setting (`key = value`),
    /// a comment nor a continuation: `malformedFile` naming `path` and the 1-based line.
    public static func parseINI(_ text: String, configStyle: Bool, path: String = "<text>") throws(AWSCredentialError) -> [String: [String: String]] {
        var profiles: [String: [String: String]] = [:]
        var section: String?
        var inAnySection = false
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            func malformed(_ why: String) -> AWSCredentialError { .malformedFile(path: path, line: index + 1, message: why) }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else { throw malformed("a section header must be [name]") }
                inAnySection = true
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if configStyle {
                    if name == "default" {
                        section = "default"
                    } else if name.hasPrefix("profile ") || name.hasPrefix("profile\t") {
                        section = name.dropFirst(8).trimmingCharacters(in: .whitespaces)
                    } else {
                        section = nil
                    }
                } else {
                    section = name
                }
                if let section, profiles[section] == nil { profiles[section] = [:] }
                continue
            }
            if let first = rawLine.first, first == " " || first == "\t" {
                guard inAnySection else { throw malformed("a setting before any [section]") }
                continue  // a continuation of a nested setting
            }
            guard inAnySection else { throw malformed("a setting before any [section]") }
            guard let equals = line.firstIndex(of: "=") else { throw malformed("expected key = value") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            guard !key.isEmpty else { throw malformed("a setting without a name") }
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let section { profiles[section, default: [:]][key] = value }
        }
        return profiles
    }

    private static func readIfPresent(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw AWSCredentialError.fileUnreadable(operation: "shared config", path: path, message: "\(error)")
        }
    }
}

/// Region, profile and file locations, resolved like the AWS CLI and SDKs.
public enum AWSConfigResolver {
    /// `AWS_PROFILE`, then `AWS_DEFAULT_PROFILE`, then `default`.
    public static func profileName(environment: [String: String]) -> String {
        environment.nonEmpty("AWS_PROFILE") ?? environment.nonEmpty("AWS_DEFAULT_PROFILE") ?? "default"
    }

    /// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    public static func credentialsFilePath(environment: [String: String]) -> String {
        expandHome(environment.nonEmpty("AWS_SHARED_CREDENTIALS_FILE") ?? "~/.aws/credentials", environment: environment)
    }

    /// `AWS_CONFIG_FILE`, else `~/.aws/config`.
    public static func configFilePath(environment: [String: String]) -> String {
        expandHome(environment.nonEmpty("AWS_CONFIG_FILE") ?? "~/.aws/config", environment: environment)
    }

    /// The region: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the selected profile's `region` in the config file.
    public static func region(environment: [String: String], files: SharedConfigFiles? = nil) -> String? {
        if let region = environment.nonEmpty("AWS_REGION") ?? environment.nonEmpty("AWS_DEFAULT_REGION") { return region }
        let files = files ?? (try? SharedConfigFiles.load(environment: environment))
        let region = files?.configProfiles[profileName(environment: environment)]?["region"]
        return region?.isEmpty == false ? region : nil
    }

    /// The endpoint override for `service` (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`), unless
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
    public static func endpointOverride(service: String, environment: [String: String]) -> String? {
        if environment.nonEmpty("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?.lowercased() == "true" { return nil }
        let key = "AWS_ENDPOINT_URL_" + service.uppercased().replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")
        return environment.nonEmpty(key) ?? environment.nonEmpty("AWS_ENDPOINT_URL")
    }

    static func expandHome(_ path: String, environment: [String: String]) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        let home = environment.nonEmpty("HOME") ?? NSHomeDirectory()
        return home + path.dropFirst()
    }
}
