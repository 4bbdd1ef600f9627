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
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        case error, warning, note
    }

    public var severity: Severity
    public var location: SourceLocation?
    public var message: String
    /// The field the problem is about, e.g. `spec.pipRequirements[1].name`.
    public var fieldPath: String?

    public init(_ severity: Severity = .error, at location: SourceLocation?, _ message: String, field fieldPath: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.fieldPath = fieldPath
    }

    public var description: String {
        var s = ""
        if let location { s += "\(location): " }
        s += "\(severity.rawValue): \(message)"
        if let fieldPath, !fieldPath.isEmpty { s += " (at \(fieldPath))" }
        return s
    }
}

/// Several diagnostics thrown together.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
