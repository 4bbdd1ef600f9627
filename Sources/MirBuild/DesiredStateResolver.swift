import MirModel

/// Why a set of ManagedImages could not be resolved. Validation normally catches all of these first.
public enum ResolutionError: Error, Sendable, Hashable, CustomStringConvertible {
    case duplicateName(String)
    case missingParent(image: String, parent: String)
    /// The names on a dependency cycle, in order.
    case cycle([String])
    case unknownImageType(image: String, imageType: String)
    case pythonVersionNotInCatalog(image: String, imageType: String, pythonVersion: String)
    case missingPythonVersion(image: String)
    case pythonVersionDiffersFromParent(image: String, pythonVersion: String, parent: String, parentPythonVersion: String)
    case externalBaseNotAllowed(image: String, reference: String)

    public var description: String {
        switch self {
        case .duplicateName(let n): "resolve: ManagedImage \(n) is declared more than once"
        case .missingParent(let i, let p): "resolve: \(i): base ManagedImage \(p) is not declared"
        case .cycle(let names): "resolve: base images form a cycle: \((names + [names.first ?? ""]).joined(separator: " -> "))"
        case .unknownImageType(let i, let t): "resolve: \(i): imageType \(t) is not in the base image catalog"
        case .pythonVersionNotInCatalog(let i, let t, let v): "resolve: \(i): imageType \(t) has no image for Python \(v)"
        case .missingPythonVersion(let i): "resolve: \(i): pythonVersion is required unless the base is a ManagedImage"
        case .pythonVersionDiffersFromParent(let i, let v, let p, let pv):
            "resolve: \(i): pythonVersion \(v) differs from its base ManagedImage \(p) (\(pv)); children inherit it"
        case .externalBaseNotAllowed(let i, let r): "resolve: \(i): external base image \(r) is not allowed by the configuration"
        }
    }
}

/// Turns validated ManagedImages into `ResolvedImage`s: repository names, inherited Python versions and
/// package types, resolved bases and content-addressed tags.
public enum DesiredStateResolver {
    /// Resolves every image, parents before children (images at the same depth ordered by name).
    ///
    /// - Python version: a root's own; a child inherits its parent's (a different explicit one is an error).
    /// - Package type: a catalog root's entry type; an external root uses `rpm` only when it has package
    ///   requirements and every one of them says `type: rpm`, otherwise `apt`; a child inherits its root's.
    /// - Base: the catalog reference for the Python version, the external reference, or the parent's
    ///   name, computed tag and repository name.
    /// - Lifecycle policy: the spec's or `config.defaultLifecyclePolicy`.
    public static func resolve(_ images: [ManagedImage], config: MirConfig) throws(ResolutionError) -> [ResolvedImage] {
        var byName: [String: ManagedImage] = [:]
        for image in images {
            guard byName[image.name] == nil else { throw .duplicateName(image.name) }
            byName[image.name] = image
        }
        let order = try topologicalOrder(byName)
        var resolved: [String: ResolvedImage] = [:]
        var result: [ResolvedImage] = []
        for name in order {
            let image = byName[name]!
            let spec = image.spec
            let pythonVersion: String
            let packageType: PackageType
            let base: ResolvedBase
            var baseUser: String? = nil
            switch spec.base {
            case .imageType(let imageType):
                guard let entry = config.baseImages[imageType] else { throw .unknownImageType(image: name, imageType: imageType) }
                guard let python = spec.pythonVersion else { throw .missingPythonVersion(image: name) }
                guard let reference = entry.pythonVersions[python] else {
                    throw .pythonVersionNotInCatalog(image: name, imageType: imageType, pythonVersion: python)
                }
                pythonVersion = python
                packageType = entry.packageType
                base = .reference(reference)
                baseUser = entry.user
            case .external(let reference):
                guard config.allowExternalBaseImages else { throw .externalBaseNotAllowed(image: name, reference: reference) }
                guard let python = spec.pythonVersion else { throw .missingPythonVersion(image: name) }
                pythonVersion = python
                packageType = externalPackageType(spec.packageRequirements)
                base = .reference(reference)
            case .managedImage(let parentName):
                // Topological order guarantees the parent is resolved already.
                guard let parent = resolved[parentName] else { throw .missingParent(image: name, parent: parentName) }
                if let own = spec.pythonVersion, own != parent.pythonVersion {
                    throw .pythonVersionDiffersFromParent(image: name, pythonVersion: own, parent: parentName,
                                                          parentPythonVersion: parent.pythonVersion)
                }
                pythonVersion = parent.pythonVersion
                packageType = parent.packageType
                baseUser = parent.baseUser
                base = .managed(name: parentName, tag: parent.tag, repositoryName: parent.repositoryName)
            }
            let specDigest = ImageTagger.specDigest(spec)
            let tag = ImageTagger.tag(specDigest: specDigest, base: base, pythonVersion: pythonVersion,
                                      platformVersion: config.platformVersion, packageType: packageType, baseUser: baseUser)
            let item = ResolvedImage(image: image, repositoryName: config.repositoryPrefix + name,
                                     pythonVersion: pythonVersion, packageType: packageType, base: base,
                                     specDigest: specDigest, tag: tag,
                                     lifecyclePolicy: spec.lifecyclePolicy ?? config.defaultLifecyclePolicy, baseUser: baseUser)
            resolved[name] = item
            result.append(item)
        }
        return result
    }

    /// The package type for an external base: `rpm` only when every package requirement says so.
    public static func externalPackageType(_ requirements: [PackageRequirement]) -> PackageType {
        if !requirements.isEmpty, requirements.allSatisfy({ $0.type == .rpm }) { return .rpm }
        return .apt
    }

    /// Names ordered by depth (roots first), then by name. Throws on a missing parent or a cycle.
    static func topologicalOrder(_ byName: [String: ManagedImage]) throws(ResolutionError) -> [String] {
        var depth: [String: Int] = [:]
        for name in byName.keys.sorted() {
            var chain: [String] = []
            var current = name
            // Walk up to a root or to an image whose depth is known.
            while depth[current] == nil {
                if let index = chain.firstIndex(of: current) { throw .cycle(Array(chain[index...])) }
                chain.append(current)
                guard case .managedImage(let parent) = byName[current]!.spec.base else { break }
                guard byName[parent] != nil else { throw .missingParent(image: current, parent: parent) }
                current = parent
            }
            // Assign depths from the top of the chain downwards.
            var next = depth[current].map { $0 + 1 } ?? 0
            if depth[current] == nil { depth[current] = 0; chain.removeLast(); next = 1 }
            for item in chain.reversed() {
                depth[item] = next
                next += 1
            }
        }
        return byName.keys.sorted { (depth[$0]!, $0) < (depth[$1]!, $1) }
    }
}
