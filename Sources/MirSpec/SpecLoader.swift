import Foundation
import MirModel
import Yams

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
///
/// Documents of other kinds are skipped with a note; a ManagedImage with another apiVersion, or any other
/// kind of `mir.dev`, is an error. Hostile input is contained by `YAMLLimits` (file size, nodes counted
/// with aliases expanded, nesting depth) and non-UTF-8 files are refused.
public enum SpecLoader {
    public static func load(paths: [String], config: MirConfig) -> SpecLoadResult {
        load(paths: paths, config: config, limits: .standard)
    }

    /// `load(paths:config:)` with explicit limits.
    public static func load(paths: [String], config: MirConfig, limits: YAMLLimits) -> SpecLoadResult {
        var pathDiagnostics: [Diagnostic] = []
        let files = SpecFiles.collect(paths: paths, diagnostics: &pathDiagnostics)
        let sources = files.map { file in
            (file: file, text: YAMLSource.readText(path: file, displayPath: file, limits: limits))
        }
        var result = load(sources: sources, config: config, limits: limits)
        result.diagnostics = pathDiagnostics + result.diagnostics
        return result
    }

    /// Loads specs from in-memory text (e.g. standard input or tests), displayed as `file`.
    public static func load(text: String, file: String, config: MirConfig, limits: YAMLLimits = .standard) -> SpecLoadResult {
        load(sources: [(file: file, text: .success(text))], config: config, limits: limits)
    }

    /// Reads every source's documents, checks them within and across files, and orders diagnostics by
    /// file, then line and column.
    static func load(sources: [(file: String, text: Result<String, Diagnostic>)], config: MirConfig, limits: YAMLLimits) -> SpecLoadResult {
        var fileDiagnostics: [[Diagnostic]] = Array(repeating: [], count: sources.count)
        var parsed: [ParsedImage] = []
        for (fileIndex, source) in sources.enumerated() {
            let text: String
            switch source.text {
            case .success(let t): text = t
            case .failure(let diagnostic):
                fileDiagnostics[fileIndex].append(diagnostic)
                continue
            }
            let contents = YAMLSource.documents(in: text, file: source.file, limits: limits)
            fileDiagnostics[fileIndex] += contents.diagnostics
            for root in contents.documents {
                let sink = DocumentSink(file: source.file)
                if let image = readDocument(root, sink: sink, config: config, fileIndex: fileIndex) {
                    parsed.append(image)
                } else {
                    fileDiagnostics[fileIndex] += sink.diagnostics
                }
            }
        }
        ImageGraph.check(&parsed, config: config)
        for image in parsed {
            if let name = image.name ?? image.rawName { image.sink.attribute(to: name) }
            fileDiagnostics[image.fileIndex] += image.sink.diagnostics
        }
        return SpecLoadResult(images: parsed.compactMap(\.image), diagnostics: fileDiagnostics.flatMap(sortedByPosition),
                              files: sources.map(\.file))
    }

    /// Validates already-decoded images (e.g. from the cluster API, which has no file locations).
    /// Each message starts with `ManagedImage "name": `; field paths locate the problem.
    public static func validate(_ images: [ManagedImage], config: MirConfig) -> [Diagnostic] {
        let byImage = validateEach(images, config: config)
        return images.flatMap { image in
            (byImage[image.name] ?? []).map { diagnostic in
                var d = diagnostic
                d.message = "ManagedImage \(SpecGrammar.quoted(image.name)): " + d.message
                return d
            }
        }
    }

    /// Validates already-decoded images with the same rules as files, returning each image's own
    /// diagnostics by name (an image is valid when its list holds no error). Cross-image rules apply:
    /// a child of a missing or invalid parent is invalid, and so are images in a cycle.
    public static func validateEach(_ images: [ManagedImage], config: MirConfig) -> [String: [Diagnostic]] {
        var parsed: [ParsedImage] = []
        for image in images {
            let sink = DocumentSink(file: nil)
            let root = ImageNodes.document(for: image)
            var document = ManagedImageReader(config: config, sink: sink).read(root, fileIndex: 0)
            if document.name == nil { document.name = image.name }
            parsed.append(document)
        }
        ImageGraph.check(&parsed, config: config)
        for (image, document) in zip(images, parsed) { document.sink.attribute(to: image.name) }
        var result: [String: [Diagnostic]] = [:]
        for (image, document) in zip(images, parsed) { result[image.name, default: []] += document.sink.diagnostics }
        return result
    }

