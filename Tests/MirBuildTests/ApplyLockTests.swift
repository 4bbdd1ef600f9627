import Foundation
import MirBuild
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Problem 7 of issue 8: one `mir apply` at a time per state directory; the second says who holds the lock (from
/// /proc/locks: the lock file itself stays empty).
@Suite struct ApplyLockTests {
    @Test func aSecondHolderIsRefusedWithTheHolderNamed() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await ApplyLock.acquire(directory: directory)
        do {
            _ = try await ApplyLock.acquire(directory: directory)
            Issue.record("a second lock was granted")
        } catch let busy as ApplyLockBusy {
            #expect(busy.holderPID == getpid())
            #expect(busy.holderSince != nil)
            #expect(busy.description.hasPrefix("another mir apply (pid \(getpid()) since \(busy.holderSince!)) holds \(directory)"), "\(busy)")
        }
        first.release()
        let again = try await ApplyLock.acquire(directory: directory)
        again.release()
    }

    @Test func aWaiterGetsTheLockWhenTheHolderReleasesIt() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await ApplyLock.acquire(directory: directory)
        let releaser = Task {
            try await Task.sleep(for: .milliseconds(300))
            first.release()
        }
        let second = try await ApplyLock.acquire(directory: directory, timeout: .seconds(60), poll: .milliseconds(20))
        second.release()
        try await releaser.value
        // With a timeout that passes, the waiter gives up and says how long it waited.
        let third = try await ApplyLock.acquire(directory: directory)
        await #expect(throws: ApplyLockBusy.self) { _ = try await ApplyLock.acquire(directory: directory, timeout: .milliseconds(200)) }
        third.release()
    }

    @Test func aKilledHolderReleasesTheLock() async throws {
        let python = try #require(python3Path, "python3 is installed by scripts/setup")
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Another process takes the lock the way mir does (flock) and writes its pid, then sleeps.
        let program = """
            import fcntl,os,sys,time
            f=open(sys.argv[1]+'/apply.lock','a+')
            fcntl.flock(f,fcntl.LOCK_EX)
            f.truncate(0); f.write('pid %d\\nsince 2026-01-01T00:00:00Z\\n' % os.getpid()); f.flush()
            print('locked', flush=True)
            time.sleep(600)
            """
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: python)
        holder.arguments = ["-c", program, directory]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        #expect(line.hasPrefix("locked"))
        do {
            _ = try await ApplyLock.acquire(directory: directory)
            Issue.record("granted while another process holds it")
        } catch let busy as ApplyLockBusy {
            #expect(busy.holderPID == holder.processIdentifier)
            #expect(busy.description.contains("another mir apply (pid \(holder.processIdentifier) since \(busy.holderSince ?? "?")) holds \(directory)"), "\(busy)")
            #expect(busy.holderSince != nil)
        }
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        let lock = try await ApplyLock.acquire(directory: directory, timeout: .seconds(10))
        lock.release()
    }
}
