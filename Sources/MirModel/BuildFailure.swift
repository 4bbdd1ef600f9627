/// Why a build failed, typed (the reasons the controller shows for a failed build Job), with what a real build
/// engine can tell: the failing step, its exit code, a recognised cause and where the full log is.
public struct BuildFailure: Sendable, Hashable, Codable {
    public enum Reason: String, Sendable, Hashable, Codable, CaseIterable {
        /// The `FROM` image could not be pulled (missing, unauthorised, unreachable).
        case baseImagePullFailed = "BaseImagePullFailed"
        /// A build step (or the report step) exited non-zero.
        case buildFailed = "BuildFailed"
        /// The registry refused the push (credentials, permissions).
        case pushDenied = "PushDenied"
        /// The build ran past its deadline (the Job's `activeDeadlineSeconds`).
        case deadlineExceeded = "DeadlineExceeded"
        /// A build container was killed for using more memory than its limit.
        case oomKilled = "OOMKilled"
        /// The build pod was evicted from its node.
        case evicted = "Evicted"
        /// The Job succeeded, but the tag it pushed is not in the registry mir observes (another registry, or the
        /// push went elsewhere).
        case pushNotVisible = "PushNotVisible"
        /// Right before the push, the repository was gone or no longer this mir's (e.g. the registry lost its state
        /// and another installation created a repository of the same name): nothing was pushed.
        case repositoryNotOwned = "RepositoryNotOwned"
    }

    public var reason: Reason
    /// The failing step as the engine names it, e.g. `STEP 3/4: RUN ["python","-m","pip",…]`, or `push`, `report`.
    public var step: String?
    public var exitCode: Int?
    /// A cause recognised in the output, in words (e.g. the base image's Python refusing pip installs, PEP 668).
    public var cause: String?
    /// The full log of the build.
    public var logPath: String?

    public init(reason: Reason, step: String? = nil, exitCode: Int? = nil, cause: String? = nil, logPath: String? = nil) {
        self.reason = reason
        self.step = step
        self.exitCode = exitCode
        self.cause = cause
        self.logPath = logPath
    }
}
