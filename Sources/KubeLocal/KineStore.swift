// The local control plane's storage: one revision-keyed SQLite table, after k3s's kine (github.com/k3s-io/kine).
import Foundation
import GRDB

/// One row of the revision log: a version of one object, or its deletion (a tombstone carrying the last state).
struct KineRow: Sendable, Equatable {
    /// The global revision of this write: the object's `metadata.resourceVersion`.
    var revision: Int
    /// `/group/resource/namespace/name` (`/group/resource/name` when cluster-scoped; group `core` for the legacy group).
    var key: String
    var deleted: Bool
    /// The revision that created this incarnation of the object.
    var createRevision: Int
    /// The revision this write superseded (0 for a create).
    var prevRevision: Int
    /// When the object expires (Unix seconds), for kinds with a time to live (Events).
    var expires: Double?
    /// The object as JSON.
    var value: Data
    /// The superseded version's JSON (filled by `changes`, for watch selector transitions).
    var previousValue: Data? = nil

    var created: Bool { createRevision == revision }
}

/// What the store did, counted by SQLite itself (`total_changes`) and by the bytes handed to it.
public struct StorageStatistics: Sendable, Equatable, CustomStringConvertible {
    /// Rows inserted, updated or deleted (SQLite's `sqlite3_total_changes`).
    public var rowsTouched = 0
    /// Bytes of object values written.
    public var valueBytesWritten = 0
    /// Rows appended (one per write of an object).
    public var appends = 0
    /// Rows removed by compaction.
    public var compactedRows = 0
    /// Rows read by lists at a revision (each is decoded by the caller).
    public var rowsListed = 0
    /// Rows read by revision (current objects: gets, and lists at the current revision).
    public var rowsRead = 0

    public var description: String {
        "\(appends) appends, \(rowsTouched) rows touched, \(valueBytesWritten) value bytes, \(compactedRows) compacted"
    }
}

/// Errors of the store, naming the operation.
enum KineError: Error, CustomStringConvertible {
    /// The revision asked for is older than the compaction revision.
    case compacted(requested: Int, compactRevision: Int)
    case storage(operation: String, path: String, reason: String)

    var description: String {
        switch self {
        case .compacted(let r, let c): return "revision \(r) is compacted (oldest kept: \(c))"
        case .storage(let op, let path, let reason): return "\(op) \(path): \(reason)"
        }
    }
}

/// A revision-keyed log of objects in SQLite, as kine keeps Kubernetes' objects for k3s.
///
/// Every write appends one row (revision, key, deleted flag, create revision, previous revision, value): a write costs
/// O(object), whatever the number of stored objects. Listing at a revision takes, per key, the newest row at or below
/// it; watching from a revision reads the rows after it. Compaction keeps a window of `window` revisions: it removes the
/// rows superseded at or before the compaction revision and the tombstones at or before it, so any revision inside the
/// window can still be listed and watched from, and older ones get `compacted` (HTTP 410 Expired). Compaction runs with
/// each append and touches only the rows that leave the window.
///
/// The file is opened in SQLite's exclusive locking mode: a second process opening the same state fails at once.
/// Not thread-safe by itself: `ClusterState` (an actor) owns it.
final class KineStore {
    private let db: DatabaseQueue
    /// Where the database lives (`:memory:` without a file).
    let path: String
    /// How many revisions compaction keeps.
    let window: Int
    private(set) var currentRevision = 0
    /// Revisions at or below this one may be gone; lists at and watches from them get 410.
    private(set) var compactRevision = 0
    private var valueBytesWritten = 0
    private var appends = 0
    private var compactedRows = 0
    private var rowsListed = 0
    private var rowsRead = 0
    /// Rows touched as of the close (SQLite's counter goes with the connection).
    private var closedRowsTouched: Int?

    static let schemaVersion = 1

