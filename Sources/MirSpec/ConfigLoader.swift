import Foundation
import MirModel
import Yams

/// Reads `mir.yaml`. A nil path gives the defaults.
///
/// Keys are MirConfig's property names; unknown keys are errors; missing keys take MirConfig's defaults.
/// A `baseImages` catalog, when given, replaces the default catalog. Problems are reported like specs:
/// `mir.yaml:LINE:COL: error: … (at baseImages.standard.pythonVersions.3.10)`.
public enum ConfigLoader {
    public static func load(path: String?) throws(DiagnosticsError) -> MirConfig {
        guard let path else { return MirConfig() }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DiagnosticsError([Diagnostic(at: nil, "config file \(SpecGrammar.quoted(path)) does not exist or is not a file")])
        }
        switch YAMLSource.readText(path: path, displayPath: path, limits: .standard) {
        case .success(let text): return try parse(text: text, file: path)
        case .failure(let diagnostic): throw DiagnosticsError([diagnostic])
        }
    }

    /// Parses config text, displayed as `file` in diagnostics.
    public static func parse(text: String, file: String) throws(DiagnosticsError) -> MirConfig {
        let contents = YAMLSource.documents(in: text, file: file, limits: .standard)
        if !contents.diagnostics.isEmpty { throw DiagnosticsError(contents.diagnostics) }
        let sink = DocumentSink(file: file)
        if contents.documents.count > 1 {
            sink.error("the config file must hold a single YAML document", at: contents.documents[1], field: "")
            throw DiagnosticsError(sink.diagnostics)
        }
        guard let root = contents.documents.first, !NodeReader.isNull(root) else { return MirConfig() }
        let config = ConfigReader(reader: NodeReader(sink: sink)).read(root)
        let errors = sink.diagnostics.filter { $0.severity == .error }
        if !errors.isEmpty { throw DiagnosticsError(SpecLoader.sortedByPosition(errors)) }
        return config
    }
}

struct ConfigReader {
    let reader: NodeReader
    var sink: DocumentSink { reader.sink }

    static let fields = ["repositoryPrefix", "platformVersion", "baseImages", "allowExternalBaseImages", "defaultLifecyclePolicy",
                         "maxConcurrentBuilds", "forceDeleteRepositories", "builder", "installation", "allowEmpty",
                         "maxDeletionFraction"]
    static let builderFields = ["kanikoImage", "buildNamespace", "serviceAccountName", "activeDeadlineSeconds", "backoffLimit",
                                "ttlSecondsAfterFinished", "simulateDelaySeconds", "engine"]

    func read(_ root: Node) -> MirConfig {
        var config = MirConfig()
        guard let fields = reader.entries(root, at: "", allowed: ConfigReader.fields) else { return config }
        if let entry = fields["repositoryPrefix"], let prefix = reader.string(entry) {
            if let problem = SpecGrammar.repositoryPrefixProblem(prefix) {
                sink.error(problem, at: entry.value, field: entry.path)
            } else {
                config.repositoryPrefix = prefix
            }
        }
        if let entry = fields["platformVersion"], let version = reader.string(entry) {
            if let problem = SpecGrammar.platformVersionProblem(version) {
                sink.error(problem, at: entry.value, field: entry.path)
            } else {
                config.platformVersion = version
            }
        }
        if let entry = fields["baseImages"], let catalog = readCatalog(entry) { config.baseImages = catalog }
        if let entry = fields["allowExternalBaseImages"], let value = reader.bool(entry) { config.allowExternalBaseImages = value }
        if let entry = fields["defaultLifecyclePolicy"] {
            if let policy = LifecyclePolicyCheck.read(entry, reader: reader) { config.defaultLifecyclePolicy = policy }
        }
        if let entry = fields["maxConcurrentBuilds"], let value = reader.int(entry, range: 1...100) { config.maxConcurrentBuilds = value }
        if let entry = fields["forceDeleteRepositories"], let value = reader.bool(entry) { config.forceDeleteRepositories = value }
        if let entry = fields["builder"] { config.builder = readBuilder(entry) }
        if let entry = fields["installation"], let id = reader.string(entry) {
            if let problem = SpecGrammar.installationProblem(id) { sink.error(problem, at: entry.value, field: entry.path) } else { config.installation = id }
        }
        if let entry = fields["allowEmpty"], let value = reader.bool(entry) { config.allowEmpty = value }
        if let entry = fields["maxDeletionFraction"], let value = reader.number(entry, range: 0...1) { config.maxDeletionFraction = value }
        return config
    }

