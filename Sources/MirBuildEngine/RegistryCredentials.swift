import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A user name and password for one registry host (for ECR: user `AWS` and the GetAuthorizationToken password).
public struct RegistryCredentials: Sendable, Hashable, CustomStringConvertible {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
    /// Never shows the password.
    public var description: String { "RegistryCredentials(username: \(username), password: <redacted>)" }
}

/// Port: the credentials a build engine needs for a registry host, nil when it needs none.
public protocol RegistryCredentialSource: Sendable {
    func credentials(forHost host: String) async throws -> RegistryCredentials?
}

/// Credentials for the registry hosts a predicate accepts, from a token service (ECR's GetAuthorizationToken),
/// fetched when first needed and again once they are within 5 minutes of expiring.
public actor TokenCredentialSource: RegistryCredentialSource {
    public typealias Token = (credentials: RegistryCredentials, expiresAt: Date?)
    private let accepts: @Sendable (String) -> Bool
    private let fetch: @Sendable () async throws -> Token
    private var cached: Token?
    /// Times the token service was asked (for tests).
    public private(set) var fetches = 0

    public init(hosts: Set<String>, fetch: @escaping @Sendable () async throws -> Token) {
        self.init(accepting: { hosts.contains($0) }, fetch: fetch)
    }

    public init(accepting: @escaping @Sendable (String) -> Bool, fetch: @escaping @Sendable () async throws -> Token) {
        self.accepts = accepting
        self.fetch = fetch
    }

    /// ECR registry hosts: `<account>.dkr.ecr.<region>.amazonaws.com` (and `.amazonaws.com.cn`).
    public static func isECRHost(_ host: String) -> Bool {
        let name = host.split(separator: ":").first.map(String.init) ?? host
        return name.contains(".dkr.ecr.") && (name.hasSuffix(".amazonaws.com") || name.hasSuffix(".amazonaws.com.cn"))
    }

    public func credentials(forHost host: String) async throws -> RegistryCredentials? {
        guard accepts(host) else { return nil }
        if let cached, (cached.expiresAt ?? .distantFuture).timeIntervalSinceNow > 300 { return cached.credentials }
        fetches += 1
        let token = try await fetch()
        cached = token
        return token.credentials
    }
}

/// No credentials for any host.
public struct NoCredentials: RegistryCredentialSource {
    public init() {}
    public func credentials(forHost host: String) async throws -> RegistryCredentials? { nil }
}

/// A private folder for one build: created 0700 under the system's temporary folder, removed with everything in
/// it by `remove()`. Registry credentials are written here, in a docker-style `config.json` created 0600 (the
/// engines read it through `--authfile`, docker through `DOCKER_CONFIG`), never passed on a command line.
public final class PrivateBuildFolder: Sendable {
    public let path: String

    public init() throws {
        var template = Array((NSTemporaryDirectory() + "/mir-engine-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> UnsafeMutablePointer<CChar>? in
            mkdtemp(buffer.baseAddress!)
        }
        guard made != nil else {
            throw CommandError(command: "mkdtemp", message: "cannot create a private build folder: \(String(cString: strerror(errno)))")
        }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        chmod(path, 0o700)
    }

    /// Writes `config.json` with `{"auths":{HOST:{"auth":base64(user:password)}}}`, created with mode 0600 (never
    /// readable by anyone else, not even for an instant), and returns its path.
    public func writeAuthFile(_ entries: [String: RegistryCredentials]) throws -> String {
        var auths: [String: [String: String]] = [:]
        for (host, credentials) in entries {
            auths[host] = ["auth": Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(["auths": auths])
        let file = path + "/config.json"
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CommandError(command: "auth file", message: "cannot create \(file): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw CommandError(command: "auth file", message: "cannot write \(file)") }
        return file
    }

    /// Removes the folder and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
