import Foundation

/// What mir knows about one build of one (image, tag): written when a build is handed to a builder and
/// updated with its outcome. Observed state for the planner and for `mir images`.
public struct BuildRecord: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        /// Handed to a builder that runs elsewhere (e.g. `render` wrote a Job manifest); no result yet.
        case submitted = "Submitted"
        case running = "Running"
        case succeeded = "Succeeded"
        case failed = "Failed"
        /// Derived on read, never written: a `Running` record whose builder process is gone (same host, pid not
        /// alive or started at another time) or whose heartbeat expired. Built again.
        case abandoned = "Abandoned"
        /// Derived on read, never written: a `Submitted` record older than its repository (the registry lost it),
        /// or whose deadline passed without the tag appearing. Submitted again.
        case lost = "Lost"

        public var isFinished: Bool { self == .succeeded || self == .failed }
        /// `Running` or `Submitted`: a build is under way and must not be started again.
        public var isUnderWay: Bool { self == .running || self == .submitted }
    }

    public var image: String
    public var tag: String
    public var state: State
    /// Why the build was started: new, spec changed, platform upgraded, parent rebuilt, manual.
    public var reason: String
    /// Digest of the canonical spec alone (no base, no platform): tells a spec change from a platform upgrade.
    public var specDigest: String
    public var platformVersion: String
    /// The parent's tag the build was based on, for children of a ManagedImage.
    public var parentTag: String?
    public var pythonVersion: String
    public var pipLibraries: [PipLibrary]
    /// The builder that ran it (`render`, `simulate`, `kubernetes`).
    public var builder: String
    /// True when the builder is a simulation; shown as such everywhere.
    public var simulated: Bool
    public var startedAt: Date
    public var finishedAt: Date?
    public var message: String?
    /// The digest of the pushed image (`sha256:…`), for builds that push a real image.
    public var imageDigest: String? = nil
    /// Why the build failed, typed, when the builder could tell (a real build engine can).
    public var failure: BuildFailure? = nil
    /// The process that runs (or ran) the build, for `Running` records written by an in-process builder.
    public var owner: BuildOwner?
    /// Refreshed by the builder while it runs; a `Running` record whose heartbeat is older than
    /// `BuildRecord.heartbeatTimeout` is abandoned.
    public var heartbeatAt: Date?
    /// For `Submitted` records: when the build must have finished (the Job's `activeDeadlineSeconds` after
    /// submission). Past it without the tag in the registry, the record is lost.
    public var deadline: Date?
    /// Compare-and-swap version: the version of the stored record this one was read from (nil: never stored).
    /// A store writes a record only when its current version equals this one, and stores it with version + 1.
    public var version: Int?

    public init(image: String, tag: String, state: State, reason: String, specDigest: String, platformVersion: String,
                parentTag: String?, pythonVersion: String, pipLibraries: [PipLibrary] = [], builder: String,
                simulated: Bool, startedAt: Date, finishedAt: Date? = nil, message: String? = nil) {
        self.image = image
        self.tag = tag
        self.state = state
        self.reason = reason
        self.specDigest = specDigest
        self.platformVersion = platformVersion
        self.parentTag = parentTag
        self.pythonVersion = pythonVersion
        self.pipLibraries = pipLibraries
        self.builder = builder
        self.simulated = simulated
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.message = message
    }

    /// How long a `Running` record's heartbeat stays fresh. Builders refresh it every `heartbeatInterval`.
    public static let heartbeatTimeout: TimeInterval = 90
    public static let heartbeatInterval: TimeInterval = 20

    /// The state as a reader must take it at `now`: `Running` becomes `Abandoned` when its builder process is gone
    /// or its heartbeat expired; `Submitted` becomes `Lost` when its deadline passed. (A `Submitted` record older
    /// than its repository is judged by the planner, which sees the repository.)
    public func effectiveState(now: Date, processes: any ProcessLiveness = LocalProcesses()) -> State {
        switch state {
        case .running:
            if let owner, processes.isGone(owner) { return .abandoned }
            if let beat = heartbeatAt ?? (owner == nil ? nil : startedAt), now.timeIntervalSince(beat) > Self.heartbeatTimeout {
                return .abandoned
            }
            return .running
        case .submitted:
            if let deadline, now > deadline { return .lost }
            return .submitted
        default:
            return state
        }
    }
}

