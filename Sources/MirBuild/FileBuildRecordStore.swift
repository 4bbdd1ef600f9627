import Foundation
import MirModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed build-record store operation, naming the operation and the file.
public struct BuildRecordStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var message: String

    public init(operation: String, path: String, message: String) {
        self.operation = operation
        self.path = path
        self.message = message
    }

    public var description: String { "\(operation) \(path): \(message)" }
}

/// Build records on disk: one JSON file per (image, tag) at `<directory>/<image>/<tag>.json`.
///
/// Writes are atomic (a temporary file in the same directory, then `rename`), so a second process reading at
/// the same time sees either the old or the new record, never a partial one. Path components are
/// percent-encoded outside `[A-Za-z0-9_.-]` (and a leading `.`), so no name can leave the directory.
///
/// `put` is a compare-and-swap on the record's version, made atomic across processes by an exclusive `flock` on
/// `<directory>/.lock` around read-compare-rename. Reads derive `Abandoned` (a `Running` record whose builder
/// process is gone or whose heartbeat expired) and `Lost` (a `Submitted` record past its deadline).
public struct FileBuildRecordStore: BuildRecordStore {
    public let directory: String
    let processes: any ProcessLiveness
    let now: @Sendable () -> Date

    public init(directory: String) {
        self.init(directory: directory, processes: LocalProcesses(), now: { Date() })
    }

    public init(directory: String, processes: any ProcessLiveness, now: @escaping @Sendable () -> Date) {
        self.directory = directory
        self.processes = processes
        self.now = now
    }

    /// Every record, sorted by image, then tag, with its effective state (see the type's documentation).
    public func allRecords() async throws -> [BuildRecord] {
        try storedRecords().map(effective)
    }

    /// Every record as stored (no derived states).
    public func storedRecords() throws -> [BuildRecord] {
        let fm = FileManager.default
        guard fm.fileExists(atPath: directory) else { return [] }
        var records: [BuildRecord] = []
        let imageDirectories: [String]
        do { imageDirectories = try fm.contentsOfDirectory(atPath: directory) } catch {
            throw BuildRecordStoreError(operation: "list build records", path: directory, message: "\(error)")
        }
        for imageDirectory in imageDirectories where !imageDirectory.hasPrefix(".") {
            let imagePath = directory + "/" + imageDirectory
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: imagePath, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let files = (try? fm.contentsOfDirectory(atPath: imagePath)) ?? []
            for file in files where file.hasSuffix(".json") && !file.hasPrefix(".") {
                if let record = try read(imagePath + "/" + file) { records.append(record) }
            }
        }
        return records.sorted { ($0.image, $0.tag) < ($1.image, $1.tag) }
    }

    /// The record of one (image, tag), if any, with its effective state.
    public func record(image: String, tag: String) async throws -> BuildRecord? {
        try read(path(image: image, tag: tag)).map(effective)
    }

    func effective(_ record: BuildRecord) -> BuildRecord {
        var r = record
        r.state = record.effectiveState(now: now(), processes: processes)
        return r
    }

    /// Compare-and-swap: writes the record when the stored one has `record.version` (a missing record, or one
    /// written before records had versions, counts as version 0, as does a nil `version`), and returns it as stored.
    /// `Abandoned` and `Lost` are never written (they are derived on read): the stored state is kept.
    @discardableResult
    public func put(_ record: BuildRecord) async throws -> BuildRecord {
        let target = path(image: record.image, tag: record.tag)
        guard record.state != .abandoned, record.state != .lost else {
            throw BuildRecordStoreError(operation: "write build record", path: target,
                                        message: "\(record.state.rawValue) is derived on read and never stored")
        }
        let folder = (target as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw BuildRecordStoreError(operation: "write build record", path: target, message: "\(error)")
        }
        return try withStoreLock {
            let current = try read(target)
            let expected = record.version ?? 0
            guard (current?.version ?? 0) == expected else {
                throw BuildRecordConflict(image: record.image, tag: record.tag, expectedVersion: record.version,
                                          storedVersion: current.map { $0.version ?? 0 }, storedState: current?.state)
            }
            var stored = record
            stored.version = expected + 1
            do {
                try AtomicFile.write(try Self.encoder().encode(stored), to: target)
            } catch {
                throw BuildRecordStoreError(operation: "write build record", path: target, message: "\(error)")
            }
            return stored
        }
    }

