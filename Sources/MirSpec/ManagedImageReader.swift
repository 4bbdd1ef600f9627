import Foundation
import MirModel
import Yams

/// A ManagedImage document after reading: the image when the document had no errors, and what later
/// cross-document checks need (its name and where each field was written).
struct ParsedImage {
    /// metadata.name when it was readable.
    var name: String?
    /// The image, only when its document had no errors.
    var image: ManagedImage?
    var sink: DocumentSink
    /// Index of the file (for ordering), and of the document in the file.
    var fileIndex: Int
    var nameNode: Node?

    var file: String? { sink.file }
    /// metadata.name as written, also when it is not a valid name.
    var rawName: String? { nameNode?.scalar?.string }

    /// Where a field was written, or its nearest recorded ancestor.
    func location(of path: String) -> SourceLocation? {
        var current = path
        while true {
            if let location = sink.locations[current] { return location }
            guard let cut = current.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            current = String(current[..<cut])
        }
        return sink.locations[""]
    }
}

/// Reads one ManagedImage document (already known to be of kind ManagedImage) into the model, reporting
/// every problem with its position and field path.
struct ManagedImageReader {
    let config: MirConfig
    let reader: NodeReader
    var sink: DocumentSink { reader.sink }

    init(config: MirConfig, sink: DocumentSink) {
        self.config = config
        self.reader = NodeReader(sink: sink, apiTypes: true)
    }

    static let topLevelFields = ["apiVersion", "kind", "metadata", "spec"]
    static let metadataFields = ["name", "labels", "annotations"]
    static let specFields = ["base", "pythonVersion", "pipRequirements", "packageRequirements", "lifecyclePolicy", "deletionPolicy"]
    static let baseFields = ["imageType", "managedImage", "image"]

    func read(_ root: Node, fileIndex: Int) -> ParsedImage {
        var parsed = ParsedImage(name: nil, image: nil, sink: sink, fileIndex: fileIndex, nameNode: nil)
        guard let top = reader.entries(root, at: "", allowed: ManagedImageReader.topLevelFields,
                                       special: ["status": "status is written by mir, not by users; remove it"]) else {
            return parsed
        }
        if let apiVersion = top["apiVersion"] {
            if let text = reader.string(apiVersion), text != ManagedImage.apiVersion {
                sink.error("ManagedImage has apiVersion \(SpecGrammar.quoted(text)); mir reads \(ManagedImage.apiVersion)",
                           at: apiVersion.value, field: "apiVersion", code: .wrongAPIVersion)
            }
        } else {
            sink.error("apiVersion is required (\(ManagedImage.apiVersion))", at: root, field: "apiVersion", code: .missingField)
        }
        // metadata
        if let metadata = top["metadata"] {
            if let fields = reader.entries(metadata.value, at: "metadata", allowed: ManagedImageReader.metadataFields) {
                if let nameEntry = fields["name"] {
                    parsed.nameNode = nameEntry.value
                    if let name = reader.string(nameEntry) {
                        if let problem = SpecGrammar.imageNameProblem(name, repositoryPrefix: config.repositoryPrefix) {
                            sink.error(problem, at: nameEntry.value, field: nameEntry.path, code: .invalidName)
                        } else {
                            parsed.name = name
                        }
                    }
                } else {
                    sink.error("metadata.name is required", at: metadata.value, field: "metadata.name", code: .missingField)
                }
                for key in ["labels", "annotations"] {
                    if let entry = fields[key] { _ = reader.stringMap(entry) }
                }
            }
        } else {
            sink.error("metadata is required (with a name)", at: root, field: "metadata", code: .missingField)
        }
        // spec
        var spec: ManagedImageSpec?
        if let specEntry = top["spec"] {
            spec = readSpec(specEntry, name: parsed.name)
        } else {
            sink.error("spec is required", at: root, field: "spec", code: .missingField)
        }
        if sink.errorCount == 0, let name = parsed.name, let spec {
            parsed.image = ManagedImage(name: name, spec: spec, source: sink.location(of: root))
        }
        return parsed
    }

