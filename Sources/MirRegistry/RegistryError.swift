/// An error from a registry operation, in ECR's vocabulary. `operation` names the ECR operation
/// (e.g. `DeleteRepository`) so that a user always sees what was being attempted.
public struct RegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var code: Code
    public var message: String
    /// For `.accessDenied`: the IAM action that was denied (e.g. `ecr:TagResource` when CreateRepository with tags
    /// needs it), as the adapter decoded it; nil when unknown.
    public var deniedAction: String?

    public init(_ code: Code, operation: String, message: String, deniedAction: String? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.deniedAction = deniedAction
    }

    public var description: String { "\(operation): \(code.rawValue): \(message)" }

    /// An ECR error code, e.g. `RepositoryNotFoundException`. Open: adapters may carry codes not listed here.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let repositoryAlreadyExists = Code("RepositoryAlreadyExistsException")
        public static let repositoryNotFound = Code("RepositoryNotFoundException")
        public static let repositoryNotEmpty = Code("RepositoryNotEmptyException")
        public static let lifecyclePolicyNotFound = Code("LifecyclePolicyNotFoundException")
        public static let imageNotFound = Code("ImageNotFoundException")
        public static let imageAlreadyExists = Code("ImageAlreadyExistsException")
        public static let imageTagAlreadyExists = Code("ImageTagAlreadyExistsException")
        public static let invalidParameter = Code("InvalidParameterException")
        public static let invalidTagParameter = Code("InvalidTagParameterException")
        public static let tooManyTags = Code("TooManyTagsException")
        public static let limitExceeded = Code("LimitExceededException")
        public static let validation = Code("ValidationException")
        public static let throttling = Code("ThrottlingException")
        public static let server = Code("ServerException")
        public static let accessDenied = Code("AccessDeniedException")
    }
}
