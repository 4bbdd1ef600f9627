import Foundation
import Subprocess
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A CNCF distribution registry (`docker-registry`, Debian's package) that a mir process runs for itself: listening on
/// 127.0.0.1 only, on the port it used last time when that is free (so image references stay valid across restarts)
/// or else a free one, its config and storage in `stateDirectory`. It stops with `stop()`, and a watcher shell stops
/// it when the mir process that started it dies.
public final class LocalDistributionRegistry: Sendable {
    /// `127.0.0.1:PORT`: the registry part of image references.
    public let host: String
    /// `http://127.0.0.1:PORT`.
    public let baseURL: String
    /// The registry's own log.
    public let logPath: String
    private let task: Task<Void, Never>

    public struct StartFailed: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The `docker-registry` binary on PATH (or in /usr/bin, /usr/sbin), if installed.
    public static func locateBinary(searchPath: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        let directories = (searchPath ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/usr/local/bin"]
        return directories.map { $0 + "/docker-registry" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The config file's text: filesystem storage under `storage`, deletes enabled, `127.0.0.1:port` only.
    public static func config(storage: String, port: Int) -> String {
        """
        version: 0.1
        log:
          level: warn
          accesslog: {disabled: true}
        storage:
          filesystem: {rootdirectory: "\(storage)"}
          delete: {enabled: true}
        http:
          addr: 127.0.0.1:\(port)

        """
    }

    public static func start(binary: String, stateDirectory: String) async throws -> LocalDistributionRegistry {
        let folder = URL(fileURLWithPath: stateDirectory).appendingPathComponent("oci-registry")
        let storage = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: storage, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let portFile = folder.appendingPathComponent("port")
        let remembered = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let logPath = folder.appendingPathComponent("registry.log").path
        var lastError = ""
        for attempt in 0..<3 {
            let port: Int
            if attempt == 0, let remembered, isFree(port: remembered) { port = remembered } else { port = try freePort() }
            let configFile = folder.appendingPathComponent("config.yml")
            try Data(config(storage: storage.path, port: port).utf8).write(to: configFile)
            let registry = LocalDistributionRegistry(port: port, logPath: logPath,
                                                     task: launch(binary: binary, config: configFile.path, logPath: logPath))
            if await registry.waitUntilListening() {
                try? Data("\(port)\n".utf8).write(to: portFile)
                return registry
            }
            await registry.stop()
            lastError = String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(600))
        }
        throw StartFailed(description: "docker-registry did not start (log \(logPath)): \(lastError)")
    }

    private init(port: Int, logPath: String, task: Task<Void, Never>) {
        host = "127.0.0.1:\(port)"
        baseURL = "http://127.0.0.1:\(port)"
        self.logPath = logPath
        self.task = task
    }

    /// Stops the registry (SIGTERM to its process group) and waits for it.
    public func stop() async {
        task.cancel()
        await task.value
    }

    /// The registry runs under a watcher shell in a session of its own: cancelling the task sends SIGTERM to the
    /// group; the shell also ends the registry when the process that started it is gone.
    private static func launch(binary: String, config: String, logPath: String) -> Task<Void, Never> {
        let watcher = """
            exec >>"$3" 2>&1
            "$0" serve "$1" & r=$!
            trap 'kill $r 2>/dev/null; wait $r; exit 0' TERM INT
            while kill -0 "$2" 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 1; done
            kill $r 2>/dev/null
            """
        let parent = String(getpid())
        return Task {
            var options = PlatformOptions()
            options.createSession = true
            options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(5))]
            _ = try? await Subprocess.run(
                .path(FilePath("/bin/sh")), arguments: Arguments(["-c", watcher, binary, config, parent, logPath]),
                platformOptions: options, input: .none, output: .discarded, error: .discarded
            ) { _ in
                // Runs until cancelled; then the teardown sequence stops the group.
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            }
        }
    }

    private func waitUntilListening() async -> Bool {
        guard let port = Int(host.split(separator: ":").last ?? "") else { return false }
        for _ in 0..<150 {
            if Self.accepts(port: port) { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    // MARK: Loopback sockets

    static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Whether something accepts connections on 127.0.0.1:port.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Whether 127.0.0.1:port can be bound now.
    static func isFree(port: Int) -> Bool {
        guard (1...65535).contains(port) else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// A port the kernel picks as free on 127.0.0.1.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartFailed(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw StartFailed(description: "bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