    /// Opens (creating when missing, mode 0600) the database at `url`, or an in-memory one when `url` is nil.
    init(url: URL?, window: Int) throws {
        precondition(window >= 1, "the compaction window keeps at least one revision")
        self.window = window
        var configuration = Configuration()
        configuration.label = "mir.kine"
        do {
            if let url {
                path = url.path
                try Self.prepareFile(url)
                configuration.journalMode = .wal
                configuration.prepareDatabase { db in
                    try db.execute(sql: "PRAGMA synchronous = NORMAL")
                    _ = try String.fetchOne(db, sql: "PRAGMA locking_mode = EXCLUSIVE")
                }
                db = try DatabaseQueue(path: url.path, configuration: configuration)
            } else {
                path = ":memory:"
                db = try DatabaseQueue(configuration: configuration)
            }
            try db.write { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS kine (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        deleted INTEGER NOT NULL,
                        create_revision INTEGER NOT NULL,
                        prev_revision INTEGER NOT NULL,
                        expires REAL,
                        value BLOB NOT NULL
                    );
                    CREATE INDEX IF NOT EXISTS kine_name_id ON kine (name, id);
                    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                    INSERT INTO meta (key, value) VALUES ('schema', \(Self.schemaVersion)) ON CONFLICT (key) DO NOTHING;
                    """)
                let schema = try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema'") ?? 0
                guard schema == Self.schemaVersion else {
                    throw KineError.storage(operation: "opening", path: path, reason: "unknown schema version \(schema)")
                }
                compactRevision = try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'compact_revision'") ?? 0
                currentRevision = max(try Int.fetchOne(db, sql: "SELECT MAX(id) FROM kine") ?? 0, compactRevision)
            }
            if let url { try Self.restrictModes(url) }
        } catch let error as KineError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw KineError.storage(operation: "opening", path: url?.path ?? ":memory:",
                                    reason: "the database is in use by another process (another `mir dev` on the same state directory?)")
        } catch {
            throw KineError.storage(operation: "opening", path: url?.path ?? ":memory:", reason: "\(error)")
        }
        // A smaller window than the last run's compacts now.
        try compactIfNeeded()
    }

    /// Creates the database file with mode 0600 before SQLite does (SQLite gives its WAL and shared-memory files the
    /// database file's mode), and tightens an existing one.
    private static func prepareFile(_ url: URL) throws {
        let fm = FileManager.default
        if !fm.fileExists(atPath: url.path) {
            guard fm.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw KineError.storage(operation: "creating", path: url.path, reason: "cannot create the file")
            }
        }
        try restrictModes(url)
    }

    private static func restrictModes(_ url: URL) throws {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let path = url.path + suffix
            guard FileManager.default.fileExists(atPath: path) else { continue }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        }
    }

    /// Closes the database (a later open of the same file then succeeds).
    func close() {
        guard closedRowsTouched == nil else { return }
        closedRowsTouched = db.inDatabase { $0.totalChangesCount }
        try? db.close()
    }

    private func ensureOpen(_ operation: String) throws {
        if closedRowsTouched != nil { throw KineError.storage(operation: operation, path: path, reason: "the database is closed") }
    }

    var statistics: StorageStatistics {
        StorageStatistics(rowsTouched: closedRowsTouched ?? db.inDatabase { $0.totalChangesCount }, valueBytesWritten: valueBytesWritten,
                          appends: appends, compactedRows: compactedRows, rowsListed: rowsListed, rowsRead: rowsRead)
    }

    // MARK: Writes

    /// Appends one row at `currentRevision + 1` and compacts what leaves the window, in one transaction.
    func append(key: String, deleted: Bool, createRevision: Int, prevRevision: Int, expires: Double?, value: Data) throws {
        let revision = currentRevision + 1
        try ensureOpen("writing \(key) to")
        do {
            try db.write { db in
                try db.execute(sql: """
                    INSERT INTO kine (id, name, deleted, create_revision, prev_revision, expires, value) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [revision, key, deleted, createRevision, prevRevision, expires, value])
            }
        } catch {
            throw KineError.storage(operation: "writing \(key) at revision \(revision) to", path: path, reason: "\(error)")
        }
        currentRevision = revision
        valueBytesWritten += value.count
        appends += 1
        try compactIfNeeded()
    }

    /// Stores one object at a given revision, for an import into an empty store (revisions ascending).
    func importRow(revision: Int, key: String, value: Data) throws {
        precondition(revision > currentRevision, "imported revisions ascend")
        do {
            try db.write { db in
                try db.execute(sql: """
                    INSERT INTO kine (id, name, deleted, create_revision, prev_revision, expires, value) VALUES (?, ?, 0, ?, 0, NULL, ?)
                    """, arguments: [revision, key, revision, value])
            }
        } catch {
            throw KineError.storage(operation: "importing \(key) into", path: path, reason: "\(error)")
        }
        currentRevision = revision
        valueBytesWritten += value.count
    }

    /// Ends an import at `revision`: the store's revision, and its compaction revision (no history before it).
    func importFinished(revision: Int) throws {
        currentRevision = max(currentRevision, revision)
        try compact(to: currentRevision)
    }

    /// Compacts up to `currentRevision - window` when that moved.
    private func compactIfNeeded() throws {
        let target = currentRevision - window
        guard target > compactRevision else { return }
        try compact(to: target)
    }

    /// Removes every row superseded at or before `revision`, and every tombstone at or before it: what is left serves
    /// lists at, and watches from, any revision ≥ `revision`.
    func compact(to revision: Int) throws {
        guard revision > compactRevision else { return }
        try ensureOpen("compacting")
        let from = compactRevision
        do {
            let removed = try db.write { db -> Int in
                try db.execute(sql: """
                    DELETE FROM kine WHERE id IN (SELECT prev_revision FROM kine WHERE id > ? AND id <= ? AND prev_revision > 0)
                    """, arguments: [from, revision])
                var removed = db.changesCount
                try db.execute(sql: "DELETE FROM kine WHERE id > ? AND id <= ? AND deleted = 1", arguments: [from, revision])
                removed += db.changesCount
                try db.execute(sql: """
                    INSERT INTO meta (key, value) VALUES ('compact_revision', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """, arguments: [revision])
                return removed
            }
            compactedRows += removed
        } catch {
            throw KineError.storage(operation: "compacting to revision \(revision)", path: path, reason: "\(error)")
        }
        compactRevision = revision
    }

    // MARK: Reads

    /// The rows whose key starts with `prefix`, between `prefix` and the first key that does not.
    private static func range(_ prefix: String) -> (low: String, high: String) {
        // Every key under the prefix sorts after the prefix and before the prefix with its last byte incremented.
        var bytes = Array(prefix.utf8)
        if let last = bytes.popLast() { bytes.append(last &+ 1) }
        return (prefix, String(decoding: bytes, as: UTF8.self))
    }

    private static func row(_ r: Row) -> KineRow {
        KineRow(revision: r["id"], key: r["name"], deleted: r["deleted"], createRevision: r["create_revision"],
                prevRevision: r["prev_revision"], expires: r["expires"], value: r["value"],
                previousValue: r.hasColumn("prev_value") ? r["prev_value"] : nil)
    }

    /// The live objects under `prefix` at `revision` (default: now), sorted by key; only keys after `after` when given,
    /// at most `limit` when given.
    func list(prefix: String, at revision: Int? = nil, after: String? = nil, limit: Int? = nil) throws -> [KineRow] {
        let at = revision ?? currentRevision
        if at < compactRevision { throw KineError.compacted(requested: at, compactRevision: compactRevision) }
        let (low, high) = Self.range(prefix)
        let start = after.map { max(low, $0) } ?? low
        try ensureOpen("listing \(prefix) in")
        do {
            let rows = try db.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT k.* FROM kine AS k
                    JOIN (SELECT MAX(id) AS id FROM kine WHERE name > ? AND name < ? AND id <= ? GROUP BY name) AS latest
                      ON k.id = latest.id
                    WHERE k.deleted = 0 ORDER BY k.name LIMIT ?
                    """, arguments: [start, high, at, limit ?? -1]).map(Self.row)
            }
            rowsListed += rows.count
            return rows
        } catch {
            throw KineError.storage(operation: "listing \(prefix) at revision \(at) in", path: path, reason: "\(error)")
        }
    }

    /// The values of the rows `revisions` (a live object's row is its current version: compaction never removes
    /// it), by revision; a primary-key lookup each, in batches.
    func values(at revisions: [Int]) throws -> [Int: Data] {
        guard !revisions.isEmpty else { return [:] }
        try ensureOpen("reading objects from")
        var values: [Int: Data] = [:]
        values.reserveCapacity(revisions.count)
        do {
            try db.read { db in
                var start = 0
                while start < revisions.count {
                    let batch = revisions[start..<min(start + Self.lookupBatch, revisions.count)]
                    let statement = try db.cachedStatement(sql: batch.count == Self.lookupBatch ? Self.batchLookupSQL
                                                                  : Self.lookupSQL(batch.count))
                    let rows = try Row.fetchCursor(statement, arguments: StatementArguments(Array(batch)))
                    while let row = try rows.next() { values[row[0]] = row[1] }
                    start += batch.count
                }
            }
        } catch {
            throw KineError.storage(operation: "reading \(revisions.count) objects from", path: path, reason: "\(error)")
        }
        rowsRead += revisions.count
        return values
    }

    /// The value of row `revision`, if the row exists.
    func value(at revision: Int) throws -> Data? { try values(at: [revision])[revision] }

    private static let lookupBatch = 256
    private static let batchLookupSQL = lookupSQL(lookupBatch)
    private static func lookupSQL(_ count: Int) -> String {
        "SELECT id, value FROM kine WHERE id IN (" + Array(repeating: "?", count: count).joined(separator: ",") + ")"
    }

    /// The writes under `prefix` after `revision`, oldest first, each with the version it superseded.
    func changes(prefix: String, after revision: Int) throws -> [KineRow] {
        if revision < compactRevision { throw KineError.compacted(requested: revision, compactRevision: compactRevision) }
        let (low, high) = Self.range(prefix)
        try ensureOpen("reading changes of \(prefix) in")
        do {
            return try db.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT k.*, p.value AS prev_value FROM kine AS k LEFT JOIN kine AS p ON p.id = k.prev_revision AND k.prev_revision > 0
                    WHERE k.id > ? AND k.name > ? AND k.name < ? ORDER BY k.id
                    """, arguments: [revision, low, high]).map(Self.row)
            }
        } catch {
            throw KineError.storage(operation: "reading changes of \(prefix) after revision \(revision) in", path: path, reason: "\(error)")
        }
    }

    /// How many rows the table holds (live versions, superseded versions inside the window and tombstones).
    func rowCount() throws -> Int {
        try ensureOpen("counting rows in")
        return try db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM kine") ?? 0 }
    }
}

extension APIError {
    /// The store failed: a 500, naming what failed.
    static func storage(_ error: any Error) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: storage: \(error)")
    }
}