    func readSpec(_ specEntry: Entry, name: String? = nil) -> ManagedImageSpec? {
        guard let fields = reader.entries(specEntry.value, at: "spec", allowed: ManagedImageReader.specFields) else { return nil }
        let errorsBefore = sink.errorCount

        var base: BaseImage?
        if let baseEntry = fields["base"] {
            base = readBase(baseEntry, name: name)
        } else {
            sink.error("spec.base is required (one of imageType, managedImage, image)", at: specEntry.value, field: "spec.base", code: .missingField)
        }

        var pythonVersion: String?
        if let entry = fields["pythonVersion"], !NodeReader.isNull(entry.value) {
            if let text = reader.string(entry) {
                if !SpecGrammar.isPythonVersion(text) {
                    sink.error("pythonVersion \(SpecGrammar.quoted(text)) is not of the form X.Y (e.g. \"3.11\")", at: entry.value, field: entry.path)
                } else {
                    pythonVersion = text
                    if let base { checkPythonVersion(text, base: base, entry: entry) }
                }
            }
        } else if let base {
            switch base {
            case .imageType(let type):
                let offered = config.baseImages[type].map { " (\(type) offers \(Self.versions($0)))" } ?? ""
                sink.error("pythonVersion is required when the base is an imageType\(offered)", at: specEntry.value, field: "spec.pythonVersion", code: .missingField)
            case .external:
                sink.error("pythonVersion is required when the base is an external image", at: specEntry.value, field: "spec.pythonVersion", code: .missingField)
            case .managedImage:
                break
            }
        }

        var pipRequirements: [PipRequirement] = []
        if let entry = fields["pipRequirements"] { pipRequirements = readPipRequirements(entry) }

        var packageRequirements: [PackageRequirement] = []
        if let entry = fields["packageRequirements"] { packageRequirements = readPackageRequirements(entry, base: base) }

        var lifecyclePolicy: JSONValue?
        if let entry = fields["lifecyclePolicy"], !NodeReader.isNull(entry.value) {
            lifecyclePolicy = LifecyclePolicyCheck.read(entry, reader: reader)
        }

        var deletionPolicy = DeletionPolicy.delete
        if let entry = fields["deletionPolicy"], let text = reader.string(entry) {
            if let policy = DeletionPolicy(rawValue: text) {
                deletionPolicy = policy
            } else {
                sink.error("deletionPolicy must be Delete or Retain (case-sensitive), found \(SpecGrammar.quoted(text))", at: entry.value, field: entry.path)
            }
        }

        guard sink.errorCount == errorsBefore, let base else { return nil }
        return ManagedImageSpec(base: base, pythonVersion: pythonVersion, pipRequirements: pipRequirements,
                                packageRequirements: packageRequirements, lifecyclePolicy: lifecyclePolicy,
                                deletionPolicy: deletionPolicy)
    }

    static func versions(_ entry: BaseImageCatalogEntry) -> String {
        entry.pythonVersions.keys.sorted { $0.compare($1, options: .numeric) == .orderedAscending }.joined(separator: ", ")
    }

    func readBase(_ entry: Entry, name: String?) -> BaseImage? {
        guard let fields = reader.entries(entry.value, at: entry.path, allowed: ManagedImageReader.baseFields) else { return nil }
        let present = fields.values.sorted { ($0.key.mark?.line ?? 0, $0.key.mark?.column ?? 0) < ($1.key.mark?.line ?? 0, $1.key.mark?.column ?? 0) }
        guard let chosen = present.first else {
            sink.error("base must set exactly one of imageType, managedImage, image", at: entry.value, field: entry.path, code: .missingField)
            return nil
        }
        if present.count > 1 {
            let names = present.map { $0.key.scalar?.string ?? "" }
            sink.error("base sets \(names.joined(separator: " and ")); set exactly one of imageType, managedImage, image",
                       at: present[1].key, field: present[1].path, code: .invalidValue)
            return nil
        }
        guard let value = reader.string(chosen) else { return nil }
        switch chosen.key.scalar?.string {
        case "imageType":
            guard config.baseImages[value] != nil else {
                let known = config.baseImages.keys.sorted().joined(separator: ", ")
                sink.error("unknown imageType \(SpecGrammar.quoted(value)); the base-image catalog offers: \(known.isEmpty ? "(none)" : known)",
                           at: chosen.value, field: chosen.path, code: .unknownImageType)
                return nil
            }
            return .imageType(value)
        case "managedImage":
            if let problem = SpecGrammar.imageNameProblem(value, repositoryPrefix: config.repositoryPrefix) {
                sink.error("managedImage: \(problem)", at: chosen.value, field: chosen.path, code: .invalidName)
                return nil
            }
            if let name, value == name {
                sink.error("base.managedImage names this image itself; an image cannot be its own parent",
                           at: chosen.value, field: chosen.path, code: .invalidValue)
                return nil
            }
            return .managedImage(value)
        default:
            guard config.allowExternalBaseImages else {
                sink.error("external base images are not allowed by this installation (allowExternalBaseImages is false); use imageType or managedImage",
                           at: chosen.value, field: chosen.path, code: .externalBaseNotAllowed)
                return nil
            }
            if let problem = SpecGrammar.imageReferenceProblem(value) {
                sink.error(problem, at: chosen.value, field: chosen.path)
                return nil
            }
            return .external(value)
        }
    }

