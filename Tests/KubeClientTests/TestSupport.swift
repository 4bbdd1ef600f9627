import Foundation
import Testing
@testable import KubeClient
import MirModel

/// A fresh temporary directory, removed by `cleanup()`.
struct TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("kubeclient-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func write(_ name: String, _ text: String, executable: Bool = false) throws {
        try Data(text.utf8).write(to: url.appendingPathComponent(name))
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path(name)) }
    }
    func read(_ name: String) -> String { (try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "" }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Runs a shell command; throws with its output when it fails.
/// Runs off the cooperative pool, so slow commands (openssl) never starve concurrently running tests.
@discardableResult
func shell(_ command: String) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            if process.terminationStatus == 0 {
                continuation.resume(returning: text)
            } else {
                continuation.resume(throwing: KubeClientError(operation: "run \(command)", message: text))
            }
        }
    }
}

/// A CA, a server certificate for 127.0.0.1/localhost/kube.test (`server`), one for kube.test only (`named`), two
/// client certificates, and an unrelated CA (`other/ca.crt`), made with openssl.
struct TestPKI {
    let dir: TempDir

    init(in dir: TempDir) async throws {
        self.dir = dir
        let d = dir.url.path
        try await shell("""
        cd '\(d)' && \
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=test-ca 2>/dev/null && \
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kube.test\\n' > server.ext && \
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=kube.test 2>/dev/null && \
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile server.ext 2>/dev/null && \
        printf 'subjectAltName=DNS:kube.test\\n' > named.ext && \
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out named.crt -days 1 -extfile named.ext 2>/dev/null && \
        cp server.key named.key && \
        printf 'extendedKeyUsage=clientAuth\\n' > client.ext && \
        for who in mir-client exec-client; do \
          openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj /CN=$who 2>/dev/null && \
          openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $who.crt -days 1 -extfile client.ext 2>/dev/null || exit 1; \
        done && \
        mkdir -p other && cd other && \
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=other-ca 2>/dev/null
        """)
    }

    func data(_ name: String) -> Data { FileManager.default.contents(atPath: dir.path(name)) ?? Data() }
    var caPEM: Data { data("ca.crt") }
}

/// One request the fake server saw.
struct SeenRequest: Decodable {
    var method: String
    var path: String
    var query: [String: String]
    var auth: String
    var cn: String?
    var contentType: String?
    var body: String?
    var result: Int?

    var bodyJSON: JSONValue? { body.flatMap { JSONValue.parse($0) } }
}

/// The python fake API server (fakeAPIServerScript), started on 127.0.0.1 on a free port.
final class FakeAPIServer: @unchecked Sendable {
    /// `tlsNamedOnly` serves a certificate valid for `kube.test` only (no IP address).
    enum TLSMode { case none, tls, tlsNamedOnly, requireClientCertificate }

    let dir: TempDir
    let pki: TestPKI?
    let port: Int
    private let process: Process
    private let input: Pipe
    private let output: Pipe
    private let lock = NSLock()

    static func start(tls: TLSMode = .none, config: [String: Any] = [:]) async throws -> FakeAPIServer {
        let dir = try TempDir()
        let pki = tls == .none ? nil : try await TestPKI(in: dir)
        return try await FakeAPIServer(dir: dir, pki: pki, tls: tls, config: config)
    }

    private init(dir: TempDir, pki: TestPKI?, tls: TLSMode, config: [String: Any]) async throws {
        self.dir = dir
        self.pki = pki
        try dir.write("server.py", fakeAPIServerScript)
        try dir.write("config.json", "{}")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var args = ["python3", dir.path("server.py"), dir.path("config.json"), dir.path("requests.log")]
        switch tls {
        case .none: break
        case .tls: args += [dir.url.path]
        case .tlsNamedOnly:
            args += [dir.url.path]
            process.environment = ProcessInfo.processInfo.environment.merging(["FAKE_APISERVER_CERT": "named"]) { $1 }
        case .requireClientCertificate: args += [dir.url.path, "require-cert"]
        }
        process.arguments = args
        input = Pipe()
        output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        let line = try await FakeAPIServer.readLine(output)
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else {
            process.terminate()
            throw KubeClientError(operation: "start fake API server", message: "unexpected output \(line)")
        }
        self.port = port
        setConfig(config)
    }

    deinit { stop() }

    var url: String { pki == nil ? "http://127.0.0.1:\(port)" : "https://127.0.0.1:\(port)" }

    /// Replaces the behaviour knobs (read by the server on every request).
    func setConfig(_ config: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: config)
        try! data.write(to: dir.url.appendingPathComponent("config.json"))
    }

    /// Sends a control command (`compact`, `gone N`) and waits for the acknowledgement.
    func command(_ text: String) async throws {
        input.fileHandleForWriting.write(Data((text + "\n").utf8))
        let reply = try await FakeAPIServer.readLine(output)
        guard reply == "ok \(text)" else {
            throw KubeClientError(operation: "fake server command \(text)", message: reply)
        }
    }

    /// Every request seen so far, oldest first.
    func requests() -> [SeenRequest] {
        let text = dir.read("requests.log")
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(SeenRequest.self, from: Data($0.utf8)) }
    }

    func stop() {
        lock.lock()
        defer { lock.unlock() }
        if process.isRunning {
            try? input.fileHandleForWriting.close()
            process.terminate()
            process.waitUntilExit()
        }
        dir.cleanup()
    }

    /// A client configuration for this server (token and TLS set by the caller).
    func kubeConfig(token: String? = nil, namespace: String = "default") -> KubeConfig {
        KubeConfig(server: url, certificateAuthorityPEM: pki?.caPEM, token: token, namespace: namespace, origin: "test")
    }

    private static func readLine(_ pipe: Pipe) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var bytes: [UInt8] = []
                let handle = pipe.fileHandleForReading
                while true {
                    let chunk = handle.readData(ofLength: 1)
                    if chunk.isEmpty {
                        continuation.resume(throwing: KubeClientError(operation: "read fake server output", message: "closed"))
                        return
                    }
                    if chunk[0] == UInt8(ascii: "\n") { break }
                    bytes.append(chunk[0])
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(30), _ what: String = "condition",
                _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for \(what)")
    throw KubeClientError(operation: "wait for \(what)", message: "timed out")
}

/// Runs `body` with a client for `config`, shutting the client down afterwards.
@discardableResult
func withClient<T>(_ config: KubeConfig, authenticator: Authenticator? = nil, connectTimeout: Duration = .seconds(10),
                   _ body: (KubeClient) async throws -> T) async throws -> T {
    let client = try KubeClient(config: config, authenticator: authenticator, connectTimeout: connectTimeout)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}