    /// What each image inherits from its ancestors: the Python version (children of a ManagedImage omit
    /// it) and the OS package type of the root's catalog entry (nil when the root has an external base).
    /// Only images whose whole chain of parents is present are listed; use it on validated images.
    public static func inheritedSettings(_ images: [ManagedImage], config: MirConfig) -> [String: InheritedSettings] {
        let byName = Dictionary(images.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var result: [String: InheritedSettings] = [:]
        func settle(_ name: String, depth: Int) -> InheritedSettings? {
            if let known = result[name] { return known }
            guard depth <= byName.count, let image = byName[name] else { return nil }
            var settled: InheritedSettings?
            switch image.spec.base {
            case .imageType(let type):
                settled = image.spec.pythonVersion.map { InheritedSettings(pythonVersion: $0, packageType: config.baseImages[type]?.packageType) }
            case .external:
                settled = image.spec.pythonVersion.map { InheritedSettings(pythonVersion: $0, packageType: nil) }
            case .managedImage(let parent):
                settled = settle(parent, depth: depth + 1)
            }
            result[name] = settled
            return settled
        }
        for image in images { _ = settle(image.name, depth: 0) }
        return result
    }

    /// Reads one document. Returns the parsed image for ManagedImage documents; otherwise records a note
    /// (skipped kinds) or an error (unknown mir.dev kinds) in the sink and returns nil.
    static func readDocument(_ root: Node, sink: DocumentSink, config: MirConfig, fileIndex: Int) -> ParsedImage? {
        guard case .mapping(let mapping) = root else {
            if NodeReader.isNull(root) { return nil }  // an empty document
            sink.note("skipped a document that is not a mapping (\(NodeReader.kindDescription(of: root)))", at: root, code: .notAManagedImage)
            return nil
        }
        func text(_ key: String) -> (String, Node)? {
            guard let node = mapping[key], case .scalar(let scalar) = node else { return nil }
            return (scalar.string, node)
        }
        let kind = text("kind")
        let apiVersion = text("apiVersion")
        if kind?.0 == ManagedImage.kind {
            return ManagedImageReader(config: config, sink: sink).read(root, fileIndex: fileIndex)
        }
        if let apiVersion, apiVersion.0 == "mir.dev" || apiVersion.0.hasPrefix("mir.dev/") {
            let shown = kind.map { "kind \(SpecGrammar.quoted($0.0))" } ?? "a document without kind"
            sink.error("\(shown) is not a kind of \(apiVersion.0); mir reads kind \(ManagedImage.kind)",
                       at: kind?.1 ?? root, field: "kind", code: .unknownKind)
            return nil
        }
        let kindText = kind.map { "of kind \(SpecGrammar.quoted($0.0).dropFirst().dropLast())" } ?? "without kind"
        let apiText = apiVersion.map { " (apiVersion \(SpecGrammar.quoted($0.0).dropFirst().dropLast()))" } ?? ""
        sink.note("skipped document \(kindText)\(apiText)", at: root)
        return nil
    }

    static func sortedByPosition(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            let la = a.element.location, lb = b.element.location
            let ka = (la?.line ?? 0, la?.column ?? 0), kb = (lb?.line ?? 0, lb?.column ?? 0)
            return ka != kb ? ka < kb : a.offset < b.offset
        }.map(\.element)
    }
}

/// What an image inherits from its chain of parents.
public struct InheritedSettings: Sendable, Hashable {
    /// The effective Python version "X.Y".
    public var pythonVersion: String
    /// The default OS package type (the root catalog entry's); nil when the root has an external base.
    public var packageType: PackageType?

    public init(pythonVersion: String, packageType: PackageType?) {
        self.pythonVersion = pythonVersion
        self.packageType = packageType
    }
}

