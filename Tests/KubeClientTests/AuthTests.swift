import Foundation
import Testing
@testable import KubeClient
import MirModel
import Synchronization

/// TLS, client certificates, exec plugins, token files and in-cluster configuration against the fake server.
@Suite(.timeLimit(.minutes(2))) struct AuthTests {
    @Test func tlsWithCustomCAAndBearerToken() async throws {
        let server = try await FakeAPIServer.start(tls: .tls, config: ["tokens": ["secret-1"]])
        defer { server.stop() }
        try await withClient(server.kubeConfig(token: "secret-1")) { client in
            _ = try await client.create(Namespace(name: "team-a"))
            #expect(try await client.get(Namespace.self, name: "team-a").metadata.name == "team-a")
        }
        #expect(server.requests().allSatisfy { $0.auth == "Bearer secret-1" })

        // A wrong token is a typed 401.
        try await withClient(server.kubeConfig(token: "wrong")) { client in
            let error = await #expect(throws: KubeAPIError.self) { try await client.get(Namespace.self, name: "team-a") }
            #expect(error?.isUnauthorized == true)
        }

        // The wrong CA fails the handshake; insecure-skip-tls-verify accepts any certificate.
        var wrongCA = server.kubeConfig(token: "secret-1")
        wrongCA.certificateAuthorityPEM = server.pki!.data("other/ca.crt")
        try await withClient(wrongCA) { client in
            await #expect(throws: KubeClientError.self) { try await client.get(Namespace.self, name: "team-a") }
        }
        var insecure = wrongCA
        insecure.insecureSkipTLSVerify = true
        try await withClient(insecure) { client in
            let fetched = try await client.get(Namespace.self, name: "team-a")
            #expect(fetched.metadata.name == "team-a")
        }
    }

    @Test func tlsServerNameIsVerifiedInsteadOfTheHost() async throws {
        // The certificate names kube.test only, so connecting to 127.0.0.1 needs tls-server-name.
        let server = try await FakeAPIServer.start(tls: .tlsNamedOnly)
        defer { server.stop() }
        var config = server.kubeConfig()
        try await withClient(config) { client in
            await #expect(throws: KubeClientError.self) { try await client.create(Namespace(name: "by-ip")) }
        }
        config.tlsServerName = "kube.test"
        try await withClient(config) { client in
            _ = try await client.create(Namespace(name: "sni"))
        }
        config.tlsServerName = "not-in-the-certificate.test"
        try await withClient(config) { client in
            await #expect(throws: KubeClientError.self) { try await client.get(Namespace.self, name: "sni") }
        }
        #expect(server.requests().map(\.path) == ["/api/v1/namespaces"])
    }

    @Test func clientCertificateFromKubeconfigFiles() async throws {
        let server = try await FakeAPIServer.start(tls: .requireClientCertificate, config: ["tokens": [], "users": ["mir-client"]])
        defer { server.stop() }
        let pki = try #require(server.pki)
        let kubeconfig = """
        apiVersion: v1
        kind: Config
        current-context: c
        clusters: [{name: k, cluster: {server: "\(server.url)", certificate-authority: ca.crt}}]
        users: [{name: u, user: {client-certificate: mir-client.crt, client-key: mir-client.key}}]
        contexts: [{name: c, context: {cluster: k, user: u, namespace: certs}}]
        """
        try pki.dir.write("kubeconfig", kubeconfig)
        let config = try KubeConfigLoader(environment: ["KUBECONFIG": pki.dir.path("kubeconfig")], homeDirectory: "/nonexistent").load()
        try await withClient(config) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "by-cert")))
        }
        let post = try #require(server.requests().first { $0.method == "POST" })
        #expect(post.cn == "mir-client")
        #expect(post.path == "/api/v1/namespaces/certs/configmaps")

        // Without a certificate the handshake is refused.
        var anonymous = config
        anonymous.clientCertificatePEM = nil
        anonymous.clientKeyPEM = nil
        try await withClient(anonymous) { client in
            await #expect(throws: KubeClientError.self) { try await client.get(ConfigMap.self, name: "by-cert") }
        }
    }

    /// A plugin script: prints an ExecCredential with the token in `token.txt`, counting runs in `runs.txt`.
    static func writeTokenPlugin(in dir: TempDir, expiration: String? = nil) throws {
        let expiry = expiration.map { #","expirationTimestamp":"\#($0)""# } ?? ""
        try dir.write("plugin.sh", """
        #!/bin/sh
        echo run >> "\(dir.path("runs.txt"))"
        case "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) echo "no exec info" >&2; exit 3;; esac
        [ "$PLUGIN_GREETING" = "hello" ] || { echo "env not passed" >&2; exit 4; }
        printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"\(expiry)}}' "$(cat "\(dir.path("token.txt"))")"
        """, executable: true)
    }

    @Test func execPluginTokenIsCachedAndRerunOn401() async throws {
        let server = try await FakeAPIServer.start(config: ["tokens": ["exec-1"]])
        defer { server.stop() }
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("token.txt", "exec-1")
        try Self.writeTokenPlugin(in: dir)
        var config = server.kubeConfig()
        config.exec = ExecConfig(command: dir.path("plugin.sh"), args: ["--ignored"], env: [.init(name: "PLUGIN_GREETING", value: "hello")])
        try await withClient(config) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "e")))
            for _ in 0..<3 { _ = try await client.get(ConfigMap.self, name: "e") }
            #expect(dir.read("runs.txt").split(separator: "\n").count == 1)

            // Rotate: the server now only accepts exec-2; the client gets a 401, re-runs the plugin and retries.
            try dir.write("token.txt", "exec-2")
            server.setConfig(["tokens": ["exec-2"]])
            #expect(try await client.get(ConfigMap.self, name: "e").metadata.name == "e")
            #expect(dir.read("runs.txt").split(separator: "\n").count == 2)
            #expect(await client.authenticator.execRuns == 2)
        }
        let rejected = server.requests().filter { $0.result == 401 }
        #expect(rejected.count == 1)
        #expect(rejected.first?.auth == "Bearer exec-1")
        #expect(server.requests().last?.auth == "Bearer exec-2")
    }

    @Test func execCredentialIsRefreshedAfterItsExpiry() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("token.txt", "t1")
        try Self.writeTokenPlugin(in: dir, expiration: "2030-01-01T00:00:00Z")
        let now = DateBox(Date(timeIntervalSince1970: 1_800_000_000))  // 2027
        var config = KubeConfig(server: "http://127.0.0.1:1")
        config.exec = ExecConfig(command: dir.path("plugin.sh"), env: [.init(name: "PLUGIN_GREETING", value: "hello")])
        let authenticator = Authenticator(config: config, now: { now.value })
        #expect(try await authenticator.credentials().bearerToken == "t1")
        try dir.write("token.txt", "t2")
        #expect(try await authenticator.credentials().bearerToken == "t1")
        now.value = Date(timeIntervalSince1970: 1_900_000_000)  // past 2030-01-01
        #expect(try await authenticator.credentials().bearerToken == "t2")
        #expect(await authenticator.execRuns == 2)
    }

    @Test func execPluginCanSupplyAClientCertificate() async throws {
        let server = try await FakeAPIServer.start(tls: .requireClientCertificate, config: ["tokens": [], "users": ["exec-client"]])
        defer { server.stop() }
        let pki = try #require(server.pki)
        func jsonString(_ data: Data) -> String {
            String(decoding: try! JSONEncoder().encode(String(decoding: data, as: UTF8.self)), as: UTF8.self)
        }
        let credential = #"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":\#(jsonString(pki.data("exec-client.crt"))),"clientKeyData":\#(jsonString(pki.data("exec-client.key")))}}"#
        try pki.dir.write("credential.json", credential)
        try pki.dir.write("cert-plugin.sh", "#!/bin/sh\ncat '\(pki.dir.path("credential.json"))'\n", executable: true)
        var config = server.kubeConfig()
        config.exec = ExecConfig(command: pki.dir.path("cert-plugin.sh"))
        try await withClient(config) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "exec-cert")))
        }
        #expect(server.requests().first { $0.method == "POST" }?.cn == "exec-client")
    }

    @Test func failingPluginIsReportedWithItsCommand() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("bad.sh", "#!/bin/sh\necho 'no credentials for you' >&2\nexit 7\n", executable: true)
        var config = KubeConfig(server: "http://127.0.0.1:1")
        config.exec = ExecConfig(command: dir.path("bad.sh"))
        let error = await #expect(throws: KubeClientError.self) { try await Authenticator(config: config).credentials() }
        #expect(error?.operation.contains("bad.sh") == true)
        #expect(error?.message.contains("status 7") == true, "\(String(describing: error))")
        #expect(error?.message.contains("no credentials for you") == true, "\(String(describing: error))")
    }

    /// A plugin file still open for writing cannot be executed (ETXTBSY); the runner recognises that error, as
    /// Foundation reports it, and retries instead of failing the request.
    @Test func aPluginBusyBeingWrittenIsRecognised() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("busy.sh")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        #expect(fd >= 0)
        defer { close(fd) }
        _ = "#!/bin/sh\necho hi\n".withCString { write(fd, $0, strlen($0)) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        let error = #expect(throws: (any Error).self) { try process.run() }
        #expect(error.map(ProcessExecPluginRunner.isTextFileBusy) == true, "\(String(describing: error))")
        #expect(!ProcessExecPluginRunner.isTextFileBusy(CocoaError(.fileNoSuchFile)))
    }

    @Test func rotatedTokenFileIsPickedUp() async throws {
        let server = try await FakeAPIServer.start(config: ["tokens": ["rot-1"]])
        defer { server.stop() }
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("token", "rot-1\n")
        var config = server.kubeConfig()
        config.tokenFile = dir.path("token")
        // Periodic re-read: with a zero interval every request reads the file, so no request is rejected.
        let eager = Authenticator(config: config, tokenRefreshInterval: .zero)
        try await withClient(config, authenticator: eager) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "r")))
            try dir.write("token", "rot-2\n")
            server.setConfig(["tokens": ["rot-2"]])
            _ = try await client.get(ConfigMap.self, name: "r")
        }
        #expect(server.requests().filter { $0.result == 401 }.isEmpty)
        #expect(server.requests().last?.auth == "Bearer rot-2")

        // Within the (default one-minute) interval the cached token is used until a 401 forces a re-read.
        try await withClient(config) { client in
            _ = try await client.get(ConfigMap.self, name: "r")
            try dir.write("token", "rot-3\n")
            server.setConfig(["tokens": ["rot-3"]])
            _ = try await client.get(ConfigMap.self, name: "r")
        }
        let rejected = server.requests().filter { $0.result == 401 }
        #expect(rejected.map(\.auth) == ["Bearer rot-2"])
        #expect(server.requests().last?.auth == "Bearer rot-3")
    }

    @Test func inClusterConfigurationTalksToTheServer() async throws {
        let server = try await FakeAPIServer.start(tls: .tls, config: ["tokens": ["sa-token"]])
        defer { server.stop() }
        let pki = try #require(server.pki)
        let sa = pki.dir.path("sa")
        try FileManager.default.createDirectory(atPath: sa, withIntermediateDirectories: true)
        try pki.dir.write("sa/token", "sa-token")
        try pki.caPEM.write(to: URL(fileURLWithPath: sa + "/ca.crt"))
        try pki.dir.write("sa/namespace", "mir-system")
        let loader = KubeConfigLoader(environment: ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "\(server.port)"],
                                      homeDirectory: "/nonexistent", serviceAccountDirectory: sa)
        let config = try loader.load()
        try await withClient(config) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "in-cluster")))
        }
        #expect(server.requests().last?.path == "/api/v1/namespaces/mir-system/configmaps")
        #expect(server.requests().last?.auth == "Bearer sa-token")
    }
}

/// A settable time for injected clocks.
final class DateBox: Sendable {
    private let date: Mutex<Date>
    init(_ date: Date) { self.date = Mutex(date) }
    var value: Date {
        get { date.withLock { $0 } }
        set { date.withLock { $0 = newValue } }
    }
}
