import MirModel

/// What reading a set of spec paths produced.
public struct SpecLoadResult: Sendable {
    /// Valid images (only those that passed every check, including cross-file checks).
    public var images: [ManagedImage]
    /// Errors, warnings and notices (e.g. "skipped document of kind Deployment"), in file order.
    public var diagnostics: [Diagnostic]
    /// Files read.
    public var files: [String]

    public init(images: [ManagedImage], diagnostics: [Diagnostic], files: [String]) {
        self.images = images
        self.diagnostics = diagnostics
        self.files = files
    }

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    /// True when nothing failed to load: only then may a pass delete anything.
    public var isComplete: Bool { errors.isEmpty }
}

/// The YAML source adapter: reads ManagedImage documents from files and directories (recursive
/// `*.yaml`/`*.yml`, multi-document), validates them against the config, and reports
/// `path:line:column: error: …` diagnostics.
public enum SpecLoader {
    public static func load(paths: [String], config: MirConfig) -> SpecLoadResult {
        // TODO(spec helper): implement.
        SpecLoadResult(images: [], diagnostics: [], files: [])
    }

    /// Validates already-decoded images (e.g. from the cluster API, which has no file locations).
    public static func validate(_ images: [ManagedImage], config: MirConfig) -> [Diagnostic] {
        // TODO(spec helper): implement.
        []
    }
}

/// Reads `mir.yaml`. A nil path gives the defaults.
public enum ConfigLoader {
    public static func load(path: String?) throws(DiagnosticsError) -> MirConfig {
        // TODO(spec helper): implement.
        MirConfig()
    }
}
