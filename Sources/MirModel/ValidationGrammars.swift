/// The grammars every user-written value must match before mir uses it: names, PEP 440 specifiers,
/// OS package names and versions, image references. Each check returns nil when the value is valid, or a
/// one-line message (the value quoted with `SpecGrammar.quoted`) saying what is wrong.
///
/// Every grammar here is a subset of printable ASCII with no whitespace and no shell metacharacters other
/// than those a grammar needs (`<`, `>`, `!`, `~`, `*`, `=` in specifiers); builders must still quote.
///
/// This is the only implementation of these rules: the spec validator reports the problems, and the build
/// renderer (MirBuild's `BuildInputGrammar`) checks the same rules again at render time through the `is…` forms.
public enum SpecGrammar {
    /// Longest pip project name, OS package name, OS package version or PEP 440 version accepted.
    public static let maxTokenLength = 128
    /// Longest version specifier set accepted.
    public static let maxSpecifierLength = 512
    /// Most pip requirements in one spec (the CRD's duplicate check compares every pair; this bounds its cost).
    public static let maxPipRequirements = 100
    /// Most OS package requirements in one spec.
    public static let maxPackageRequirements = 500

    // MARK: - Characters

    /// Characters with a meaning to a POSIX shell.
    public static let shellMetacharacters: Set<Character> = [
        ";", "&", "|", "$", "`", "(", ")", "<", ">", "\\", "'", "\"", "*", "?", "[", "]", "{", "}",
        "~", "#", "!", "^", "%", "=", ",", "@", ":", "/",
    ]

    /// Describes the first character of `value` that is not in `allowed`, e.g. `a newline`,
    /// `the shell metacharacter ';'`, `Unicode whitespace U+00A0`; nil when every character is allowed.
    public static func firstForbiddenCharacter(in value: String, allowed: (Unicode.Scalar) -> Bool) -> String? {
        for scalar in value.unicodeScalars where !allowed(scalar) {
            return describe(scalar)
        }
        return nil
    }

