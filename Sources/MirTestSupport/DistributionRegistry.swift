import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// A CNCF distribution registry (Debian's `docker-registry`, v2.8) this test process started: on a free 127.0.0.1
/// port, with a generated config and storage in a fresh temporary folder, image deletion enabled, optionally
/// requiring htpasswd credentials. It stops when this process dies (a watcher shell polls for it) and by `stop()`.
public final class DistributionRegistry: @unchecked Sendable {
    public let port: Int
    /// `127.0.0.1:PORT`: the host part of image references pushed here.
    public let host: String
    public let url: URL
    public let folder: URL
    private let process: BackgroundProcess

    public enum HarnessError: Error, CustomStringConvertible {
        case missingTool(String), didNotStart(String)
        public var description: String {
            switch self {
            case .missingTool(let t): return "\(t) is not installed (scripts/setup installs it); the real-build tests need it"
            case .didNotStart(let d): return "docker-registry did not start: \(d)"
            }
        }
    }

    /// Starts a registry; with `htpasswd`, only that user (bcrypt entry written with `htpasswd -B`) may pull and push.
    public static func start(htpasswd: (user: String, password: String)? = nil) async throws -> DistributionRegistry {
        let binary = try await ToolLocator.require("docker-registry")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mir-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("data"), withIntermediateDirectories: true)
        var authSection = ""
        if let htpasswd {
            guard let tool = ToolLocator.find("htpasswd") else { throw HarnessError.missingTool("htpasswd") }
            let file = folder.appendingPathComponent("htpasswd")
            // -i: the password comes on stdin, never on a command line.
            let made = try await ProcessRunner.run(URL(fileURLWithPath: "/bin/sh"),
                                                   ["-c", "printf '%s' \"$MIR_TEST_PASSWORD\" | \"$0\" -niB \"$1\" > \"$2\"", tool, htpasswd.user, file.path],
                                                   environment: ProcessInfo.processInfo.environment.merging(["MIR_TEST_PASSWORD": htpasswd.password]) { $1 })
            guard made.status == 0 else { throw HarnessError.didNotStart("htpasswd failed: \(made.stderr)") }
            authSection = "auth:\n  htpasswd:\n    realm: mir-test\n    path: \(file.path)\n"
        }
        var lastError = ""
        for _ in 0..<3 {
            let port = try MotoServer.freeLoopbackPort()
            let config = folder.appendingPathComponent("config.yml")
            let text = """
                version: 0.1
                log:
                  level: warn
                  accesslog: {disabled: true}
                storage:
                  filesystem: {rootdirectory: \(folder.appendingPathComponent("data").path)}
                  delete: {enabled: true}
                http:
                  addr: 127.0.0.1:\(port)
                \(authSection)
                """
            try Data(text.utf8).write(to: config)
            // A watcher shell: the registry goes when this test process does (even on a crash) and when the shell is
            // told to stop.
            let watcher = """
                "$0" serve "$1" & r=$!
                trap 'kill $r 2>/dev/null; exit 0' TERM INT
                while kill -0 "$2" 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 1; done
                kill $r 2>/dev/null
                """
            let process = try BackgroundProcess(URL(fileURLWithPath: "/bin/sh"),
                                                ["-c", watcher, binary, config.path, String(getpid())], outputDirectory: folder)
            let registry = DistributionRegistry(port: port, folder: folder, process: process)
            if await registry.waitUntilReady() { return registry }
            lastError = String((process.stderr + process.stdout).suffix(800))
            registry.process.send(SIGKILL)
            _ = await registry.process.finish(timeout: .seconds(5))
        }
        throw HarnessError.didNotStart(lastError)
    }

    private init(port: Int, folder: URL, process: BackgroundProcess) {
        self.port = port
        self.host = "127.0.0.1:\(port)"
        self.url = URL(string: "http://127.0.0.1:\(port)")!
        self.folder = folder
        self.process = process
    }

    /// Runs `body` with a fresh registry and always stops it afterwards.
    public static func with<T: Sendable>(htpasswd: (user: String, password: String)? = nil,
                                         _ body: (DistributionRegistry) async throws -> T) async throws -> T {
        let registry = try await start(htpasswd: htpasswd)
        do {
            let result = try await body(registry)
            await registry.stop()
            return result
        } catch {
            await registry.stop()
            throw error
        }
    }

    public func stop() async {
        process.send(SIGTERM)
        _ = await process.finish(timeout: .seconds(10))
        try? FileManager.default.removeItem(at: folder)
    }

    private func waitUntilReady() async -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if !process.isRunning { return false }
            if let status = try? await get("/v2/").0, status == 200 || status == 401 { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// GET (or HEAD) a path; returns the status and body. `credentials` adds basic auth.
    public func get(_ path: String, method: HTTPMethod = .GET, accept: String? = nil,
                    credentials: (String, String)? = nil) async throws -> (Int, [String: String], String) {
        var request = HTTPClientRequest(url: url.absoluteString + path)
        request.method = method
        if let accept { request.headers.add(name: "Accept", value: accept) }
        if let (user, password) = credentials {
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 8 << 20)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return (Int(response.status.code), headers, String(buffer: body))
    }

    /// The tags of a repository (empty when it does not exist).
    public func tags(_ repository: String, credentials: (String, String)? = nil) async throws -> [String] {
        let (status, _, body) = try await get("/v2/\(repository)/tags/list", credentials: credentials)
        guard status == 200, let data = body.data(using: .utf8),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return (object["tags"] as? [String] ?? []).sorted()
    }

    /// The digest the registry gives a tag's manifest (`Docker-Content-Digest` of a HEAD), nil when missing.
    public func digest(_ repository: String, tag: String, credentials: (String, String)? = nil) async throws -> String? {
        let accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"
        let (status, headers, _) = try await get("/v2/\(repository)/manifests/\(tag)", method: .HEAD, accept: accept, credentials: credentials)
        return status == 200 ? headers["docker-content-digest"] : nil
    }
}

/// Finds test tools on PATH and in the sbin folders (debootstrap lives in /usr/sbin). In CI (`CI=true`) a missing
/// tool is a test failure, never a skip: the tests call `require`, which throws.
public enum ToolLocator {
    public static func find(_ name: String) -> String? {
        if let found = ProcessRunner.which(name) { return found }
        for directory in ["/usr/local/sbin", "/usr/sbin", "/sbin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        return nil
    }

    /// The tool's path; runs `scripts/setup` once when it is missing, then throws if it still is.
    public static func require(_ name: String) async throws -> String {
        if let found = find(name) { return found }
        _ = try await ProcessRunner.run(URL(fileURLWithPath: "/bin/bash"), [MotoServer.packageRoot.appendingPathComponent("scripts/setup").path])
        if let found = find(name) { return found }
        throw DistributionRegistry.HarnessError.missingTool(name)
    }
}
