import AsyncHTTPClient
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A `moto_server` this test process started: on a free 127.0.0.1 port, waited for, stopped by PID.
/// Installs moto with `scripts/setup` when `moto_server` is missing.
final class MotoServer: @unchecked Sendable {
    let port: Int
    let pid: Int32
    let url: URL
    private let process: Process

    enum HarnessError: Error, CustomStringConvertible {
        case notFound, didNotStart(String), request(String)
        var description: String {
            switch self {
            case .notFound: return "moto_server not found, and scripts/setup did not install it"
            case .didNotStart(let detail): return "moto_server did not start: \(detail)"
            case .request(let detail): return "moto admin request failed: \(detail)"
            }
        }
    }

    /// Starts a server and waits until it answers (30 s at most).
    static func start() async throws -> MotoServer {
        let executable = try locateMotoServer()
        var lastError = ""
        for _ in 0..<3 {
            let port = try freeLoopbackPort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
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
            server.stop()
        }
        throw HarnessError.didNotStart(lastError)
    }

    /// At most this many servers run at once (the machine is small and shared).
    static let slots = AsyncSlots(3)

    /// Runs `body` with a fresh server and always stops it afterwards.
    static func with<T: Sendable>(_ body: (MotoServer) async throws -> T) async throws -> T {
        await slots.acquire()
        let server: MotoServer
        do {
            server = try await start()
        } catch {
            await slots.release()
            throw error
        }
        defer { Task { await slots.release() } }
        do {
            let result = try await body(server)
            server.stop()
            return result
        } catch {
            server.stop()
            throw error
        }
    }

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
        self.pid = process.processIdentifier
        self.url = URL(string: "http://127.0.0.1:\(port)")!
    }

    /// Sends SIGTERM to the server's PID and waits for it to exit (SIGKILL after 5 s).
    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL); process.waitUntilExit() }
    }

    var isRunning: Bool { process.isRunning }

    /// `POST /moto-api/reset`: forgets every resource.
    func reset() async throws {
        _ = try await admin("/moto-api/reset", body: "", contentType: "application/json")
    }

    /// `POST /moto-api/reset-auth` (text/plain): `0` enforces IAM from now on, `inf` turns it off.
    func resetAuth(_ value: String) async throws {
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
    /// once here, with a generous timeout, rather than in the tests' per-attempt timeouts.
    private func warmUp() async {
        let registry = Fixtures.registry(endpoint: url, authorizer: Fixtures.motoAuthorizer, maxAttempts: 1, requestTimeout: 120)
        _ = try? await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil)
    }

    /// The `moto_server` executable, installing it with `scripts/setup` when missing.
    static func locateMotoServer() throws -> String {
        if let found = which("moto_server") { return found }
        let setup = packageRoot.appendingPathComponent("scripts/setup").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [setup]
        try process.run()
        process.waitUntilExit()
        if let found = which("moto_server") { return found }
        throw HarnessError.notFound
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    private static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Asks the kernel for a free port on 127.0.0.1 (bind to port 0, read it back, close).
    static func freeLoopbackPort() throws -> Int {
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

/// A counting semaphore for async code.
actor AsyncSlots {
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = count }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            free += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