    /// A human description of one character, naming whitespace and shell metacharacters as such.
    public static func describe(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "a newline"
        case "\r": return "a carriage return"
        case "\t": return "a tab"
        case " ": return "a space"
        default: break
        }
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        if scalar.properties.isWhitespace || scalar.value == 0x200B || scalar.value == 0xFEFF || scalar.value == 0x2060 {
            return "Unicode whitespace \(code)"
        }
        if scalar.value < 0x20 || scalar.value == 0x7F || scalar.properties.generalCategory == .control
            || scalar.properties.generalCategory == .format {
            return "the control character \(code)"
        }
        if scalar.value > 0x7E { return "the non-ASCII character \(code)" }
        if shellMetacharacters.contains(Character(scalar)) { return "the shell metacharacter '\(Character(scalar))'" }
        if ("A"..."Z").contains(scalar) { return "the uppercase letter '\(Character(scalar))'" }
        return "the character '\(Character(scalar))'"
    }

    /// `value` in double quotes, safe for a one-line message: control, non-ASCII and quote characters are
    /// escaped, and long values are shortened.
    public static func quoted(_ value: String, limit: Int = 80) -> String {
        var out = "\""
        var count = 0
        for scalar in value.unicodeScalars {
            if count >= limit { out += "…"; break }
            count += 1
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value >= 0x20 && scalar.value < 0x7F {
                    out.unicodeScalars.append(scalar)
                } else {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                }
            }
        }
        return out + "\""
    }

    static func isLowerAlnum(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
    static func isAlnum(_ c: Unicode.Scalar) -> Bool { isLowerAlnum(c) || ("A"..."Z").contains(c) }
    static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

    // MARK: - Names

    /// A Kubernetes DNS-1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric, ≤ 63.
    public static func isDNS1123Label(_ value: String) -> Bool {
        let s = Array(value.unicodeScalars)
        guard !s.isEmpty, s.count <= 63, isLowerAlnum(s.first!), isLowerAlnum(s.last!) else { return false }
        return s.allSatisfy { isLowerAlnum($0) || $0 == "-" }
    }

    /// A DNS-1123 subdomain: dot-separated DNS-1123 labels, ≤ 253.
    public static func isDNS1123Subdomain(_ value: String) -> Bool {
        guard !value.isEmpty, value.utf8.count <= 253 else { return false }
        return value.split(separator: ".", omittingEmptySubsequences: false).allSatisfy {
            let label = String($0)
            return !label.isEmpty && isDNS1123Label(label)
        }
    }

    /// Problem with a ManagedImage name, also checking that `repositoryPrefix + name` is a valid ECR name.
    public static func imageNameProblem(_ name: String, repositoryPrefix: String) -> String? {
        if let bad = firstForbiddenCharacter(in: name, allowed: { isLowerAlnum($0) || $0 == "-" }) {
            return "name \(quoted(name)) contains \(bad); a name is a DNS-1123 label (lowercase letters, digits and '-')"
        }
        guard isDNS1123Label(name) else {
            if name.isEmpty { return "name must not be empty" }
            if name.unicodeScalars.count > 63 { return "name \(quoted(name)) is longer than 63 characters" }
            return "name \(quoted(name)) is not a valid DNS-1123 label (it must start and end with a lowercase letter or digit)"
        }
        let repository = repositoryPrefix + name
        if !isECRRepositoryName(repository) {
            return "repository name \(quoted(repository)) (repositoryPrefix + name) is not a valid ECR repository name"
        }
        return nil
    }

    /// An ECR repository name: 2–256 characters of
    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
    public static func isECRRepositoryName(_ value: String) -> Bool {
        let count = value.unicodeScalars.count
        guard count >= 2, count <= 256 else { return false }
        return value.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { isECRComponent(Substring($0)) }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isECRComponent(_ component: Substring) -> Bool {
        let s = Array(component.unicodeScalars)
        guard let first = s.first, let last = s.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var i = 0
        while i < s.count {
            if isLowerAlnum(s[i]) { i += 1; continue }
            // A separator run: ".", "_", "__" or "-+", then an alphanumeric.
            var j = i
            if s[i] == "." { j += 1 }
            else if s[i] == "_" { j += 1; if j < s.count, s[j] == "_" { j += 1 } }
            else if s[i] == "-" { while j < s.count, s[j] == "-" { j += 1 } }
            else { return false }
            guard j < s.count, isLowerAlnum(s[j]) else { return false }
            i = j
        }
        return true
    }

    /// A repository prefix: empty, or lowercase characters such that `prefix + name` is a valid ECR
    /// repository name for every valid ManagedImage name.
    public static func repositoryPrefixProblem(_ prefix: String) -> String? {
        // An empty prefix would put every repository of the registry in mir's reach.
        if prefix.isEmpty { return "repositoryPrefix must not be empty: mir acts only on repositories under it (e.g. \"mir/\")" }
        if !prefix.hasSuffix("/") {
            return "repositoryPrefix \(quoted(prefix)) must end with '/': otherwise \(quoted(prefix + "x")) and \(quoted(prefix + "-team/x")) would both be under it"
        }
        if let bad = firstForbiddenCharacter(in: prefix, allowed: { isLowerAlnum($0) || "._-/".unicodeScalars.contains($0) }) {
            return "repositoryPrefix \(quoted(prefix)) contains \(bad)"
        }
        for sample in ["a0", "0", "a-b"] where !isECRRepositoryName(prefix + sample) {
            return "repositoryPrefix \(quoted(prefix)) cannot start a valid ECR repository name (e.g. \(quoted(prefix + sample)))"
        }
        if prefix.unicodeScalars.count > 256 - 63 {
            return "repositoryPrefix \(quoted(prefix)) is too long (at most \(256 - 63) characters)"
        }
        return nil
    }

    // MARK: - Python

    /// "X.Y", digits without leading zeros.
    public static func isPythonVersion(_ value: String) -> Bool {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 4 && part.unicodeScalars.allSatisfy(isDigit) && (part == "0" || part.first != "0")
        }
    }

    /// A PEP 508 project name: `^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$`.
    public static func pipNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "pip requirement name must not be empty" }
        if let bad = firstForbiddenCharacter(in: name, allowed: { isAlnum($0) || "._-".unicodeScalars.contains($0) }) {
            return "pip requirement name \(quoted(name)) contains \(bad)"
        }
        let s = Array(name.unicodeScalars)
        guard isAlnum(s.first!), isAlnum(s.last!) else {
            return "pip requirement name \(quoted(name)) is not a valid PEP 508 project name (it must start and end with a letter or digit)"
        }
        if s.count > maxTokenLength { return "pip requirement name \(quoted(name)) is longer than \(maxTokenLength) characters" }
        return nil
    }

    /// Whether `name` is a PEP 508 project name (`pipNameProblem` finds nothing).
    public static func isPipProjectName(_ name: String) -> Bool { pipNameProblem(name) == nil }

    /// PEP 503 normal form: lowercase, runs of `-`, `_`, `.` replaced by one `-`.
    public static func normalizedPipName(_ name: String) -> String {
        var out = ""
        var inSeparatorRun = false
        for c in name.lowercased() {
            if c == "-" || c == "_" || c == "." {
                if !inSeparatorRun { out.append("-") }
                inSeparatorRun = true
            } else {
                out.append(c)
                inSeparatorRun = false
            }
        }
        return out
    }

    /// Characters a version specifier may contain at all.
    static func isSpecifierCharacter(_ c: Unicode.Scalar) -> Bool {
        isAlnum(c) || ".*+!_-~=<>,".unicodeScalars.contains(c)
    }

    /// A PEP 440 version specifier set (`==1.0.2`, `>=1.2,<2`, `~=2.1`, `==1.*`) or a bare PEP 440 version
    /// starting with a digit (meaning `==`). No whitespace anywhere, no empty clauses.
    public static func versionSpecifierProblem(_ specifier: String) -> String? {
        if case .failure(let problem) = parseVersionSpecifier(specifier) { return problem.message }
        return nil
    }

    /// The clauses of a valid specifier set, in order (a bare version becomes one `==` clause); nil when
    /// `versionSpecifierProblem` reports a problem.
    public static func versionClauses(_ specifier: String) -> [VersionClause]? {
        try? parseVersionSpecifier(specifier).get()
    }

    /// Parses a specifier set into its clauses, or says what is wrong with it.
    public static func parseVersionSpecifier(_ specifier: String) -> Result<[VersionClause], GrammarProblem> {
        let q = quoted(specifier)
        func problem(_ message: String) -> Result<[VersionClause], GrammarProblem> { .failure(GrammarProblem(message)) }
        if specifier.isEmpty { return problem("version specifier must not be empty (omit versionSpecifier instead)") }
        if let bad = firstForbiddenCharacter(in: specifier, allowed: isSpecifierCharacter) {
            if bad == "a space" || bad == "a tab" || bad.hasPrefix("Unicode whitespace") {
                return problem("version specifier \(q) contains \(bad); whitespace is not allowed in version specifiers")
            }
            return problem("version specifier \(q) contains \(bad)")
        }
        if specifier.utf8.count > maxSpecifierLength {
            return problem("version specifier \(q) is longer than \(maxSpecifierLength) characters")
        }
        let texts = specifier.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var clauses: [VersionClause] = []
        for text in texts {
            if text.isEmpty { return problem("version specifier \(q) has an empty clause") }
            switch parseClause(text, isOnlyClause: texts.count == 1) {
            case .success(let clause): clauses.append(clause)
            case .failure(let clauseProblem): return problem("version specifier \(q): \(clauseProblem.message)")
            }
        }
        return .success(clauses)
    }

    static func parseClause(_ clause: String, isOnlyClause: Bool) -> Result<VersionClause, GrammarProblem> {
        func problem(_ message: String) -> Result<VersionClause, GrammarProblem> { .failure(GrammarProblem(message)) }
        guard let op = VersionClause.Operator.longestFirst.first(where: { clause.hasPrefix($0.rawValue) }) else {
            // A bare version means `==`; only as the whole specifier, and it starts with a digit.
            guard let shape = PEP440.parse(clause), !shape.hasWildcard, clause.unicodeScalars.first.map(isDigit) == true else {
                return problem("\(quoted(clause)) is neither a comparison (==, !=, <=, >=, <, >, ~=, ===) nor a PEP 440 version")
            }
            if !isOnlyClause { return problem("\(quoted(clause)) has no comparison operator (a bare version is only allowed alone)") }
            return .success(VersionClause(op: .equal, version: clause))
        }
        let version = String(clause.dropFirst(op.rawValue.count))
        if version.isEmpty { return problem("\(quoted(clause)) has no version after \(op.rawValue)") }
        let result = Result<VersionClause, GrammarProblem>.success(VersionClause(op: op, version: version))
        if op == .arbitrary {
            let s = Array(version.unicodeScalars)
            let ok = isAlnum(s.first!) && isAlnum(s.last!) && s.allSatisfy { isAlnum($0) || "._+!-".unicodeScalars.contains($0) }
            return ok ? result : problem("\(quoted(version)) is not an acceptable version for === (letters, digits and '.', '_', '+', '!', '-', starting and ending with a letter or digit)")
        }
        guard let shape = PEP440.parse(version) else {
            return problem("\(quoted(version)) is not a valid PEP 440 version")
        }
        switch op {
        case .equal, .notEqual:
            return result
        default:
            if shape.hasWildcard { return problem("a wildcard (.*) is only allowed with == and !=") }
            if shape.hasLocal { return problem("a local version label (+…) is only allowed with == and !=") }
            if op == .compatible && shape.releaseCount < 2 {
                return problem("~= needs a version with at least two release segments (e.g. ~=2.1)")
            }
            return result
        }
    }

    // MARK: - OS packages

    /// apt: `^[a-z0-9][a-z0-9+.-]+$`; rpm (and an unknown type): `^[A-Za-z0-9][A-Za-z0-9._+-]*$`; neither may end
    /// with `-` (apt-get reads a trailing `-` as "remove"), at most `maxTokenLength` characters.
    public static func packageNameProblem(_ name: String, type: PackageType?) -> String? {
        if name.isEmpty { return "package name must not be empty" }
        let q = quoted(name)
        if let bad = firstForbiddenCharacter(in: name, allowed: { isAlnum($0) || "._+-".unicodeScalars.contains($0) }) {
            return "package name \(q) contains \(bad)"
        }
        let s = Array(name.unicodeScalars)
        if s.count > maxTokenLength { return "package name \(q) is longer than \(maxTokenLength) characters" }
        switch type {
        case .apt:
            let ok = s.count >= 2 && isLowerAlnum(s[0]) && s.allSatisfy { isLowerAlnum($0) || "+.-".unicodeScalars.contains($0) }
            if !ok { return "package name \(q) is not a valid apt package name (lowercase letters, digits, '+', '.', '-'; at least 2 characters, starting with a letter or digit)" }
        case .rpm, nil:
            if !isAlnum(s[0]) { return "package name \(q) is not a valid rpm package name (it must start with a letter or digit)" }
        }
        if s.last == "-" { return "package name \(q) must not end with '-' (package managers read it as \"remove\")" }
        return nil
    }

    /// Whether `name` is a valid package name of `type`.
    public static func isPackageName(_ name: String, type: PackageType?) -> Bool { packageNameProblem(name, type: type) == nil }

    /// An OS package version: `^[0-9][A-Za-z0-9.+~:_-]*$`, at most `maxTokenLength` characters; apt versions
    /// (Debian `[epoch:]upstream[-revision]`) have no `_`. An unknown type allows `_`.
    public static func packageVersionProblem(_ version: String, type: PackageType? = nil) -> String? {
        if version.isEmpty { return "package version must not be empty (omit versionSpecifier instead)" }
        let q = quoted(version)
        let extra = type == .apt ? ".+~:-" : ".+~:_-"
        if let bad = firstForbiddenCharacter(in: version, allowed: { isAlnum($0) || extra.unicodeScalars.contains($0) }) {
            return "package version \(q) contains \(bad)" + (type == .apt && bad == "the character '_'" ? " (not allowed in apt versions)" : "")
        }
        guard isDigit(version.unicodeScalars.first!) else { return "package version \(q) must start with a digit" }
        if version.unicodeScalars.count > maxTokenLength { return "package version \(q) is longer than \(maxTokenLength) characters" }
        return nil
    }

    /// Whether `version` is a valid package version of `type`.
    public static func isPackageVersion(_ version: String, type: PackageType?) -> Bool {
        packageVersionProblem(version, type: type) == nil
    }

    // MARK: - Platform version

    /// A platform version ends up in tags and labels: 1–63 of `[A-Za-z0-9._-]`, starting and ending with a
    /// letter or digit.
    public static func platformVersionProblem(_ version: String) -> String? {
        if let bad = firstForbiddenCharacter(in: version, allowed: { isAlnum($0) || "._-".unicodeScalars.contains($0) }) {
            return "platformVersion \(quoted(version)) contains \(bad)"
        }
        let s = Array(version.unicodeScalars)
        guard let first = s.first, let last = s.last, isAlnum(first), isAlnum(last), s.count <= 63 else {
            return "platformVersion \(quoted(version)) must start and end with a letter or digit and have at most 63 characters"
        }
        return nil
    }

    /// An installation id: recorded as an ECR tag value (`mir.dev/installation`), so 1–128 characters from ECR's tag
    /// alphabet without spaces: letters, digits and `+ - = . _ : / @`.
    public static func installationProblem(_ id: String) -> String? {
        if id.isEmpty { return "installation must not be empty" }
        if let bad = firstForbiddenCharacter(in: id, allowed: { isAlnum($0) || "+-=._:/@".unicodeScalars.contains($0) }) {
            return "installation \(quoted(id)) contains \(bad) (allowed: letters, digits and + - = . _ : / @)"
        }
        if id.unicodeScalars.count > 128 { return "installation \(quoted(id)) is too long (at most 128 characters)" }
        return nil
    }

    // MARK: - Image references

    /// An OCI image reference with an explicit registry: `registry[:port]/path[:tag][@sha256:<64 hex>]`,
    /// lowercase path components, no whitespace or shell metacharacters.
    public static func imageReferenceProblem(_ reference: String) -> String? {
        let q = quoted(reference)
        if reference.isEmpty { return "image reference must not be empty" }
        if let bad = firstForbiddenCharacter(in: reference, allowed: { isAlnum($0) || "._-/:@".unicodeScalars.contains($0) }) {
            return "image reference \(q) contains \(bad)"
        }
        if reference.utf8.count > 512 { return "image reference \(q) is too long" }
        var rest = Substring(reference)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            rest = rest[..<at]
            guard digest.hasPrefix("sha256:"), digest.count == 7 + 64,
                  digest.dropFirst(7).unicodeScalars.allSatisfy({ isDigit($0) || ("a"..."f").contains($0) }) else {
                return "image reference \(q) has an invalid digest (expected @sha256: and 64 lowercase hex digits)"
            }
        }
        guard let slash = rest.firstIndex(of: "/") else {
            return "image reference \(q) must name its registry (registry[:port]/path[:tag])"
        }
        let registry = rest[..<slash]
        var path = rest[rest.index(after: slash)...]
        if let problem = registryProblem(registry) { return "image reference \(q): \(problem)" }
        // A tag follows the last ':' after the last '/'.
        if let colon = path.lastIndex(of: ":") {
            let tag = path[path.index(after: colon)...]
            path = path[..<colon]
            guard isImageTag(String(tag)) else {
                return "image reference \(q) has an invalid tag \(quoted(String(tag)))"
            }
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, components.allSatisfy({ isECRComponent($0) }) else {
            return "image reference \(q) has an invalid repository path (lowercase letters and digits separated by '.', '_', '__', '-' or '/')"
        }
        if path.utf8.count > 255 { return "image reference \(q) has a repository path longer than 255 characters" }
        return nil
    }

    /// Whether `reference` is an image reference `imageReferenceProblem` accepts.
    public static func isImageReference(_ reference: String) -> Bool { imageReferenceProblem(reference) == nil }

    /// An image tag as registries accept it: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    public static func isImageTag(_ tag: String) -> Bool {
        let t = Array(tag.unicodeScalars)
        guard let first = t.first, t.count <= 128, isAlnum(first) || first == "_" else { return false }
        return t.allSatisfy { isAlnum($0) || "._-".unicodeScalars.contains($0) }
    }

    static func registryProblem(_ registry: Substring) -> String? {
        var host = registry
        if let colon = registry.firstIndex(of: ":") {
            host = registry[..<colon]
            let port = registry[registry.index(after: colon)...]
            guard !port.isEmpty, port.count <= 5, port.unicodeScalars.allSatisfy(isDigit), let n = Int(port), n > 0, n < 65536 else {
                return "invalid registry port \(quoted(String(port)))"
            }
        } else if !registry.contains(".") && registry != "localhost" {
            return "\(quoted(String(registry))) is not a registry host (a registry has a '.', a port, or is localhost)"
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        let valid = !host.isEmpty && labels.allSatisfy { label in
            let s = Array(label.unicodeScalars)
            return !s.isEmpty && s.count <= 63 && isAlnum(s.first!) && isAlnum(s.last!) && s.allSatisfy { isAlnum($0) || $0 == "-" }
        }
        return valid ? nil : "invalid registry host \(quoted(String(host)))"
    }
}

