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

        public var isFinished: Bool { self == .succeeded || self == .failed }
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
}

/// Port: where build records are kept (a state directory for the CLI; ManagedImage status in a cluster).
public protocol BuildRecordStore: Sendable {
    func allRecords() async throws -> [BuildRecord]
    func put(_ record: BuildRecord) async throws
}
