import MirModel

/// The render-time re-check of every user-supplied string that reaches a build context or a Job manifest.
///
/// The spec validator checks user input first; the build-context renderer checks again, so a string that
/// slipped past validation still cannot change the meaning of a Dockerfile line, a command line or a manifest.
/// Both use the same rules: every check here is MirModel's `SpecGrammar` (the single implementation), asked
/// for a yes/no answer.
public enum BuildInputGrammar {
    // MARK: Python (PEP 508 names, PEP 440 specifiers)

    /// A PEP 508 project name (`SpecGrammar.pipNameProblem`).
    public static func isPipProjectName(_ s: String) -> Bool { SpecGrammar.isPipProjectName(s) }

    /// The PEP 503 normal form of a project name: lowercase, every run of `-`, `_`, `.` replaced by one `-`.
    public static func normalizedPipName(_ s: String) -> String { SpecGrammar.normalizedPipName(s) }

    /// Parses a PEP 440 specifier set (`>=1.2,<2`, `~=1.4.5`, `==1.0.*`) into clauses; a bare version (starting
    /// with a digit) means `==`. Returns nil when `SpecGrammar.versionSpecifierProblem` finds a problem
    /// (including any whitespace).
    public static func parsePipSpecifier(_ text: String) -> [VersionClause]? { SpecGrammar.versionClauses(text) }

    // MARK: OS packages

    /// An OS package name of `type` (`SpecGrammar.packageNameProblem`).
    public static func isPackageName(_ s: String, type: PackageType) -> Bool { SpecGrammar.isPackageName(s, type: type) }

    /// An OS package version of `type` (`SpecGrammar.packageVersionProblem`).
    public static func isPackageVersion(_ s: String, type: PackageType) -> Bool { SpecGrammar.isPackageVersion(s, type: type) }

    // MARK: Images, names, tags

    /// A DNS-1123 label: 1–63 lowercase letters, digits and `-`, starting and ending with a letter or digit.
    public static func isDNSLabel(_ s: String) -> Bool { SpecGrammar.isDNS1123Label(s) }

    /// A DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters.
    public static func isDNSSubdomain(_ s: String) -> Bool { SpecGrammar.isDNS1123Subdomain(s) }

    /// An image tag as registries accept it: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    public static func isImageTag(_ s: String) -> Bool { SpecGrammar.isImageTag(s) }

    /// An image reference with an explicit registry (`SpecGrammar.imageReferenceProblem`).
    public static func isImageReference(_ s: String) -> Bool { SpecGrammar.isImageReference(s) }

    /// A platform version (`SpecGrammar.platformVersionProblem`).
    public static func isPlatformVersion(_ s: String) -> Bool { SpecGrammar.platformVersionProblem(s) == nil }

    // MARK: Character classes (bytes)

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isAlnum(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) }
}

extension UInt8 {
    static let _dot = UInt8(ascii: "."), _dash = UInt8(ascii: "-"), _underscore = UInt8(ascii: "_")
}
