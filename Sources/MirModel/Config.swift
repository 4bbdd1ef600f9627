/// mir's version. Also the default `platformVersion`.
public enum MirVersion {
    public static let current = "0.1.0"
}

/// Deployment configuration (`--config mir.yaml`). Every field has a sensible default.
public struct MirConfig: Sendable, Hashable, Codable {
    /// Only repositories whose names start with this prefix are ever acted on.
    public var repositoryPrefix: String
    /// The platform version images are built for; a change makes every image Outdated until rebuilt.
    public var platformVersion: String
    /// imageType → catalog entry.
    public var baseImages: [String: BaseImageCatalogEntry]
    public var allowExternalBaseImages: Bool
    /// Lifecycle policy put on every repository whose spec sets none. Valid by ECR's rules.
    public var defaultLifecyclePolicy: JSONValue
    public var maxConcurrentBuilds: Int
    /// Whether DeleteRepository may use `force` (delete a repository that still holds images mir did not build).
    public var forceDeleteRepositories: Bool
    public var builder: BuilderSettings
    /// The installation this mir belongs to, recorded on every repository it creates (`mir.dev/installation`).
    /// nil: the default installation, whose id is the repository prefix (see `installationID`).
    public var installation: String?
    /// Whether an empty desired state may delete repositories (Argo CD's `allowEmpty`). Off: an empty specs
    /// directory deletes nothing.
    public var allowEmpty: Bool
    /// A pass that would delete more than this fraction of the repositories this installation owns (and more than
    /// the per-pass cap) deletes nothing.
    public var maxDeletionFraction: Double

    /// The installation id recorded on repositories: `installation`, or the repository prefix.
    public var installationID: String { installation ?? repositoryPrefix }

    public init(
        repositoryPrefix: String = "mir/",
        platformVersion: String = MirVersion.current,
        baseImages: [String: BaseImageCatalogEntry] = MirConfig.defaultCatalog,
        allowExternalBaseImages: Bool = false,
        defaultLifecyclePolicy: JSONValue = MirConfig.defaultLifecyclePolicy,
        maxConcurrentBuilds: Int = 4,
        forceDeleteRepositories: Bool = false,
        builder: BuilderSettings = BuilderSettings(),
        installation: String? = nil,
        allowEmpty: Bool = false,
        maxDeletionFraction: Double = 0.1
    ) {
        self.installation = installation
        self.allowEmpty = allowEmpty
        self.maxDeletionFraction = maxDeletionFraction
        self.repositoryPrefix = repositoryPrefix
        self.platformVersion = platformVersion
        self.baseImages = baseImages
        self.allowExternalBaseImages = allowExternalBaseImages
        self.defaultLifecyclePolicy = defaultLifecyclePolicy
        self.maxConcurrentBuilds = maxConcurrentBuilds
        self.forceDeleteRepositories = forceDeleteRepositories
        self.builder = builder
    }

    /// Expire untagged images after 7 days; keep the newest 10 tagged images.
    public static let defaultLifecyclePolicy: JSONValue = .object([
        "rules": .array([
            .object([
                "rulePriority": .number(1),
                "description": .string("Expire untagged images after 7 days"),
                "selection": .object([
                    "tagStatus": .string("untagged"),
                    "countType": .string("sinceImagePushed"),
                    "countUnit": .string("days"),
                    "countNumber": .number(7),
                ]),
                "action": .object(["type": .string("expire")]),
            ]),
            .object([
                "rulePriority": .number(2),
                "description": .string("Keep the newest 10 images"),
                "selection": .object([
                    "tagStatus": .string("any"),
                    "countType": .string("imageCountMoreThan"),
                    "countNumber": .number(10),
                ]),
                "action": .object(["type": .string("expire")]),
            ]),
        ]),
    ])

    public static let defaultCatalog: [String: BaseImageCatalogEntry] = [
        "standard": BaseImageCatalogEntry(packageType: .apt, pythonVersions: [
            "3.10": "public.ecr.aws/docker/library/python:3.10-slim-bookworm",
            "3.11": "public.ecr.aws/docker/library/python:3.11-slim-bookworm",
            "3.12": "public.ecr.aws/docker/library/python:3.12-slim-bookworm",
        ]),
    ]
}

/// One image type of the base-image catalog.
public struct BaseImageCatalogEntry: Sendable, Hashable, Codable {
    /// The OS package manager of these images; the default `type` of package requirements.
    public var packageType: PackageType
    /// Python version "X.Y" → image reference.
    public var pythonVersions: [String: String]
    /// The user these images run as (`USER`), when it is not root (e.g. `1001` for Red Hat UBI's python images):
    /// OS package steps switch to root and the build restores this user afterwards.
    public var user: String? = nil

    public init(packageType: PackageType, pythonVersions: [String: String], user: String? = nil) {
        self.packageType = packageType
        self.pythonVersions = pythonVersions
        self.user = user
    }
}

/// Settings for build Jobs and the builders.
public struct BuilderSettings: Sendable, Hashable, Codable {
    public var kanikoImage: String
    public var buildNamespace: String
    public var serviceAccountName: String
    public var activeDeadlineSeconds: Int
    public var backoffLimit: Int
    public var ttlSecondsAfterFinished: Int
    /// Delay before the `simulate` builder records its (simulated) image.
    public var simulateDelaySeconds: Double
    /// The local build engine for `--builder local` and `mir dev`'s real jobs: `buildah`, `podman` or `docker`;
    /// nil means the first found of those, in that order.
    public var engine: String? = nil

    public init(
        kanikoImage: String = "gcr.io/kaniko-project/executor:v1.23.2",
        buildNamespace: String = "mir-builds",
        serviceAccountName: String = "mir-builder",
        activeDeadlineSeconds: Int = 3600,
        backoffLimit: Int = 1,
        ttlSecondsAfterFinished: Int = 86400,
        simulateDelaySeconds: Double = 0
    ) {
        self.kanikoImage = kanikoImage
        self.buildNamespace = buildNamespace
        self.serviceAccountName = serviceAccountName
        self.activeDeadlineSeconds = activeDeadlineSeconds
        self.backoffLimit = backoffLimit
        self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
        self.simulateDelaySeconds = simulateDelaySeconds
    }
}
