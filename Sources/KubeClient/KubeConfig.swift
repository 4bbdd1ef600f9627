import Foundation
import Yams

/// Everything needed to talk to one API server as one user. Produced by `KubeConfigLoader`.
public struct KubeConfig: Sendable, Hashable {
    /// `https://host:port` or `http://host:port`, possibly with a path prefix.
    public var server: String
    /// PEM bundle of the CA(s) that sign the server's certificate; nil means the system roots.
    public var certificateAuthorityPEM: Data?
    public var insecureSkipTLSVerify: Bool
    /// The name to send as SNI and to verify the server certificate against, instead of the server host.
    public var tlsServerName: String?
    /// A static bearer token.
    public var token: String?
    /// A file holding the bearer token; re-read at least every `tokenRefreshInterval` (rotated tokens).
    public var tokenFile: String?
    public var clientCertificatePEM: Data?
    public var clientKeyPEM: Data?
    public var exec: ExecConfig?
    /// The namespace of the current context (in-cluster: the service account's); `default` otherwise.
    public var namespace: String
    /// Where the configuration came from, for messages: a kubeconfig path or `in-cluster`.
    public var origin: String

    public init(server: String, certificateAuthorityPEM: Data? = nil, insecureSkipTLSVerify: Bool = false,
                tlsServerName: String? = nil, token: String? = nil, tokenFile: String? = nil,
                clientCertificatePEM: Data? = nil, clientKeyPEM: Data? = nil, exec: ExecConfig? = nil,
                namespace: String = "default", origin: String = "") {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.tlsServerName = tlsServerName
        self.token = token
        self.tokenFile = tokenFile
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.exec = exec
        self.namespace = namespace
        self.origin = origin
    }
}

/// A `client.authentication.k8s.io/v1` exec credential plugin.
public struct ExecConfig: Sendable, Hashable, Codable {
    public struct EnvVar: Sendable, Hashable, Codable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var apiVersion: String
    /// The program; a relative path containing a `/` is resolved against the kubeconfig's directory.
    public var command: String
    public var args: [String]?
    public var env: [EnvVar]?
    public var provideClusterInfo: Bool?
    public var interactiveMode: String?

    public init(apiVersion: String = "client.authentication.k8s.io/v1", command: String, args: [String]? = nil,
                env: [EnvVar]? = nil, provideClusterInfo: Bool? = nil, interactiveMode: String? = nil) {
        self.apiVersion = apiVersion
        self.command = command
        self.args = args
        self.env = env
        self.provideClusterInfo = provideClusterInfo
        self.interactiveMode = interactiveMode
    }
}

/// Finds the configuration in controller-runtime's order: an explicit `--kubeconfig`, `$KUBECONFIG` (a `:` list,
/// the first file to set a value wins), in-cluster service-account files, then `~/.kube/config`.
public struct KubeConfigLoader: Sendable {
    public var environment: [String: String]
    public var homeDirectory: String
    /// Where the service-account token, CA and namespace files live when in-cluster.
    public var serviceAccountDirectory: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                homeDirectory: String = NSHomeDirectory(),
                serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount") {
        self.environment = environment
        self.homeDirectory = homeDirectory
        self.serviceAccountDirectory = serviceAccountDirectory
    }

    /// Loads the configuration. `context` overrides the current context of a kubeconfig.
    public func load(kubeconfigPath: String? = nil, context: String? = nil) throws -> KubeConfig {
        if let kubeconfigPath, !kubeconfigPath.isEmpty {
            return try Self.resolve(try KubeconfigDocument.merged(paths: [kubeconfigPath], requireAll: true), context: context)
        }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let paths = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
            return try Self.resolve(try KubeconfigDocument.merged(paths: paths, requireAll: false), context: context)
        }
        if let inCluster = try loadInCluster() { return inCluster }
        let home = (homeDirectory as NSString).appendingPathComponent(".kube/config")
        if FileManager.default.fileExists(atPath: home) {
            return try Self.resolve(try KubeconfigDocument.merged(paths: [home], requireAll: true), context: context)
        }
        throw KubeClientError(operation: "load Kubernetes configuration",
                              message: "no --kubeconfig, no $KUBECONFIG, not in a cluster, and no \(home)")
    }

    /// The in-cluster configuration, or nil when `KUBERNETES_SERVICE_HOST`/`PORT` are not both set.
    public func loadInCluster() throws -> KubeConfig? {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else { return nil }
        let op = "load in-cluster configuration"
        let tokenPath = (serviceAccountDirectory as NSString).appendingPathComponent("token")
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeClientError(operation: op, message: "service-account token \(tokenPath) is not readable")
        }
        let caPath = (serviceAccountDirectory as NSString).appendingPathComponent("ca.crt")
        let ca = FileManager.default.contents(atPath: caPath)
        let nsPath = (serviceAccountDirectory as NSString).appendingPathComponent("namespace")
        let namespace = FileManager.default.contents(atPath: nsPath)
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
            .flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return KubeConfig(server: "https://\(hostPart):\(port)", certificateAuthorityPEM: ca, tokenFile: tokenPath,
                          namespace: namespace, origin: "in-cluster")
    }

    static func resolve(_ doc: KubeconfigDocument, context contextOverride: String?) throws -> KubeConfig {
        let op = "load kubeconfig \(doc.origin)"
        guard let contextName = contextOverride ?? doc.currentContext, !contextName.isEmpty else {
            throw KubeClientError(operation: op, message: "no current-context is set")
        }
        guard let context = doc.contexts[contextName] else {
            throw KubeClientError(operation: op, message: "context \"\(contextName)\" not found")
        }
        guard let clusterName = context.cluster, let cluster = doc.clusters[clusterName] else {
            throw KubeClientError(operation: op, message: "cluster \"\(context.cluster ?? "")\" of context \"\(contextName)\" not found")
        }
        guard let server = cluster.server, !server.isEmpty else {
            throw KubeClientError(operation: op, message: "cluster \"\(clusterName)\" has no server")
        }
        let user = context.user.flatMap { doc.users[$0] } ?? KubeconfigDocument.User()
        var config = KubeConfig(server: server, namespace: (context.namespace?.isEmpty == false ? context.namespace : nil) ?? "default",
                                origin: doc.origin)
        config.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify ?? false
        config.tlsServerName = cluster.tlsServerName
        config.certificateAuthorityPEM = try pem(data: cluster.certificateAuthorityData, file: cluster.certificateAuthority,
                                                 what: "certificate-authority", op: op)
        config.clientCertificatePEM = try pem(data: user.clientCertificateData, file: user.clientCertificate,
                                              what: "client-certificate", op: op)
        config.clientKeyPEM = try pem(data: user.clientKeyData, file: user.clientKey, what: "client-key", op: op)
        if (config.clientCertificatePEM == nil) != (config.clientKeyPEM == nil) {
            throw KubeClientError(operation: op, message: "user sets a client certificate without a key, or a key without a certificate")
        }
        config.token = (user.token?.isEmpty == false) ? user.token : nil
        config.tokenFile = (user.tokenFile?.isEmpty == false) ? user.tokenFile : nil
        config.exec = user.exec
        return config
    }

    private static func pem(data: String?, file: String?, what: String, op: String) throws -> Data? {
        if let data, !data.isEmpty {
            guard let decoded = Data(base64Encoded: data.filter { !$0.isWhitespace }) else {
                throw KubeClientError(operation: op, message: "\(what)-data is not valid base64")
            }
            return decoded
        }
        if let file, !file.isEmpty {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw KubeClientError(operation: op, message: "cannot read \(what) file \(file)")
            }
            return contents
        }
        return nil
    }
}

