import Foundation

/// The credentials one request carries: a bearer token and/or a TLS client identity (PEM).
public struct Credentials: Sendable, Hashable {
    public var bearerToken: String?
    public var clientCertificatePEM: Data?
    public var clientKeyPEM: Data?

    public init(bearerToken: String? = nil, clientCertificatePEM: Data? = nil, clientKeyPEM: Data? = nil) {
        self.bearerToken = bearerToken
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
    }
}

/// Runs an exec credential plugin and returns its stdout. A seam so tests can count or fake runs.
public protocol ExecPluginRunner: Sendable {
    func run(_ exec: ExecConfig, execInfo: String) async throws -> Data
}

/// Runs the plugin as a child process with `KUBERNETES_EXEC_INFO` set and stdin closed, waited for on a thread of
/// its own (never Swift's cooperative pool or GCD's bounded pool). A plugin file that is busy being written
/// (ETXTBSY, e.g. while it is being replaced) is retried a few times before the start counts as failed.
public struct ProcessExecPluginRunner: ExecPluginRunner {
    public init() {}

    public func run(_ exec: ExecConfig, execInfo: String) async throws -> Data {
        let op = "run exec credential plugin \(exec.command)"
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                let process = Process()
                if exec.command.contains("/") {
                    process.executableURL = URL(fileURLWithPath: exec.command)
                    process.arguments = exec.args ?? []
                } else {
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                    process.arguments = [exec.command] + (exec.args ?? [])
                }
                var env = ProcessInfo.processInfo.environment
                for variable in exec.env ?? [] { env[variable.name] = variable.value }
                env["KUBERNETES_EXEC_INFO"] = execInfo
                process.environment = env
                let stdout = Pipe()
                let stderr = Pipe()
                process.standardOutput = stdout
                process.standardError = stderr
                process.standardInput = FileHandle.nullDevice
                var attempt = 0
                while true {
                    attempt += 1
                    do {
                        try process.run()
                        break
                    } catch where Self.isTextFileBusy(error) && attempt < 5 {
                        Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
                    } catch {
                        continuation.resume(throwing: KubeClientError(operation: op, message: "cannot start: \(error)"))
                        return
                    }
                }
                let out = stdout.fileHandleForReading.readDataToEndOfFile()
                let err = stderr.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                if process.terminationStatus != 0 {
                    let text = String(decoding: err.prefix(512), as: UTF8.self)
                    continuation.resume(throwing: KubeClientError(operation: op,
                        message: "exited with status \(process.terminationStatus): \(text)"))
                } else {
                    continuation.resume(returning: out)
                }
            }.start()
        }
    }

    /// ETXTBSY: the executable is open for writing somewhere (Foundation wraps it in NSCocoaErrorDomain 256).
    static func isTextFileBusy(_ error: any Error) -> Bool {
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { return nsError.code == Int(ETXTBSY) }
        return (nsError.userInfo[NSUnderlyingErrorKey] as? NSError).map { $0.domain == NSPOSIXErrorDomain && $0.code == Int(ETXTBSY) } ?? false
    }
}