/// What is wrong with a value, as a one-line message.
public struct GrammarProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One clause of a PEP 440 specifier set, e.g. `>=1.2`; `version` may end in `.*` for `==` and `!=`.
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

        /// Operators, longest first, so that `===` is matched before `==` and `<=` before `<`.
        static let longestFirst = allCases.sorted { $0.rawValue.count > $1.rawValue.count }
    }

    public var op: Operator
    public var version: String

    public init(op: Operator, version: String) {
        self.op = op
        self.version = version
    }

    /// The clause without blanks, e.g. `>=1.2`.
    public var description: String { op.rawValue + version }
}

/// A PEP 440 version parser that reports the shape of a version (enough to check specifier rules).
public enum PEP440 {
    public struct Shape: Sendable, Hashable {
        public var releaseCount: Int
        public var hasWildcard: Bool
        public var hasLocal: Bool
        public var hasPre: Bool
        public var hasPost: Bool
        public var hasDev: Bool
    }

    /// Parses a version as PEP 440 (case-insensitive, with its permitted spellings: `v1.0`, `1.0-1`,
    /// `1.0.post1`, `1.0rc1`, `1!2.0`, `1.0+local.7`), optionally ending in `.*` directly after the release.
    public static func parse(_ text: String) -> Shape? {
        var c = Cursor(Array(text.lowercased().utf8))
        var shape = Shape(releaseCount: 0, hasWildcard: false, hasLocal: false, hasPre: false, hasPost: false, hasDev: false)
        _ = c.eat("v")
        // Epoch.
        let save = c.position
        if c.digits() != nil, c.eat("!") {} else { c.position = save }
        // Release.
        guard c.digits() != nil else { return nil }
        shape.releaseCount = 1
        while c.peek() == UInt8(ascii: "."), c.peek(1).map(isDigitByte) == true {
            c.position += 1
            _ = c.digits()
            shape.releaseCount += 1
        }
        if c.peek() == UInt8(ascii: "."), c.peek(1) == UInt8(ascii: "*") {
            c.position += 2
            shape.hasWildcard = true
            return c.atEnd ? shape : nil
        }
        // Pre-release.
        if c.labelled(["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"]) { shape.hasPre = true }
        // Post-release: "-N" or [sep](post|rev|r)[sep][N].
        let beforePost = c.position
        if c.eat("-"), c.digits() != nil {
            shape.hasPost = true
        } else {
            c.position = beforePost
            if c.labelled(["post", "rev", "r"]) { shape.hasPost = true }
        }
        // Dev release.
        if c.labelled(["dev"]) { shape.hasDev = true }
        // Local version.
        if c.eat("+") {
            shape.hasLocal = true
            guard c.alnums() else { return nil }
            while let p = c.peek(), p == UInt8(ascii: ".") || p == UInt8(ascii: "-") || p == UInt8(ascii: "_") {
                c.position += 1
                guard c.alnums() else { return nil }
            }
        }
        return c.atEnd ? shape : nil
    }

