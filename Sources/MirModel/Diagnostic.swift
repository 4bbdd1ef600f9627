/// Where something was written: a file and a 1-based line and column.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A problem found in user input, printed compiler-style:
/// `path:line:column: error: <message> (at spec.pipRequirements[1].name)`.
///
/// Decisions are made on `code` and `image`, never on `message`, which is for people.
public struct Diagnostic: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        case error, warning, note
    }

    /// What kind of problem this is.
    public enum Code: String, Sendable, Hashable, Codable, CaseIterable {
        // Reading files.
        case unreadableFile, fileTooLarge, notUTF8, yamlSyntax, duplicateKey, yamlLimit, unsupportedYAML
        // Documents.
        case skippedDocument, wrongAPIVersion, unknownKind, notAManagedImage
        // Fields of one object.
        case unknownField, wrongType, notAString, missingField, invalidValue, invalidName, invalidRequirement,
             duplicateRequirement, unknownImageType, pythonVersionNotOffered, externalBaseNotAllowed, invalidLifecyclePolicy,
             /// An untyped OS package that breaks the grammar of the catalog entry's package type (needs the config).
             catalogPackageType
        // Across objects (the controller's part in a cluster).
        case duplicateName, parentMissing, parentInvalid, cycle, inheritedMismatch
        // Paths and anything else.
        case specPath, other

        /// Checks that need other objects: a cluster reports them from the controller, not at admission.
        public var isCrossObject: Bool {
            switch self {
            case .duplicateName, .parentMissing, .parentInvalid, .cycle, .inheritedMismatch: return true
            default: return false
            }
        }
    }

    public var severity: Severity
    public var code: Code
    public var location: SourceLocation?
    public var message: String
    /// The field the problem is about, e.g. `spec.pipRequirements[1].name`.
    public var fieldPath: String?
    /// The ManagedImage the problem concerns (its metadata.name), when known.
    public var image: String?
    /// Related places, e.g. where a duplicated key was first written; printed after the diagnostic.
    public var notes: [Diagnostic]

    public init(_ severity: Severity = .error, at location: SourceLocation?, _ message: String, field fieldPath: String? = nil,
                code: Code = .other, image: String? = nil, notes: [Diagnostic] = []) {
        self.severity = severity
        self.code = code
        self.location = location
        self.message = message
        self.fieldPath = fieldPath
        self.image = image
        self.notes = notes
    }

    /// The first line: `path:line:column: severity: message (at field)`.
    public var headline: String {
        var s = ""
        if let location { s += "\(location): " }
        s += "\(severity.rawValue): \(message)"
        if let fieldPath, !fieldPath.isEmpty { s += " (at \(fieldPath))" }
        return s
    }

    /// The headline, then each note on a line of its own.
    public var description: String {
        ([headline] + notes.map(\.description)).joined(separator: "\n")
    }
}

/// Several diagnostics thrown together.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