/// Supplies credentials for requests: a static token, a token file re-read periodically (service-account
/// rotation), client certificates, or an exec plugin whose result is cached until it expires. `invalidate()`
/// (called on a 401) forces a fresh read or plugin run for the next request.
public actor Authenticator {
    private let config: KubeConfig
    private let runner: any ExecPluginRunner
    private let tokenRefreshInterval: Duration
    private let now: @Sendable () -> Date

    private var fileToken: (value: String, readAt: ContinuousClock.Instant)?
    private var execCache: (credentials: Credentials, expiresAt: Date?)?
    /// How many times the exec plugin has run (for diagnostics and tests).
    public private(set) var execRuns = 0

    public init(config: KubeConfig, runner: any ExecPluginRunner = ProcessExecPluginRunner(),
                tokenRefreshInterval: Duration = .seconds(60), now: @escaping @Sendable () -> Date = { Date() }) {
        self.config = config
        self.runner = runner
        self.tokenRefreshInterval = tokenRefreshInterval
        self.now = now
    }

    /// True when a 401 may be cured by fetching credentials again.
    public nonisolated var canRefresh: Bool { config.exec != nil || config.tokenFile != nil }

    /// The credentials to use now.
    public func credentials() async throws -> Credentials {
        var result = Credentials(clientCertificatePEM: config.clientCertificatePEM, clientKeyPEM: config.clientKeyPEM)
        if let exec = config.exec {
            let fromPlugin = try await execCredentials(exec)
            if fromPlugin.bearerToken != nil { result.bearerToken = fromPlugin.bearerToken }
            if fromPlugin.clientCertificatePEM != nil {
                result.clientCertificatePEM = fromPlugin.clientCertificatePEM
                result.clientKeyPEM = fromPlugin.clientKeyPEM
            }
            if result.bearerToken != nil { return result }
        }
        if let tokenFile = config.tokenFile {
            result.bearerToken = try readTokenFile(tokenFile)
        } else if let token = config.token {
            result.bearerToken = token
        }
        return result
    }

    /// Drops cached credentials so the next request re-reads the token file or re-runs the plugin.
    public func invalidate() {
        fileToken = nil
        execCache = nil
    }

    private func readTokenFile(_ path: String) throws -> String {
        let clock = ContinuousClock()
        if let cached = fileToken, cached.readAt.duration(to: clock.now) < tokenRefreshInterval {
            return cached.value
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            // Keep using the last token if the file is briefly missing during a rotation.
            if let cached = fileToken { return cached.value }
            throw KubeClientError(operation: "read token file \(path)", message: "file not found or not readable")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        fileToken = (token, clock.now)
        return token
    }

    private func execCredentials(_ exec: ExecConfig) async throws -> Credentials {
        if let cached = execCache, cached.expiresAt.map({ $0 > now() }) ?? true {
            return cached.credentials
        }
        let op = "run exec credential plugin \(exec.command)"
        guard exec.apiVersion == "client.authentication.k8s.io/v1" || exec.apiVersion == "client.authentication.k8s.io/v1beta1" else {
            throw KubeClientError(operation: op, message: "unsupported apiVersion \(exec.apiVersion)")
        }
        let info = #"{"apiVersion":"\#(exec.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        let output = try await runner.run(exec, execInfo: info)
        execRuns += 1
        struct ExecCredential: Decodable {
            struct Status: Decodable {
                var token: String?
                var clientCertificateData: String?
                var clientKeyData: String?
                var expirationTimestamp: String?
            }
            var apiVersion: String?
            var kind: String?
            var status: Status?
        }
        let decoded: ExecCredential
        do {
            decoded = try JSONDecoder().decode(ExecCredential.self, from: output)
        } catch {
            throw KubeClientError(operation: op, message: "stdout is not an ExecCredential: \(error)")
        }
        guard decoded.kind == nil || decoded.kind == "ExecCredential", let status = decoded.status else {
            throw KubeClientError(operation: op, message: "stdout has no ExecCredential status")
        }
        let hasCert = status.clientCertificateData?.isEmpty == false
        if hasCert != (status.clientKeyData?.isEmpty == false) {
            throw KubeClientError(operation: op, message: "plugin returned a client certificate without a key, or a key without a certificate")
        }
        guard status.token?.isEmpty == false || hasCert else {
            throw KubeClientError(operation: op, message: "plugin returned neither a token nor a client certificate")
        }
        var expiresAt: Date?
        if let text = status.expirationTimestamp, !text.isEmpty {
            guard let date = KubeJSON.parseTime(text) else {
                throw KubeClientError(operation: op, message: "expirationTimestamp \(text) is not RFC 3339")
            }
            expiresAt = date
        }
        let credentials = Credentials(bearerToken: status.token?.isEmpty == false ? status.token : nil,
                                      clientCertificatePEM: hasCert ? Data(status.clientCertificateData!.utf8) : nil,
                                      clientKeyPEM: hasCert ? Data(status.clientKeyData!.utf8) : nil)
        execCache = (credentials, expiresAt)
        return credentials
    }
}
