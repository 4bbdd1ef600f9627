import Foundation
import Testing
@testable import KubeClient

@Suite struct ConfigLoaderTests {
    static func kubeconfig(server: String, context: String = "main", cluster: String = "c", user: String = "u",
                           namespace: String? = nil, userBody: String = "    token: t-main",
                           clusterExtra: String = "") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: \(context)
        clusters:
        - name: \(cluster)
          cluster:
            server: \(server)
        \(clusterExtra)
        users:
        - name: \(user)
          user:
        \(userBody)
        contexts:
        - name: \(context)
          context:
            cluster: \(cluster)
            user: \(user)
        \(namespace.map { "    namespace: \($0)" } ?? "")
        """
    }

    @Test func explicitPathWinsOverEverything() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("explicit", Self.kubeconfig(server: "https://explicit:6443", namespace: "ex"))
        try dir.write("env", Self.kubeconfig(server: "https://env:6443"))
        try FileManager.default.createDirectory(atPath: dir.path("home/.kube"), withIntermediateDirectories: true)
        try dir.write("home/.kube/config", Self.kubeconfig(server: "https://home:6443"))
        let loader = KubeConfigLoader(environment: ["KUBECONFIG": dir.path("env"), "KUBERNETES_SERVICE_HOST": "10.0.0.1",
                                                    "KUBERNETES_SERVICE_PORT": "443"],
                                      homeDirectory: dir.path("home"), serviceAccountDirectory: dir.path("sa"))
        let config = try loader.load(kubeconfigPath: dir.path("explicit"))
        #expect(config.server == "https://explicit:6443")
        #expect(config.namespace == "ex")
        #expect(config.token == "t-main")
        #expect(try loader.load().server == "https://env:6443")
    }

    @Test func kubeconfigListFirstFileToSetAValueWins() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        // First file: only a context "main" pointing at cluster "c" and user "u2", plus the current context.
        try dir.write("a", """
        apiVersion: v1
        kind: Config
        current-context: main
        contexts:
        - name: main
          context: {cluster: c, user: u2, namespace: from-a}
        users:
        - name: u2
          user: {tokenFile: tokens/a}
        """)
        // Second file: defines cluster c and another "main" context and current context that must lose.
        try dir.write("b", Self.kubeconfig(server: "https://b:6443", context: "other", user: "u", namespace: "from-b") + """

        - name: main
          context: {cluster: nowhere, user: u}
        """)
        let loader = KubeConfigLoader(environment: ["KUBECONFIG": "\(dir.path("missing")):\(dir.path("a")):\(dir.path("b"))"],
                                      homeDirectory: dir.path("home"), serviceAccountDirectory: dir.path("sa"))
        let config = try loader.load()
        #expect(config.server == "https://b:6443")
        #expect(config.namespace == "from-a")
        // Relative paths resolve against the directory of the file that set them.
        #expect(config.tokenFile == dir.path("tokens/a"))
        #expect(config.token == nil)
        let other = try loader.load(context: "other")
        #expect(other.namespace == "from-b")
        #expect(other.token == "t-main")
    }

    @Test func inClusterComesBeforeHomeConfig() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.path("sa"), withIntermediateDirectories: true)
        try dir.write("sa/token", "sa-token\n")
        try dir.write("sa/ca.crt", "-----BEGIN CERTIFICATE-----\n")
        try dir.write("sa/namespace", "mir-system\n")
        try FileManager.default.createDirectory(atPath: dir.path("home/.kube"), withIntermediateDirectories: true)
        try dir.write("home/.kube/config", Self.kubeconfig(server: "https://home:6443"))
        let env = ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"]
        let loader = KubeConfigLoader(environment: env, homeDirectory: dir.path("home"), serviceAccountDirectory: dir.path("sa"))
        let config = try loader.load()
        #expect(config.server == "https://[fd00::1]:443")
        #expect(config.tokenFile == dir.path("sa/token"))
        #expect(config.namespace == "mir-system")
        #expect(config.certificateAuthorityPEM == Data("-----BEGIN CERTIFICATE-----\n".utf8))
        #expect(config.origin == "in-cluster")

        let outside = KubeConfigLoader(environment: [:], homeDirectory: dir.path("home"), serviceAccountDirectory: dir.path("sa"))
        let home = try outside.load()
        #expect(home.server == "https://home:6443")
        #expect(home.namespace == "default")

        let nothing = KubeConfigLoader(environment: [:], homeDirectory: dir.path("nohome"), serviceAccountDirectory: dir.path("sa"))
        #expect(throws: KubeClientError.self) { try nothing.load() }
    }

    @Test func readsDataFieldsFilesExecAndTLSSettings() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("client.crt", "CERT")
        try dir.write("client.key", "KEY")
        let ca = Data("CA-PEM".utf8).base64EncodedString()
        let user = """
            client-certificate: client.crt
            client-key: client.key
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: ./bin/plugin
              args: ["get-token", "--cluster", "x"]
              env: [{name: FOO, value: bar}]
              interactiveMode: Never
        """
        let extra = """
            certificate-authority-data: \(ca)
            insecure-skip-tls-verify: false
            tls-server-name: kube.test
        """
        // Insert the extra cluster fields right under `server:`.
        let text = Self.kubeconfig(server: "https://1.2.3.4:6443", userBody: user)
            .replacingOccurrences(of: "    server: https://1.2.3.4:6443\n", with: "    server: https://1.2.3.4:6443\n\(extra)\n")
        try dir.write("config", text)
        let config = try KubeConfigLoader(environment: [:], homeDirectory: dir.path("h")).load(kubeconfigPath: dir.path("config"))
        #expect(config.certificateAuthorityPEM == Data("CA-PEM".utf8))
        #expect(config.tlsServerName == "kube.test")
        #expect(config.clientCertificatePEM == Data("CERT".utf8))
        #expect(config.clientKeyPEM == Data("KEY".utf8))
        #expect(config.exec?.command == dir.path("bin/plugin"))
        #expect(config.exec?.args == ["get-token", "--cluster", "x"])
        #expect(config.exec?.env == [ExecConfig.EnvVar(name: "FOO", value: "bar")])
    }

    @Test func reportsMissingPiecesByName() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("config", Self.kubeconfig(server: "https://x:1"))
        let loader = KubeConfigLoader(environment: [:], homeDirectory: dir.path("h"))
        let error = #expect(throws: KubeClientError.self) {
            try loader.load(kubeconfigPath: dir.path("config"), context: "nope")
        }
        #expect(error?.message.contains("context \"nope\" not found") == true)
        #expect(throws: KubeClientError.self) { try loader.load(kubeconfigPath: dir.path("absent")) }
    }
}