    static func isDigitByte(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    struct Cursor {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { position == bytes.count }
        func peek(_ offset: Int = 0) -> UInt8? { position + offset < bytes.count ? bytes[position + offset] : nil }

        mutating func eat(_ s: String) -> Bool {
            let u = Array(s.utf8)
            guard position + u.count <= bytes.count, Array(bytes[position..<position + u.count]) == u else { return false }
            position += u.count
            return true
        }

        mutating func digits() -> Int? {
            let start = position
            while let b = peek(), PEP440.isDigitByte(b) { position += 1 }
            return position > start ? position - start : nil
        }

        mutating func alnums() -> Bool {
            let start = position
            while let b = peek(), PEP440.isDigitByte(b) || (b >= 97 && b <= 122) { position += 1 }
            return position > start
        }

        mutating func separator() {
            if let b = peek(), b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") { position += 1 }
        }

        /// `[sep] label [sep] [digits]`; restores the position when no label matches.
        mutating func labelled(_ labels: [String]) -> Bool {
            let start = position
            separator()
            guard labels.contains(where: { eat($0) }) else { position = start; return false }
            let afterLabel = position
            separator()
            if digits() == nil { position = afterLabel }
            return true
        }
    }
}

// MARK: - The grammars as regular expressions

/// The same grammars as regular expressions, for the CRD (`mir crd`): the API server checks the patterns and
/// `mir validate` checks the functions above, and a property test (MirSpecTests' `GrammarPatternTests`) draws
/// strings and checks both accept exactly the same ones. The patterns use only what ECMA-262, RE2 (the API
/// server's engine) and ICU agree on: no lookaround, no backreferences, no flags, ASCII classes.
public enum SpecPatterns {
    /// A DNS-1123 label (with a length bound of `maxDNSLabelLength`, checked separately): a ManagedImage name.
    public static let dns1123Label = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    public static let maxDNSLabelLength = 63

