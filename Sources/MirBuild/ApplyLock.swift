import Foundation
import MirModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Another process holds the apply lock.
public struct ApplyLockBusy: Error, Sendable, Hashable, CustomStringConvertible {
    /// The directory whose lock is held.
    public var directory: String
    /// The holder's pid and start time as it wrote them (nil when the lock file had no readable holder yet).
    public var holderPID: Int32?
    public var holderSince: String?
    /// How long this process waited.
    public var waited: Duration

    public var description: String {
        let holder = holderPID.map { "pid \($0)\(holderSince.map { " since \($0)" } ?? "")" } ?? "pid unknown"
        let seconds = Double(waited.components.seconds) + Double(waited.components.attoseconds) / 1e18
        let wait = waited > .zero ? " (waited \(String(format: "%.1f", seconds)) s)" : ""
        return "another mir apply (\(holder)) holds \(directory)\(wait); wait for it to finish, or give --lock-timeout to wait"
    }
}

/// A failure to open or lock the lock file itself.
public struct ApplyLockError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "cannot lock \(path): \(message)" }
}

/// One `mir apply` at a time per directory (a state directory, a local registry): an exclusive `flock(2)` on
/// `<directory>/apply.lock`, which the kernel releases when the holder exits or is killed. The file stays empty (a
/// registry directory's content does not change by being locked); a waiting process finds the holder's pid in
/// `/proc/locks` and its start time in `/proc/PID/stat`.
public final class ApplyLock: @unchecked Sendable {
    public let directory: String
    public let path: String
    private var fd: Int32

    private init(directory: String, path: String, fd: Int32) {
        self.directory = directory
        self.path = path
        self.fd = fd
    }

    deinit { release() }

    /// Takes the lock of `directory` (created if missing), waiting up to `timeout` (zero: fail at once), polling
    /// every `poll`. Throws `ApplyLockBusy` naming the holder when it stays held.
    public static func acquire(directory: String, timeout: Duration = .zero, poll: Duration = .milliseconds(100)) async throws -> ApplyLock {
        let path = (directory as NSString).appendingPathComponent("apply.lock")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ApplyLockError(path: path, message: "\(error)")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ApplyLockError(path: path, message: String(cString: strerror(errno))) }
        let clock = ContinuousClock()
        let start = clock.now
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { break }
            let failure = errno
            guard failure == EWOULDBLOCK || failure == EINTR else {
                close(fd)
                throw ApplyLockError(path: path, message: String(cString: strerror(failure)))
            }
            let waited = clock.now - start
            if waited >= timeout {
                let holder = Self.holder(fd: fd)
                close(fd)
                throw ApplyLockBusy(directory: directory, holderPID: holder.pid, holderSince: holder.since,
                                    waited: timeout > .zero ? waited : .zero)
            }
            do { try await Task.sleep(for: min(poll, timeout - waited)) } catch {
                close(fd)
                throw error
            }
        }
        return ApplyLock(directory: directory, path: path, fd: fd)
    }

    /// Gives the lock up (also done on deinit, and by the kernel when the process dies).
    public func release() {
        guard fd >= 0 else { return }
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    /// The pid holding a `flock` on the file of `fd` (from `/proc/locks`, matched by inode) and its start time.
    static func holder(fd: Int32) -> (pid: Int32?, since: String?) {
        var info = stat()
        guard fstat(fd, &info) == 0, let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return (nil, nil) }
        let inode = String(info.st_ino)
        for line in locks.split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF"
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK", fields[5].split(separator: ":").last.map(String.init) == inode,
                  let pid = Int32(fields[4]) else { continue }
            return (pid, startTime(pid: pid).map { ISO8601DateFormatter().string(from: $0) })
        }
        return (nil, nil)
    }

    /// When `pid` started: its start time in clock ticks after boot (`/proc/PID/stat`) plus the boot time (`/proc/stat`).
    static func startTime(pid: Int32) -> Date? {
        guard let ticks = LocalProcessesStart.ticks(pid: pid),
              let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) else { return nil }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard hz > 0 else { return nil }
        return Date(timeIntervalSince1970: boot + Double(ticks) / hz)
    }
}

enum LocalProcessesStart {
    static func ticks(pid: Int32) -> UInt64? {
        LocalProcesses.startToken(pid: pid).flatMap { UInt64($0) }
    }
}
