import MirModel

/// What `mir version` prints: the semantic version (MirVersion), and the git revision and build date stamped at
/// build time by `scripts/stamp-version` (the Containerfile and `scripts/image` run it on their copy of the
/// sources). A plain `swift build` keeps "unknown".
enum BuildInfo {
    static let version = MirVersion.current
    // stamp:begin (rewritten by scripts/stamp-version)
    static let revision = "unknown"
    static let date = "unknown"
    // stamp:end
    static var line: String { "mir \(version) (revision \(revision), built \(date))" }
}