    /// Runs `body` holding an exclusive `flock` on `<directory>/.lock` (released when the process dies).
    func withStoreLock<T>(_ body: () throws -> T) throws -> T {
        let lockPath = directory + "/.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw BuildRecordStoreError(operation: "lock build records", path: lockPath, message: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw BuildRecordStoreError(operation: "lock build records", path: lockPath, message: String(cString: strerror(errno)))
            }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }

    /// Removes temporary files (`.NAME.UUID.tmp`) left by processes killed during an atomic write. Call it while no
    /// other process writes (e.g. holding the apply lock). Returns how many were removed.
    @discardableResult
    public func removeLeftoverTemporaryFiles() -> Int {
        AtomicFile.removeLeftovers(under: directory)
    }

    /// `<directory>/<image>/<tag>.json` with both components encoded.
    public func path(image: String, tag: String) -> String {
        "\(directory)/\(Self.encodeComponent(image))/\(Self.encodeComponent(tag)).json"
    }

    private func read(_ path: String) throws -> BuildRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try Self.decoder().decode(BuildRecord.self, from: data)
        } catch {
            throw BuildRecordStoreError(operation: "read build record", path: path, message: "not a build record: \(error)")
        }
    }

    static func encodeComponent(_ s: String) -> String {
        var out = ""
        for (index, byte) in s.utf8.enumerated() {
            let safe = BuildInputGrammar.isAlnum(byte) || byte == ._underscore || byte == ._dash || (byte == ._dot && index > 0)
            out += safe ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }
        return out.isEmpty ? "%" : out
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RecordTimestamp.format(date))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RecordTimestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a UTC ISO 8601 date: \(text)")
            }
            return date
        }
        return decoder
    }
}

/// UTC ISO 8601 timestamps with milliseconds (`2026-11-27T16:22:55.508Z`), converted through whole milliseconds
/// so that `parse(format(d)) == d` exactly for every date at millisecond precision.
enum RecordTimestamp {
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    static func format(_ date: Date) -> String {
        let ms = milliseconds(date)
        let (days, msOfDay) = (ms.floorDivided(by: 86_400_000), ms.floorModulo(86_400_000))
        let (y, m, d) = civil(fromDays: days)
        let seconds = msOfDay / 1000
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2)).\(pad(msOfDay % 1000, 3))Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (the fraction is cut to milliseconds).
    static func parse(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count >= 20, u.last == UInt8(ascii: "Z"), u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
              u[10] == UInt8(ascii: "T"), u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var v: Int64 = 0
            for i in range { guard BuildInputGrammar.isDigit(u[i]) else { return nil }; v = v * 10 + Int64(u[i] - 48) }
            return v
        }
        guard let y = number(0..<4), let mo = number(5..<7), let d = number(8..<10), let h = number(11..<13),
              let mi = number(14..<16), let s = number(17..<19), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var ms: Int64 = 0
        if u.count > 20 {
            guard u[19] == UInt8(ascii: "."), u.count > 21, let fraction = number(20..<(u.count - 1)) else { return nil }
            let digits = u.count - 21
            ms = digits >= 3 ? fraction / Int64(pow(10, Double(digits - 3))) : fraction * Int64(pow(10, Double(3 - digits)))
        } else if u.count != 20 {
            return nil
        }
        let days = days(fromCivil: y, mo, d)
        return date(milliseconds: ((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }

    func floorModulo(_ divisor: Int64) -> Int64 { self - floorDivided(by: divisor) * divisor }
}

extension Date {
    /// This date at whole milliseconds: the precision build records keep (their files hold ISO 8601 dates with
    /// milliseconds), so a record read back equals the record written.
    public var millisecondPrecision: Date {
        RecordTimestamp.date(milliseconds: Int64((timeIntervalSince1970 * 1000).rounded(.down)))
    }
}

/// Atomic file replacement: write a temporary file next to the target, then rename it over the target.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = "\(folder)/.\(name).\(UUID().uuidString).tmp"
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, "errno": errno])
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// True for the temporary file names `write` makes: `.NAME.UUID.tmp`.
    public static func isTemporaryName(_ name: String) -> Bool {
        guard name.hasPrefix("."), name.hasSuffix(".tmp") else { return false }
        let parts = name.dropLast(4).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let last = parts.last else { return false }
        return UUID(uuidString: String(last)) != nil
    }

    /// Removes the temporary files of interrupted writes under `directory` (recursively). Returns how many.
    @discardableResult
    public static func removeLeftovers(under directory: String) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var removed = 0
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            guard isTemporaryName(name) else { continue }
            if (try? FileManager.default.removeItem(atPath: directory + "/" + relative)) != nil { removed += 1 }
        }
        return removed
    }

    /// Writes only when the content differs; returns whether it wrote.
    @discardableResult
    static func writeIfChanged(_ data: Data, to path: String) throws -> Bool {
        if FileManager.default.contents(atPath: path) == data { return false }
        try write(data, to: path)
        return true
    }
}
