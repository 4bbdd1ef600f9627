import MirModel

/// Strict grammars for every user-supplied string that reaches a build context or a Job manifest.
///
/// The spec validator checks user input first; the build-context renderer checks again with these
/// grammars, so a string that slipped past validation still cannot change the meaning of a Dockerfile
/// line, a command line or a manifest. Every check works on ASCII only: anything else is rejected.
public enum BuildInputGrammar {
    /// Longest pip project name, OS package name or version accepted.
    public static let maxTokenLength = 128

    // MARK: Python (PEP 508 names, PEP 440 specifiers)

    /// A PEP 508 project name: ASCII letters and digits, with `.`, `-`, `_` inside, starting and ending
    /// with a letter or digit.
    public static func isPipProjectName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= maxTokenLength, isAlnum(u.first!), isAlnum(u.last!) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == ._dot || $0 == ._dash || $0 == ._underscore }
    }

    /// The PEP 503 normal form of a project name: lowercase, every run of `-`, `_`, `.` replaced by one `-`.
    public static func normalizedPipName(_ s: String) -> String {
        var out = ""
        var inSeparatorRun = false
        for ch in s.lowercased() {
            if ch == "-" || ch == "_" || ch == "." {
                if !inSeparatorRun { out.append("-") }
                inSeparatorRun = true
            } else {
                out.append(ch)
                inSeparatorRun = false
            }
        }
        return out
    }

    /// Parses a PEP 440 specifier set (`>=1.2,<2`, `~=1.4.5`, `==1.0.*`) into clauses. A specifier that starts
    /// with a digit is a bare version and means `==`. Returns nil when the text is not a specifier set
    /// this grammar accepts (only ASCII spaces and tabs are allowed around clauses).
    public static func parsePipSpecifier(_ text: String) -> [VersionClause]? {
        let trimmed = trimBlanks(text)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 512 else { return nil }
        if let first = trimmed.utf8.first, isDigit(first) {
            guard isPipVersion(trimmed, allowWildcard: false) else { return nil }
            return [VersionClause(op: .equal, version: trimmed)]
        }
        var clauses: [VersionClause] = []
        for rawClause in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let clause = trimBlanks(String(rawClause))
            guard let op = VersionClause.longestFirst.first(where: { clause.hasPrefix($0.rawValue) }) else { return nil }
            let version = trimBlanks(String(clause.dropFirst(op.rawValue.count)))
            let wildcardAllowed = op == .equal || op == .notEqual
            guard isPipVersion(version, allowWildcard: wildcardAllowed) else { return nil }
            if op == .compatible && version.split(separator: ".").count < 2 { return nil }
            clauses.append(VersionClause(op: op, version: version))
        }
        return clauses
    }

    /// A version as it may appear in a PEP 440 clause: starts with a letter or digit; letters, digits and
    /// `.`, `+`, `!`, `_`, `-`; optionally ending in `.*` when `allowWildcard`.
    static func isPipVersion(_ s: String, allowWildcard: Bool) -> Bool {
        var body = Substring(s)
        if allowWildcard, body.hasSuffix(".*") { body = body.dropLast(2) }
        let u = Array(body.utf8)
        guard !u.isEmpty, u.count <= maxTokenLength, isAlnum(u.first!), isAlnum(u.last!) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == ._dot || $0 == ._plus || $0 == ._bang || $0 == ._underscore || $0 == ._dash }
    }

    // MARK: OS packages

    /// An OS package name. apt (Debian policy): lowercase letters, digits, `+`, `-`, `.`, starting with a letter or
    /// digit. rpm: letters, digits, `.`, `_`, `+`, `-`, starting with a letter or digit. Neither may end with `-`
    /// (apt-get reads a trailing `-` as "remove").
    public static func isPackageName(_ s: String, type: PackageType) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= maxTokenLength, isAlnum(u.first!), u.last! != ._dash else { return false }
        switch type {
        case .apt: return u.allSatisfy { isLowerAlnum($0) || $0 == ._plus || $0 == ._dash || $0 == ._dot }
        case .rpm: return u.allSatisfy { isAlnum($0) || $0 == ._plus || $0 == ._dash || $0 == ._dot || $0 == ._underscore }
        }
    }

    /// An OS package version: starts with a digit. apt: `[epoch:]upstream[-revision]` characters
    /// (letters, digits, `.`, `+`, `~`, `:`, `-`); rpm additionally `_` and `^`.
    public static func isPackageVersion(_ s: String, type: PackageType) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= maxTokenLength, isDigit(u.first!) else { return false }
        return u.allSatisfy {
            isAlnum($0) || $0 == ._dot || $0 == ._plus || $0 == ._tilde || $0 == ._colon || $0 == ._dash
                || (type == .rpm && ($0 == ._underscore || $0 == ._caret))
        }
    }

    // MARK: Images, names, tags

    /// A DNS-1123 label: 1–63 lowercase letters, digits and `-`, starting and ending with a letter or digit.
    public static func isDNSLabel(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 63, isLowerAlnum(u.first!), isLowerAlnum(u.last!) else { return false }
        return u.allSatisfy { isLowerAlnum($0) || $0 == ._dash }
    }

    /// An image tag as registries accept it: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    public static func isImageTag(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 128, isAlnum(u.first!) || u.first! == ._underscore else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == ._underscore || $0 == ._dot || $0 == ._dash }
    }

    /// An image reference by the distribution reference grammar: `[host[:port]/]path[:tag][@algo:hex]`, where path
    /// components are lowercase `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`. IPv6 hosts are not accepted.
    public static func isImageReference(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 512, s.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return false }
        var rest = Substring(s)
        if let at = rest.firstIndex(of: "@") {
            guard isDigest(rest[rest.index(after: at)...]) else { return false }
            rest = rest[..<at]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard let lastComponent = components.last else { return false }
        if let colon = lastComponent.firstIndex(of: ":") {
            guard isImageTag(String(lastComponent[lastComponent.index(after: colon)...])) else { return false }
            components[components.count - 1] = lastComponent[..<colon]
        }
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" || first.contains(where: \.isUppercase) {
            guard isRegistryHost(first) else { return false }
            components.removeFirst()
        }
        guard components.joined(separator: "/").utf8.count <= 255 else { return false }
        return !components.isEmpty && components.allSatisfy(isPathComponent)
    }

    static func isRegistryHost(_ s: Substring) -> Bool {
        var host = s
        if let colon = s.firstIndex(of: ":") {
            let port = s[s.index(after: colon)...]
            guard !port.isEmpty, port.count <= 5, port.utf8.allSatisfy(isDigit) else { return false }
            host = s[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            let u = Array(label.utf8)
            return !u.isEmpty && u.count <= 63 && isAlnum(u.first!) && isAlnum(u.last!)
                && u.allSatisfy { isAlnum($0) || $0 == ._dash }
        }
    }

    static func isPathComponent(_ s: Substring) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, isLowerAlnum(u.first!), isLowerAlnum(u.last!) else { return false }
        var i = 0
        while i < u.count {
            if isLowerAlnum(u[i]) { i += 1; continue }
            // A separator: ".", "_", "__" or a run of "-"; it must be followed by an alphanumeric.
            if u[i] == ._dot { i += 1 }
            else if u[i] == ._underscore { i += (i + 1 < u.count && u[i + 1] == ._underscore) ? 2 : 1 }
            else if u[i] == ._dash { while i < u.count && u[i] == ._dash { i += 1 } }
            else { return false }
            guard i < u.count, isLowerAlnum(u[i]) else { return false }
        }
        return true
    }

    static func isDigest(_ s: Substring) -> Bool {
        guard let colon = s.firstIndex(of: ":") else { return false }
        let algorithm = s[..<colon].utf8, hex = s[s.index(after: colon)...].utf8
        guard let a0 = algorithm.first, isAlpha(a0), algorithm.count <= 32,
              algorithm.allSatisfy({ isAlnum($0) || $0 == ._plus || $0 == ._dot || $0 == ._underscore || $0 == ._dash })
        else { return false }
        return hex.count >= 32 && hex.count <= 128 && hex.allSatisfy(isHex)
    }

    /// A platform version or other label-like value: 1–63 of `[A-Za-z0-9._-]`, starting and ending alphanumeric.
    public static func isLabelValue(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 63, isAlnum(u.first!), isAlnum(u.last!) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == ._dot || $0 == ._dash || $0 == ._underscore }
    }

    // MARK: Character classes

    static func trimBlanks(_ s: String) -> String {
        var u = Substring(s)
        while let f = u.first, f == " " || f == "\t" { u = u.dropFirst() }
        while let l = u.last, l == " " || l == "\t" { u = u.dropLast() }
        return String(u)
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isAlpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) }
    static func isAlnum(_ c: UInt8) -> Bool { isDigit(c) || isAlpha(c) }
    static func isLowerAlnum(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x61 && c <= 0x7a) }
    static func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) }
}

/// One clause of a PEP 440 specifier set, e.g. `>=1.2`.
public struct VersionClause: Sendable, Hashable, CustomStringConvertible {
    public enum Operator: String, Sendable, Hashable, CaseIterable {
        case compatible = "~="
        case equal = "=="
        case arbitrary = "==="
        case notEqual = "!="
        case lessOrEqual = "<="
        case greaterOrEqual = ">="
        case less = "<"
        case greater = ">"
    }

    public var op: Operator

    /// Operators, longest first, so that `===` is matched before `==` and `<=` before `<`.
    static let longestFirst = Operator.allCases.sorted { $0.rawValue.count > $1.rawValue.count }
    public var version: String

    public init(op: Operator, version: String) {
        self.op = op
        self.version = version
    }

    /// The clause without blanks, e.g. `>=1.2`.
    public var description: String { op.rawValue + version }
}

extension UInt8 {
    static let _dot = UInt8(ascii: "."), _dash = UInt8(ascii: "-"), _underscore = UInt8(ascii: "_")
    static let _plus = UInt8(ascii: "+"), _bang = UInt8(ascii: "!"), _tilde = UInt8(ascii: "~")
    static let _colon = UInt8(ascii: ":"), _caret = UInt8(ascii: "^")
}