    func readCatalog(_ entry: Entry) -> [String: BaseImageCatalogEntry]? {
        guard case .mapping(let mapping) = entry.value else {
            sink.error("expected a mapping of imageType to catalog entry, found \(NodeReader.kindDescription(of: entry.value))",
                       at: entry.value, field: entry.path)
            return nil
        }
        var catalog: [String: BaseImageCatalogEntry] = [:]
        var ok = true
        for (keyNode, value) in mapping {
            guard let imageType = reader.string(keyNode, at: entry.path) else { ok = false; continue }
            let path = entry.path.dot(imageType)
            guard SpecGrammar.isDNS1123Label(imageType) else {
                sink.error("imageType \(SpecGrammar.quoted(imageType)) must be a DNS-1123 label (lowercase letters, digits, '-')", at: keyNode, field: path)
                ok = false
                continue
            }
            guard let fields = reader.entries(value, at: path, allowed: ["packageType", "pythonVersions", "user"]) else { ok = false; continue }
            var user: String?
            if let userEntry = fields["user"], let text = reader.string(userEntry) {
                if SpecGrammar.isImageUser(text) { user = text } else {
                    sink.error("user \(SpecGrammar.quoted(text)) must be a user name or uid, optionally with :group (letters, digits, '_', '-', '.')",
                               at: userEntry.value, field: userEntry.path)
                    ok = false
                }
            }
            var packageType: PackageType?
            if let typeEntry = fields["packageType"] {
                if let text = reader.string(typeEntry) {
                    packageType = PackageType(rawValue: text)
                    if packageType == nil {
                        sink.error("packageType must be rpm or apt, found \(SpecGrammar.quoted(text))", at: typeEntry.value, field: typeEntry.path)
                    }
                }
            } else {
                sink.error("packageType (rpm or apt) is required", at: value, field: path.dot("packageType"))
            }
            var versions: [String: String] = [:]
            if let versionsEntry = fields["pythonVersions"] {
                versions = readPythonVersions(versionsEntry) ?? [:]
            } else {
                sink.error("pythonVersions (a mapping of \"X.Y\" to image reference) is required", at: value, field: path.dot("pythonVersions"))
            }
            if let packageType, !versions.isEmpty {
                catalog[imageType] = BaseImageCatalogEntry(packageType: packageType, pythonVersions: versions, user: user)
            } else {
                ok = false
            }
        }
        return ok ? catalog : nil
    }

    func readPythonVersions(_ entry: Entry) -> [String: String]? {
        guard case .mapping(let mapping) = entry.value, !mapping.isEmpty else {
            sink.error("pythonVersions must be a non-empty mapping of \"X.Y\" to image reference", at: entry.value, field: entry.path)
            return nil
        }
        var versions: [String: String] = [:]
        var ok = true
        for (keyNode, value) in mapping {
            guard let version = reader.string(keyNode, at: entry.path) else { ok = false; continue }
            let path = entry.path.dot(version)
            guard SpecGrammar.isPythonVersion(version) else {
                sink.error("Python version \(SpecGrammar.quoted(version)) is not of the form X.Y", at: keyNode, field: path)
                ok = false
                continue
            }
            guard let reference = reader.string(value, at: path) else { ok = false; continue }
            if let problem = SpecGrammar.imageReferenceProblem(reference) {
                sink.error(problem, at: value, field: path)
                ok = false
                continue
            }
            versions[version] = reference
        }
        return ok ? versions : nil
    }

    func readBuilder(_ entry: Entry) -> BuilderSettings {
        var settings = BuilderSettings()
        guard let fields = reader.entries(entry.value, at: entry.path, allowed: ConfigReader.builderFields) else { return settings }
        if let e = fields["kanikoImage"], let reference = reader.string(e) {
            if let problem = SpecGrammar.imageReferenceProblem(reference) { sink.error(problem, at: e.value, field: e.path) } else { settings.kanikoImage = reference }
        }
        if let e = fields["buildNamespace"], let namespace = reader.string(e) {
            if SpecGrammar.isDNS1123Label(namespace) { settings.buildNamespace = namespace } else {
                sink.error("buildNamespace \(SpecGrammar.quoted(namespace)) is not a valid namespace name (a DNS-1123 label)", at: e.value, field: e.path)
            }
        }
        if let e = fields["serviceAccountName"], let account = reader.string(e) {
            if account == "default" {
                sink.error("serviceAccountName must not be \"default\": build pods need a ServiceAccount of their own (e.g. mir-builder) with no permissions", at: e.value, field: e.path)
            } else if SpecGrammar.isDNS1123Subdomain(account) { settings.serviceAccountName = account } else {
                sink.error("serviceAccountName \(SpecGrammar.quoted(account)) is not a valid name (a DNS-1123 subdomain)", at: e.value, field: e.path)
            }
        }
        if let e = fields["activeDeadlineSeconds"], let v = reader.int(e, range: 1...604_800) { settings.activeDeadlineSeconds = v }
        if let e = fields["backoffLimit"], let v = reader.int(e, range: 0...100) { settings.backoffLimit = v }
        if let e = fields["ttlSecondsAfterFinished"], let v = reader.int(e, range: 0...31_536_000) { settings.ttlSecondsAfterFinished = v }
        if let e = fields["simulateDelaySeconds"], let v = reader.number(e, range: 0...3600) { settings.simulateDelaySeconds = v }
        if let e = fields["engine"], let v = reader.string(e) {
            if ["buildah", "podman", "docker"].contains(v) { settings.engine = v } else {
                sink.error("engine must be buildah, podman or docker, found \(SpecGrammar.quoted(v))", at: e.value, field: e.path)
            }
        }
        return settings
    }
}
