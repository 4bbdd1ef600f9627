import AsyncHTTPClient
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A moto server this test process started: on a free 127.0.0.1 port, waited for, stopped by PID, and gone by
/// itself when this process ends (Tests/Oracles/parent_watch.py), so a crashed test run leaves no server behind.
/// Installs moto with `scripts/setup` when `moto_server` is missing. Shared by every test target that talks to moto.
public final class MotoServer: @unchecked Sendable {
    public let port: Int
    public let pid: Int32
    public let url: URL
    private let process: Process

    public enum HarnessError: Error, CustomStringConvertible {
        case notFound, didNotStart(String), request(String)
        public var description: String {
            switch self {
            case .notFound: return "moto_server not found, and scripts/setup did not install it"
            case .didNotStart(let detail): return "moto_server did not start: \(detail)"
            case .request(let detail): return "moto admin request failed: \(detail)"
            }
        }
    }

    /// Starts a server and waits until it answers (60 s at most, three attempts).
    public static func start() async throws -> MotoServer {
        _ = try await locateMotoServer()
        var lastError = ""
        for _ in 0..<3 {
            let port = try freeLoopbackPort()
            let process = Process()
            // moto's server under Tests/Oracles/parent_watch.py: it exits when this process does, even on a crash.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [ProcessInfo.processInfo.environment["MIR_PYTHON"] ?? "python3",
                                 packageRoot.appendingPathComponent("Tests/Oracles/parent_watch.py").path,
                                 "-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)]
            process.standardOutput = FileHandle.nullDevice
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("moto-\(port)-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
            try process.run()
            let server = MotoServer(port: port, process: process)
            if await server.waitUntilReady(timeout: 60) {
                await server.warmUp()
                return server
            }
            lastError = (try? String(contentsOf: log, encoding: .utf8)).map { String($0.suffix(500)) } ?? "no log"
            await server.stop()
        }
        throw HarnessError.didNotStart(lastError)
    }

    /// At most this many servers run at once (the machine is small and shared).
    static let slots = ProcessSlots(3)

    /// Runs `body` with a fresh server and always stops it afterwards.
    public static func with<T: Sendable>(_ body: (MotoServer) async throws -> T) async throws -> T {
        await slots.acquire()
        let server: MotoServer
        do {
            server = try await start()
        } catch {
            await slots.release()
            throw error
        }
        let result: Result<T, any Error>
        do { result = .success(try await body(server)) } catch { result = .failure(error) }
        await server.stop()
        await slots.release()
        return try result.get()
    }

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
        self.pid = process.processIdentifier
        self.url = URL(string: "http://127.0.0.1:\(port)")!
    }

    /// Sends SIGTERM to the server's PID and waits for it to exit (SIGKILL after 5 s). Waits by polling with
    /// `Task.sleep`, so it never blocks a thread of the cooperative pool.
    public func stop() async {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        if await waitForExit(within: .seconds(5)) { return }
        kill(pid, SIGKILL)
        _ = await waitForExit(within: .seconds(10))
    }

    private func waitForExit(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning && ContinuousClock.now < deadline {
            // Not `try?`-and-loop on cancellation: a cancelled task still waits for the child, boundedly.
            do { try await Task.sleep(for: .milliseconds(20)) } catch { await Task.yield() }
        }
        return !process.isRunning
    }

    public var isRunning: Bool { process.isRunning }

    /// `POST /moto-api/reset`: forgets every resource.
    public func reset() async throws {
        _ = try await admin("/moto-api/reset", body: "", contentType: "application/json")
    }

    /// `POST /moto-api/reset-auth` (text/plain): `0` enforces IAM from now on, `inf` turns it off.
    public func resetAuth(_ value: String) async throws {
        let answer = try await admin("/moto-api/reset-auth", body: value, contentType: "text/plain")
        guard answer.contains("\"ok\"") else { throw HarnessError.request("reset-auth answered \(answer)") }
    }

    private func admin(_ path: String, body: String, contentType: String) async throws -> String {
        var request = HTTPClientRequest(url: url.absoluteString + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status.code == 200 else { throw HarnessError.request("\(path): HTTP \(response.status.code) \(text.prefix(200))") }
        return text
    }

    private func waitUntilReady(timeout: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { return false }
            var request = HTTPClientRequest(url: url.absoluteString + "/moto-api/data.json")
            request.method = .GET
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status.code == 200 {
                _ = try? await response.body.collect(upTo: 16 << 20)
                return true
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// moto imports a service's backend on its first request, which takes seconds on a loaded machine: pay that
    /// once here, with a generous timeout, rather than in the tests' per-attempt timeouts. An ECR
    /// DescribeRepositories with a SigV4-shaped Authorization header: moto routes unsigned requests to S3, and
    /// does not check signatures unless IAM is enforced.
    private func warmUp() async {
        var request = HTTPClientRequest(url: url.absoluteString + "/")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-amz-json-1.1")
        request.headers.add(name: "X-Amz-Target", value: "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories")
        request.headers.add(name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=00")
        request.body = .bytes(ByteBuffer(string: "{}"))
        if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(120)) {
            _ = try? await response.body.collect(upTo: 16 << 20)
        }
    }

    /// The `moto_server` executable, installing moto with `scripts/setup` (off the cooperative pool) when missing.
    static func locateMotoServer() async throws -> String {
        if let found = ProcessRunner.which("moto_server") { return found }
        _ = try await ProcessRunner.run(URL(fileURLWithPath: "/bin/bash"), [packageRoot.appendingPathComponent("scripts/setup").path])
        if let found = ProcessRunner.which("moto_server") { return found }
        throw HarnessError.notFound
    }

    /// The package's root directory (this file is Sources/MirTestSupport/MotoServer.swift).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Asks the kernel for a free port on 127.0.0.1 (bind to port 0, read it back, close).
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError.didNotStart("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw HarnessError.didNotStart("bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
