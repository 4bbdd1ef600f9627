import MirModel
import MirRegistry

extension BuildRequest {
    /// A request for `image` with its base resolved to a full reference: a catalog or external base as it is,
    /// a managed parent as `<parent repository URI>:<parent tag>`. `repositoryURI` maps a repository name
    /// (e.g. `mir/base`) to its URI (e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/mir/base`).
    public init(image: ResolvedImage, reason: BuildReason, platformVersion: String,
                repositoryURI: (String) -> String) {
        let base: String
        switch image.base {
        case .reference(let reference): base = reference
        case .managed(_, let tag, let repositoryName): base = "\(repositoryURI(repositoryName)):\(tag)"
        }
        self.init(image: image, reason: reason, repositoryURI: repositoryURI(image.repositoryName),
                  baseImageReference: base, platformVersion: platformVersion)
    }
}

extension BuildReason {
    /// Why `image` needs a build, given the newest good build of the same image (any tag): no record →
    /// `new`; a different spec digest → `spec changed`; a different platform version → `platform upgraded`
    /// (checked before the parent: a platform upgrade gives every parent a new tag too); a different parent
    /// tag → `parent rebuilt`; otherwise (e.g. a new catalog base) `spec changed`.
    public static func inferred(for image: ResolvedImage, previous: BuildRecord?, platformVersion: String) -> BuildReason {
        guard let previous else { return .new }
        if previous.specDigest != image.specDigest { return .specChanged }
        if previous.platformVersion != platformVersion { return .platformUpgraded }
        if previous.parentTag != image.parentTag { return .parentRebuilt }
        return .specChanged
    }
}

extension SimulateBuilder {
    /// A simulate builder whose delay is `settings.simulateDelaySeconds` (negative or non-finite values mean none).
    public init(registry: any MirRegistry.ImageRegistry, records: any BuildRecordStore, settings: BuilderSettings) {
        let seconds = settings.simulateDelaySeconds
        self.init(registry: registry, records: records,
                  delay: seconds.isFinite && seconds > 0 ? .milliseconds(Int64((seconds * 1000).rounded())) : .zero)
    }
}
