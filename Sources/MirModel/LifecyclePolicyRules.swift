/// ECR's documented rules for lifecycle policy documents (../shared/reference/aws-ecr.md §2), and a
/// normal form so that two policies are compared by meaning, never as raw strings.
public enum LifecyclePolicyRules {
    public static let maxTextLength = 30_720
    public static let minTextLength = 100
    public static let maxRules = 50

    /// Every rule the document breaks, as messages naming the offending field path relative to the
    /// document root (e.g. `rules[1].selection.countNumber`). Empty when the document is valid.
    public static func violations(of document: JSONValue) -> [LifecyclePolicyViolation] {
        // TODO(registry helper): implement ECR's rules.
        []
    }

    /// Validates policy text as PutLifecyclePolicy would (length limits, JSON, rules).
    public static func violations(ofText text: String) -> [LifecyclePolicyViolation] {
        // TODO(registry helper): implement.
        []
    }

    /// A normal form: rules sorted by priority, keys canonical, integral numbers as integers.
    /// Two documents that mean the same have equal normal forms.
    public static func normalized(_ document: JSONValue) -> JSONValue {
        // TODO(registry helper): implement.
        document
    }

    /// Compact text to send with PutLifecyclePolicy (canonical JSON of the normal form).
    public static func text(for document: JSONValue) -> String {
        normalized(document).canonicalText
    }
}

public struct LifecyclePolicyViolation: Sendable, Hashable, CustomStringConvertible {
    /// Path inside the document, e.g. `rules[0].selection.tagStatus`; empty for the whole document.
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