    func checkPythonVersion(_ version: String, base: BaseImage, entry: Entry) {
        guard case .imageType(let type) = base, let catalogEntry = config.baseImages[type] else { return }
        if catalogEntry.pythonVersions[version] == nil {
            sink.error("pythonVersion \(SpecGrammar.quoted(version)) is not offered by imageType \(SpecGrammar.quoted(type)) (offered: \(Self.versions(catalogEntry)))",
                       at: entry.value, field: entry.path, code: .pythonVersionNotOffered)
        }
    }

    func readPipRequirements(_ entry: Entry) -> [PipRequirement] {
        guard let items = reader.list(entry) else { return [] }
        if items.count > SpecGrammar.maxPipRequirements {
            sink.error("at most \(SpecGrammar.maxPipRequirements) pip requirements are allowed, found \(items.count)",
                       at: entry.value, field: entry.path, code: .invalidValue)
            return []
        }
        var result: [PipRequirement] = []
        var seen: [String: (name: String, path: String, node: Node)] = [:]
        for (node, path) in items {
            guard let fields = reader.entries(node, at: path, allowed: ["name", "versionSpecifier"]) else { continue }
            guard let nameEntry = fields["name"] else {
                sink.error("pip requirement needs a name", at: node, field: path.dot("name"), code: .missingField)
                continue
            }
            guard let name = reader.string(nameEntry) else { continue }
            if let problem = SpecGrammar.pipNameProblem(name) {
                sink.error(problem, at: nameEntry.value, field: nameEntry.path, code: .invalidRequirement)
                continue
            }
            let normalized = SpecGrammar.normalizedPipName(name)
            if let first = seen[normalized] {
                let whereFirst = sink.location(of: first.node).map { "line \($0.line)" } ?? first.path
                sink.error("duplicate pip requirement \(SpecGrammar.quoted(name)) (same project as \(SpecGrammar.quoted(first.name)) at \(whereFirst))",
                           at: nameEntry.value, field: nameEntry.path, code: .duplicateRequirement)
                continue
            }
            seen[normalized] = (name, nameEntry.path, nameEntry.value)
            var specifier: String?
            if let specEntry = fields["versionSpecifier"], !NodeReader.isNull(specEntry.value) {
                guard let text = reader.string(specEntry) else { continue }
                if let problem = SpecGrammar.versionSpecifierProblem(text) {
                    sink.error(problem, at: specEntry.value, field: specEntry.path, code: .invalidRequirement)
                    continue
                }
                specifier = text
            }
            result.append(PipRequirement(name: name, versionSpecifier: specifier))
        }
        return result
    }