/// A kubeconfig (`apiVersion: v1`, `kind: Config`), merged from one or more files with relative paths resolved
/// against the directory of the file that set them.
struct KubeconfigDocument {
    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        var tlsServerName: String?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
        }
    }

    struct User: Decodable {
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var token: String?
        var tokenFile: String?
        var exec: ExecConfig?

        enum CodingKeys: String, CodingKey {
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case token, tokenFile, exec
        }
    }

    struct Context: Decodable {
        var cluster: String?
        var user: String?
        var namespace: String?
    }

    private struct Named<T: Decodable>: Decodable {
        var name: String
        var value: T?
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: AnyCodingKey.self)
            name = try c.decode(String.self, forKey: AnyCodingKey("name"))
            for key in ["cluster", "user", "context"] where c.contains(AnyCodingKey(key)) {
                value = try c.decodeIfPresent(T.self, forKey: AnyCodingKey(key))
            }
        }
    }

    private struct File: Decodable {
        var clusters: [Named<Cluster>]?
        var users: [Named<User>]?
        var contexts: [Named<Context>]?
        var currentContext: String?
        enum CodingKeys: String, CodingKey {
            case clusters, users, contexts
            case currentContext = "current-context"
        }
    }

    var clusters: [String: Cluster] = [:]
    var users: [String: User] = [:]
    var contexts: [String: Context] = [:]
    var currentContext: String?
    var origin: String = ""

    /// Merges files in order; the first file to set a map entry or the current context wins. Missing files are
    /// skipped unless `requireAll`.
    static func merged(paths: [String], requireAll: Bool) throws -> KubeconfigDocument {
        var doc = KubeconfigDocument()
        doc.origin = paths.joined(separator: ":")
        var readAny = false
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                if requireAll {
                    throw KubeClientError(operation: "load kubeconfig \(path)", message: "file not found or not readable")
                }
                continue
            }
            readAny = true
            let text = String(decoding: data, as: UTF8.self)
            let file: File
            do {
                file = text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                    ? File() : try YAMLDecoder().decode(File.self, from: text)
            } catch {
                throw KubeClientError(operation: "load kubeconfig \(path)", message: "\(error)")
            }
            let dir = (path as NSString).deletingLastPathComponent
            for entry in file.clusters ?? [] where doc.clusters[entry.name] == nil {
                var c = entry.value ?? Cluster()
                c.certificateAuthority = c.certificateAuthority.map { absolute($0, in: dir) }
                doc.clusters[entry.name] = c
            }
            for entry in file.users ?? [] where doc.users[entry.name] == nil {
                var u = entry.value ?? User()
                u.clientCertificate = u.clientCertificate.map { absolute($0, in: dir) }
                u.clientKey = u.clientKey.map { absolute($0, in: dir) }
                u.tokenFile = u.tokenFile.map { absolute($0, in: dir) }
                if var exec = u.exec, exec.command.contains("/") {
                    exec.command = absolute(exec.command, in: dir)
                    u.exec = exec
                }
                doc.users[entry.name] = u
            }
            for entry in file.contexts ?? [] where doc.contexts[entry.name] == nil {
                doc.contexts[entry.name] = entry.value ?? Context()
            }
            if doc.currentContext?.isEmpty ?? true, let cc = file.currentContext, !cc.isEmpty {
                doc.currentContext = cc
            }
        }
        if !readAny {
            throw KubeClientError(operation: "load kubeconfig \(doc.origin)", message: "none of the files exists")
        }
        return doc
    }

    private static func absolute(_ path: String, in dir: String) -> String {
        if path.isEmpty || path.hasPrefix("/") { return path }
        return ((dir as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }
}
