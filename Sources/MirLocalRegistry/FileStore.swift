import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem with the files of the local registry (unreadable, corrupt, I/O failure).
struct StorageFailure: Error, CustomStringConvertible {
    var description: String
}

/// The on-disk state of a local registry, in one directory:
///
/// - `lock`: every operation holds `flock(2)` on it (shared for reads, exclusive for writes), so several
///   processes may use the directory at once.
/// - `snapshot.json`: the full state, replaced atomically (temp file, fsync, rename, fsync directory): a header line,
///   then one repository per line, read and written a record at a time (format 1, one JSON document, is still read).
/// - `journal-<generation>.log`: one JSON line per change made after that snapshot, each appended and
///   fsynced before the operation returns. A line cut short by a crash is discarded (the operation never
///   returned success) and truncated away by the next writer. When the journal outgrows the snapshot,
///   it is folded into a new snapshot of the next generation.
///
/// A state that cannot be read is an error, never taken as empty. Decoded state is cached and kept
/// current by reading only the journal's new lines, so an operation costs O(change), not O(registry).
final class FileStore: Sendable {
    let directory: String
    private let cache = Mutex<Cache?>(nil)
    /// Fold the journal into a snapshot once it is larger than this and than the snapshot.
    private let compactionThreshold: Int
    private let statistics = Mutex(StorageStatistics())
    /// The file I/O this store did so far.
    var io: StorageStatistics { statistics.withLock { $0 } }

    private struct Cache: Sendable {
        var snapshotIdentity: FileIdentity?
        var snapshotSize: Int
        var generation: Int
        /// Bytes of the journal applied to `state` (always at a line boundary).
        var journalOffset: Int
        var state: RegistryState
    }

    private var lockPath: String { directory + "/lock" }
    private var snapshotPath: String { directory + "/snapshot.json" }
    private func journalPath(_ generation: Int) -> String { directory + "/journal-\(generation).log" }