    /// "X.Y", digits without leading zeros, at most four digits each.
    public static let pythonVersion = "^(0|[1-9][0-9]{0,3})[.](0|[1-9][0-9]{0,3})$"

    /// A PEP 508 project name (at most `SpecGrammar.maxTokenLength` characters, checked separately).
    public static let pipName = "^([A-Za-z0-9]|[A-Za-z0-9][-A-Za-z0-9._]*[A-Za-z0-9])$"

    /// An rpm package name (and the name of a package of unknown type): no trailing '-'.
    public static let packageName = "^[A-Za-z0-9]([-A-Za-z0-9._+]*[A-Za-z0-9._+])?$"
    /// An apt package name: lowercase, at least two characters, no trailing '-'.
    public static let aptPackageName = "^[a-z0-9]([-a-z0-9+.]*[a-z0-9+.])$"
    /// An OS package version (rpm or unknown type); apt versions also have no '_'.
    public static let packageVersion = "^[0-9][-A-Za-z0-9.+~:_]*$"
    public static let aptPackageVersion = "^[0-9][-A-Za-z0-9.+~:]*$"


    /// Case-insensitive spelling of a word with ASCII classes: `rc` → `[Rr][Cc]`.
    static func anyCase(_ word: String) -> String {
        word.map { c in c.isLetter ? "[\(c.uppercased())\(c.lowercased())]" : String(c) }.joined()
    }