/// The process that runs a build: host name, pid and the process's start time (so a reused pid is not taken for
/// the builder).
public struct BuildOwner: Sendable, Hashable, Codable {
    public var host: String
    public var pid: Int32
    /// Opaque start-time token of the process (on Linux: field 22 of /proc/PID/stat, clock ticks since boot).
    public var processStart: String?

    public init(host: String, pid: Int32, processStart: String?) {
        self.host = host
        self.pid = pid
        self.processStart = processStart
    }

    /// This process.
    public static var current: BuildOwner {
        let pid = getpid()
        return BuildOwner(host: ProcessInfo.processInfo.hostName, pid: pid, processStart: LocalProcesses.startToken(pid: pid))
    }
}

/// Tells whether a build owner's process is gone.
public protocol ProcessLiveness: Sendable {
    /// True only when it is certain: the owner ran on this host and its pid is not alive, or is alive but started
    /// at another time. A process on another host is never judged here (its heartbeat is).
    func isGone(_ owner: BuildOwner) -> Bool
}

/// The processes of this machine (`kill(pid, 0)` and `/proc/PID/stat`).
public struct LocalProcesses: ProcessLiveness {
    public init() {}

    public func isGone(_ owner: BuildOwner) -> Bool {
        guard owner.host == ProcessInfo.processInfo.hostName else { return false }
        if kill(owner.pid, 0) != 0 && errno == ESRCH { return true }
        if let recorded = owner.processStart, let now = Self.startToken(pid: owner.pid), recorded != now { return true }
        return false
    }

    /// The start time of `pid` in clock ticks since boot (Linux), or nil where /proc is not available.
    public static func startToken(pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"), let text = String(data: data, encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // After "pid (comm)": state is field 3; starttime is field 22, i.e. the 20th field after the comm.
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }
}

/// Port: where build records are kept (a state directory for the CLI; ManagedImage status in a cluster).
///
/// `put` is a compare-and-swap on `record.version`: it stores the record only when the stored one has that version
/// (or none is stored and `version` is nil), and returns the record as stored (its version one higher); a stale
/// writer gets `BuildRecordConflict` and changes nothing.
public protocol BuildRecordStore: Sendable {
    func allRecords() async throws -> [BuildRecord]
    /// The record of one (image, tag), if any: a builder's per-build read, which must not cost a read of every record.
    func record(image: String, tag: String) async throws -> BuildRecord?
    @discardableResult
    func put(_ record: BuildRecord) async throws -> BuildRecord
}

extension BuildRecordStore {
    public func record(image: String, tag: String) async throws -> BuildRecord? {
        try await allRecords().first { $0.image == image && $0.tag == tag }
    }
}

/// A build-record write refused because another writer stored a newer record first.
public struct BuildRecordConflict: Error, Sendable, Hashable, CustomStringConvertible {
    public var image: String
    public var tag: String
    /// The version the writer had read (nil: it expected no record).
    public var expectedVersion: Int?
    /// The version stored now (nil: no record).
    public var storedVersion: Int?
    public var storedState: BuildRecord.State?

    public init(image: String, tag: String, expectedVersion: Int?, storedVersion: Int?, storedState: BuildRecord.State?) {
        self.image = image
        self.tag = tag
        self.expectedVersion = expectedVersion
        self.storedVersion = storedVersion
        self.storedState = storedState
    }

    public var description: String {
        "the build record of \(image):\(tag) was changed by another writer (expected version \(expectedVersion.map(String.init) ?? "none"), "
            + "found \(storedVersion.map(String.init) ?? "none")\(storedState.map { ", \($0.rawValue)" } ?? "")): not overwritten"
    }
}