    init(directory: String, compactionThreshold: Int = 1 << 20) throws {
        self.directory = directory
        self.compactionThreshold = compactionThreshold
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StorageFailure(description: "cannot create the registry directory '\(directory)': \(error.localizedDescription)")
        }
        // Temporary snapshot files of killed writers (a snapshot is only written under the exclusive lock).
        try withFileLock(exclusive: true) { removeTemporaryFiles() }
    }

    /// Removes `snapshot.json.tmp-*` files; only called under the exclusive lock.
    private func removeTemporaryFiles() {
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasPrefix("snapshot.json.tmp-") {
            unlink(directory + "/" + file)
        }
    }

    /// Runs `body` on the current state under a shared lock.
    func read<T: Sendable>(_ body: (RegistryState) throws -> T) throws -> T {
        try cache.withLock { cache in
            try withFileLock(exclusive: false) {
                _ = try refresh(&cache)
                return try body(cache!.state)
            }
        }
    }

    /// Runs `body` on the current state under an exclusive lock; the journal entry it returns (if any) is
    /// made durable and applied before this returns.
    func write<T: Sendable>(_ body: (RegistryState) throws -> (T, JournalEntry?)) throws -> T {
        try cache.withLock { cache in
            try withFileLock(exclusive: true) {
                let hasPartialTail = try refresh(&cache)
                let (result, entry) = try body(cache!.state)
                guard let entry else { return result }
                if hasPartialTail { try truncateJournal(generation: cache!.generation, to: cache!.journalOffset) }
                try append(entry, to: &cache!)
                if cache!.journalOffset > max(compactionThreshold, cache!.snapshotSize) {
                    try compact(&cache!)
                }
                return result
            }
        }
    }

    // MARK: - Locking

    private func withFileLock<T>(exclusive: Bool, _ body: () throws -> T) throws -> T {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw posixFailure("cannot open the lock file '\(lockPath)'") }
        defer { close(fd) }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            if errno != EINTR { throw posixFailure("cannot lock '\(lockPath)'") }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }

    // MARK: - Reading

    /// Brings the cache up to date with the files. Returns whether the journal ends in a partial line.
    private func refresh(_ cache: inout Cache?) throws -> Bool {
        let identity = FileIdentity(path: snapshotPath)
        if cache == nil || cache!.snapshotIdentity != identity {
            cache = try loadSnapshot(identity: identity)
        }
        return try readJournalTail(&cache!)
    }

    private func loadSnapshot(identity: FileIdentity?) throws -> Cache {
        guard let identity else {
            // No snapshot: a new registry, unless journals of later generations show that one was lost.
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            if let orphan = files.first(where: { $0.hasPrefix("journal-") && $0 != "journal-0.log" }) {
                throw StorageFailure(description: "'\(snapshotPath)' is missing but '\(orphan)' exists; refusing to treat the registry as empty")
            }
            return Cache(snapshotIdentity: nil, snapshotSize: 0, generation: 0, journalOffset: 0, state: RegistryState())
        }
        guard let data = try readFile(snapshotPath, from: 0) else {
            throw StorageFailure(description: "'\(snapshotPath)' vanished while being read")
        }
        let decoder = JSONDecoder()
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        let header: SnapshotHeader
        let state: RegistryState
        do {
            header = try decoder.decode(SnapshotHeader.self, from: lines.first ?? Data())
            switch header.format {
            case 1:
                state = RegistryState(snapshot: try decoder.decode(Snapshot.self, from: data))
            case Snapshot.currentFormat:
                var loaded = RegistryState(nextSeq: header.nextSeq)
                for line in lines.dropFirst() { loaded.apply(.put(try decoder.decode(RepositoryRecord.self, from: line))) }
                state = loaded
            default:
                throw StorageFailure(description: "'\(snapshotPath)' has format \(header.format); this mir reads formats 1 and \(Snapshot.currentFormat)")
            }
        } catch let failure as StorageFailure {
            throw failure
        } catch {
            throw StorageFailure(description: "'\(snapshotPath)' is corrupt (\(error)); refusing to treat the registry as empty")
        }
        return Cache(snapshotIdentity: identity, snapshotSize: data.count, generation: header.generation,
                     journalOffset: 0, state: state)
    }

    private func readJournalTail(_ cache: inout Cache) throws -> Bool {
        let path = journalPath(cache.generation)
        guard let data = try readFile(path, from: cache.journalOffset) else {
            if cache.journalOffset == 0 { return false }
            throw StorageFailure(description: "'\(path)' disappeared while in use; refusing to continue")
        }
        var lineStart = data.startIndex
        var lineNumber = 0
        while let newline = data[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
            lineNumber += 1
            let line = data[lineStart..<newline]
            let entry: JournalEntry
            do {
                entry = try JSONDecoder().decode(JournalEntry.self, from: line)
            } catch {
                throw StorageFailure(description: "'\(path)' has a corrupt entry at byte \(cache.journalOffset) (\(error)); refusing to continue")
            }
            cache.state.apply(entry)
            cache.journalOffset += line.count + 1
            lineStart = data.index(after: newline)
        }
        return lineStart < data.endIndex
    }

    /// The bytes of a file from an offset; nil when the file does not exist.
    private func readFile(_ path: String, from offset: Int) throws -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw posixFailure("cannot open '\(path)'")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw posixFailure("cannot stat '\(path)'") }
        let size = Int(info.st_size)
        guard size >= offset else {
            throw StorageFailure(description: "'\(path)' is shorter (\(size) bytes) than already read (\(offset)); refusing to continue")
        }
        var data = Data(count: size - offset)
        var done = 0
        defer { statistics.withLock { $0.bytesRead += done } }
        try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            while done < buffer.count {
                let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if n < 0 { if errno == EINTR { continue }; throw posixFailure("cannot read '\(path)'") }
                if n == 0 { break }
                done += n
            }
        }
        return data.prefix(done)
    }

    // MARK: - Writing

    private func truncateJournal(generation: Int, to offset: Int) throws {
        let path = journalPath(generation)
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw posixFailure("cannot open '\(path)'") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(offset)) == 0, fsync(fd) == 0 else { throw posixFailure("cannot truncate '\(path)'") }
    }

    private func append(_ entry: JournalEntry, to cache: inout Cache) throws {
        var line = try JSONEncoder().encode(entry)
        line.append(UInt8(ascii: "\n"))
        let path = journalPath(cache.generation)
        let isNew = cache.journalOffset == 0 && FileIdentity(path: path) == nil
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw posixFailure("cannot open '\(path)'") }
        defer { close(fd) }
        try writeAll(fd, line, path: path)
        guard fsync(fd) == 0 else { throw posixFailure("cannot fsync '\(path)'") }
        statistics.withLock { $0.journalAppends += 1 }
        if isNew { try fsyncDirectory() }
        cache.state.apply(entry)
        cache.journalOffset += line.count
    }

    /// Writes the whole state as the snapshot of the next generation and drops the old journal.
    private func compact(_ cache: inout Cache) throws {
        let generation = cache.generation + 1
        let encoder = JSONEncoder()
        var data = try encoder.encode(SnapshotHeader(format: Snapshot.currentFormat, generation: generation, nextSeq: cache.state.nextSeq))
        data.append(UInt8(ascii: "\n"))
        for record in cache.state.records {
            data.append(try encoder.encode(record))
            data.append(UInt8(ascii: "\n"))
        }
        try writeAtomically(data, to: snapshotPath)
        statistics.withLock { $0.snapshotsWritten += 1 }
        let oldJournal = journalPath(cache.generation)
        cache.generation = generation
        cache.journalOffset = 0
        cache.snapshotSize = data.count
        cache.snapshotIdentity = FileIdentity(path: snapshotPath)
        unlink(oldJournal)
        removeLeftovers(keepingGeneration: generation)
    }

    /// temp file → write → fsync → rename → fsync directory. A crash at any point leaves either the old or
    /// the new file in place, plus at most a stray temp file.
    func writeAtomically(_ data: Data, to path: String) throws {
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw posixFailure("cannot create '\(temp)'") }
        do {
            try writeAll(fd, data, path: temp)
            guard fsync(fd) == 0 else { throw posixFailure("cannot fsync '\(temp)'") }
            close(fd)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            let failure = posixFailure("cannot rename '\(temp)' to '\(path)'")
            unlink(temp)
            throw failure
        }
        try fsyncDirectory()
    }

    /// Stray temp files and journals of older generations (left by crashes); only called under the exclusive lock.
    private func removeLeftovers(keepingGeneration generation: Int) {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for file in files {
            let isTemp = file.hasPrefix("snapshot.json.tmp-")
            let isOldJournal = file.hasPrefix("journal-") && file != "journal-\(generation).log"
            if isTemp || isOldJournal { unlink(directory + "/" + file) }
        }
    }

    private func writeAll(_ fd: Int32, _ data: Data, path: String) throws {
        statistics.withLock { $0.bytesWritten += data.count }
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var done = 0
            while done < buffer.count {
                let n = Foundation.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 { if errno == EINTR { continue }; throw posixFailure("cannot write '\(path)'") }
                done += n
            }
        }
    }

    private func fsyncDirectory() throws {
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw posixFailure("cannot open '\(directory)'") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw posixFailure("cannot fsync '\(directory)'") }
    }

    private func posixFailure(_ what: String) -> StorageFailure {
        StorageFailure(description: "\(what): \(String(cString: strerror(errno)))")
    }
}

/// Identifies one version of a file: a rename puts a new inode in place, a rewrite changes size or mtime.
struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if os(Linux)
        modifiedSeconds = Int(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
        #else
        modifiedSeconds = Int(info.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int(info.st_mtimespec.tv_nsec)
        #endif
    }
}

/// The file I/O of an embedded registry (this process's), to measure what operations cost.
public struct StorageStatistics: Sendable, Equatable {
    /// Bytes read from the snapshot and journals.
    public var bytesRead = 0
    /// Bytes written to journals and snapshots.
    public var bytesWritten = 0
    /// Changes appended (and fsynced) to the journal.
    public var journalAppends = 0
    /// Snapshots written (compactions).
    public var snapshotsWritten = 0
}