    static let separator = "[-_.]"
    static let pre = "(\(separator)?(\(["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"].map(anyCase).joined(separator: "|")))(\(separator)?[0-9]+)?)?"
    static let post = "(-[0-9]+|\(separator)?(\(["post", "rev", "r"].map(anyCase).joined(separator: "|")))(\(separator)?[0-9]+)?)?"
    static let dev = "(\(separator)?\(anyCase("dev"))(\(separator)?[0-9]+)?)?"
    static let local = "([+][A-Za-z0-9]+([-_.][A-Za-z0-9]+)*)?"
    static let epochAndRelease = "([0-9]+!)?[0-9]+([.][0-9]+)*"

    /// A PEP 440 version as `PEP440.parse` reads it, optionally a `.*` wildcard right after the release.
    static let versionOrWildcard = "[Vv]?\(epochAndRelease)([.][*]|\(pre)\(post)\(dev)\(local))"
    /// No wildcard, no local label (ordered comparisons).
    static let orderedVersion = "[Vv]?\(epochAndRelease)\(pre)\(post)\(dev)"
    /// `~=`: also at least two release segments.
    static let compatibleVersion = "[Vv]?([0-9]+!)?[0-9]+([.][0-9]+)+\(pre)\(post)\(dev)"
    /// `===`: letters, digits and `._+!-`, starting and ending with a letter or digit.
    static let arbitraryVersion = "[A-Za-z0-9]([-A-Za-z0-9._+!]*[A-Za-z0-9])?"
    /// A bare version (the whole specifier, meaning `==`): starts with a digit, no wildcard.
    static let bareVersion = "\(epochAndRelease)\(pre)\(post)\(dev)\(local)"
    static let clause = "(===\(arbitraryVersion)|(==|!=)\(versionOrWildcard)|(<=|>=|<|>)\(orderedVersion)|~=\(compatibleVersion))"

    /// A PEP 440 specifier set, or a bare version (at most `SpecGrammar.maxSpecifierLength` characters).
    public static let versionSpecifier = "^(\(bareVersion)|\(clause)(,\(clause))*)$"
}