    func readPackageRequirements(_ entry: Entry, base: BaseImage?) -> [PackageRequirement] {
        guard let items = reader.list(entry) else { return [] }
        if items.count > SpecGrammar.maxPackageRequirements {
            sink.error("at most \(SpecGrammar.maxPackageRequirements) package requirements are allowed, found \(items.count)",
                       at: entry.value, field: entry.path, code: .invalidValue)
            return []
        }
        var result: [PackageRequirement] = []
        var seen: [String: Node] = [:]
        for (node, path) in items {
            guard let fields = reader.entries(node, at: path, allowed: ["name", "versionSpecifier", "type"]) else { continue }
            var type: PackageType?
            if let typeEntry = fields["type"], !NodeReader.isNull(typeEntry.value) {
                guard let text = reader.string(typeEntry) else { continue }
                guard let parsedType = PackageType(rawValue: text) else {
                    sink.error("package type must be rpm or apt, found \(SpecGrammar.quoted(text))", at: typeEntry.value, field: typeEntry.path)
                    continue
                }
                type = parsedType
            }
            guard let nameEntry = fields["name"] else {
                sink.error("package requirement needs a name", at: node, field: path.dot("name"), code: .missingField)
                continue
            }
            guard let name = reader.string(nameEntry) else { continue }
            var effectiveType = type
            if effectiveType == nil, case .imageType(let imageType) = base { effectiveType = config.baseImages[imageType]?.packageType }
            if let problem = SpecGrammar.packageNameProblem(name, type: effectiveType) {
                let fromCatalog = type == nil && SpecGrammar.isPackageName(name, type: nil)
                sink.error(problem, at: nameEntry.value, field: nameEntry.path, code: fromCatalog ? .catalogPackageType : .invalidRequirement)
                continue
            }
            if type == nil, case .external = base {
                sink.error("package requirement \(SpecGrammar.quoted(name)) needs a type (rpm or apt) when the base is an external image",
                           at: node, field: path.dot("type"), code: .missingField)
                continue
            }
            let key = "\(effectiveType?.rawValue ?? "?")/\(name)"
            if let first = seen[key] {
                let whereFirst = sink.location(of: first).map { " (first at line \($0.line))" } ?? ""
                sink.error("duplicate package requirement \(SpecGrammar.quoted(name))\(whereFirst)", at: nameEntry.value, field: nameEntry.path, code: .duplicateRequirement)
                continue
            }
            seen[key] = nameEntry.value
            var version: String?
            if let versionEntry = fields["versionSpecifier"], !NodeReader.isNull(versionEntry.value) {
                guard let text = reader.string(versionEntry) else { continue }
                if let problem = SpecGrammar.packageVersionProblem(text, type: effectiveType) {
                    let fromCatalog = type == nil && SpecGrammar.isPackageVersion(text, type: nil)
                    sink.error(problem, at: versionEntry.value, field: versionEntry.path, code: fromCatalog ? .catalogPackageType : .invalidRequirement)
                    continue
                }
                version = text
            }
            result.append(PackageRequirement(name: name, versionSpecifier: version, type: type))
        }
        return result
    }
}

/// Lifecycle policy documents: read as JSON and checked by ECR's rules, each violation at its own node.
enum LifecyclePolicyCheck {
    static func read(_ entry: Entry, reader: NodeReader) -> JSONValue? {
        guard case .mapping = entry.value else {
            reader.sink.error("\(entry.path) must be a mapping (an ECR lifecycle policy document), found \(NodeReader.kindDescription(of: entry.value))",
                              at: entry.value, field: entry.path, code: .wrongType)
            return nil
        }
        guard let document = reader.json(entry.value, at: entry.path) else { return nil }
        var ok = true
        for violation in LifecyclePolicyRules.violations(of: document) {
            let node = NodeReader.node(at: violation.path, in: entry.value)
            let path = violation.path.isEmpty ? entry.path : entry.path.dot(violation.path)
            reader.sink.error("invalid lifecycle policy: \(violation.message)", at: node, field: path, code: .invalidLifecyclePolicy)
            ok = false
        }
        let length = LifecyclePolicyRules.text(for: document).count
        if ok, length > LifecyclePolicyRules.maxTextLength {
            reader.sink.error("invalid lifecycle policy: its JSON text is \(length) characters; ECR allows at most \(LifecyclePolicyRules.maxTextLength)",
                              at: entry.value, field: entry.path, code: .invalidLifecyclePolicy)
            ok = false
        }
        if ok, length < LifecyclePolicyRules.minTextLength {
            reader.sink.error("invalid lifecycle policy: its JSON text is \(length) characters; ECR requires at least \(LifecyclePolicyRules.minTextLength)",
                              at: entry.value, field: entry.path, code: .invalidLifecyclePolicy)
            ok = false
        }
        return ok ? document : nil
    }
}