/// Which files a list of paths means.
enum SpecFiles {
    /// Explicit files are read whatever their extension; directories are searched recursively for
    /// `*.yaml`/`*.yml` (hidden entries skipped, each directory's files sorted). Paths are displayed as
    /// given and joined.
    static func collect(paths: [String], diagnostics: inout [Diagnostic]) -> [String] {
        var files: [String] = []
        var seen: Set<String> = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                diagnostics.append(Diagnostic(at: nil, "spec path \(SpecGrammar.quoted(path)) does not exist", code: .specPath))
                continue
            }
            let found = isDirectory.boolValue ? yamlFiles(under: path, visited: [], diagnostics: &diagnostics) : [path]
            if found.isEmpty {
                diagnostics.append(Diagnostic(.warning, at: nil, "no *.yaml or *.yml files under \(SpecGrammar.quoted(path))", code: .specPath))
            }
            for file in found {
                let key = URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath().path
                if seen.insert(key).inserted { files.append(file) }
            }
        }
        return files
    }

    static func yamlFiles(under directory: String, visited: Set<String>, diagnostics: inout [Diagnostic]) -> [String] {
        let fm = FileManager.default
        let real = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        guard !visited.contains(real) else { return [] }  // a symlink loop
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else {
            diagnostics.append(Diagnostic(at: nil, "cannot list directory \(SpecGrammar.quoted(directory))", code: .specPath))
            return []
        }
        var result: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let child = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: child, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                result += yamlFiles(under: child, visited: visited.union([real]), diagnostics: &diagnostics)
            } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                result.append(child)
            }
        }
        return result
    }
}

/// ManagedImage values as YAML nodes, so that images from the cluster API are checked by exactly the
/// same reader as files (without positions).
enum ImageNodes {
    static func string(_ s: String) -> Node { .scalar(.init(s, Tag(.str), .doubleQuoted)) }

    static func mapping(_ pairs: [(String, Node)]) -> Node { .mapping(.init(pairs.map { (string($0.0), $0.1) })) }

    static func document(for image: ManagedImage) -> Node {
        let spec = image.spec
        var specPairs: [(String, Node)] = []
        switch spec.base {
        case .imageType(let t): specPairs.append(("base", mapping([("imageType", string(t))])))
        case .managedImage(let m): specPairs.append(("base", mapping([("managedImage", string(m))])))
        case .external(let e): specPairs.append(("base", mapping([("image", string(e))])))
        }
        if let version = spec.pythonVersion { specPairs.append(("pythonVersion", string(version))) }
        if !spec.pipRequirements.isEmpty {
            specPairs.append(("pipRequirements", .sequence(.init(spec.pipRequirements.map { requirement in
                var pairs = [("name", string(requirement.name))]
                if let specifier = requirement.versionSpecifier { pairs.append(("versionSpecifier", string(specifier))) }
                return mapping(pairs)
            }))))
        }
        if !spec.packageRequirements.isEmpty {
            specPairs.append(("packageRequirements", .sequence(.init(spec.packageRequirements.map { requirement in
                var pairs = [("name", string(requirement.name))]
                if let version = requirement.versionSpecifier { pairs.append(("versionSpecifier", string(version))) }
                if let type = requirement.type { pairs.append(("type", string(type.rawValue))) }
                return mapping(pairs)
            }))))
        }
        if let policy = spec.lifecyclePolicy { specPairs.append(("lifecyclePolicy", json(policy))) }
        specPairs.append(("deletionPolicy", string(spec.deletionPolicy.rawValue)))
        return mapping([
            ("apiVersion", string(ManagedImage.apiVersion)),
            ("kind", string(ManagedImage.kind)),
            ("metadata", mapping([("name", string(image.name))])),
            ("spec", mapping(specPairs)),
        ])
    }

    static func json(_ value: JSONValue) -> Node {
        switch value {
        case .null: return .scalar(.init("null", .implicit, .plain))
        case .bool(let b): return .scalar(.init(b ? "true" : "false", .implicit, .plain))
        case .number(let n): return .scalar(.init(value.intValue.map(String.init) ?? String(n), .implicit, .plain))
        case .string(let s): return string(s)
        case .array(let a): return .sequence(.init(a.map(json)))
        case .object(let o): return mapping(o.keys.sorted().map { ($0, json(o[$0]!)) })
        }
    }
}
