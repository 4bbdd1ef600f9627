import MirModel

/// Checks across documents: duplicate names, missing or invalid parents, cycles, and what children
/// inherit from their ancestors (the Python version, the OS package type).
enum ImageGraph {
    /// What a valid image passes on to its children.
    struct Inherited: Equatable {
        var pythonVersion: String
        /// The package type of the root's catalog entry; nil when the root has an external base.
        var packageType: PackageType?
        var rootIsExternal: Bool
    }

    enum Resolution: Equatable {
        case valid(Inherited)
        case invalid
    }

    /// Runs every cross-document check. Diagnostics go to each image's own sink; images that fail are
    /// cleared (`image = nil`) so that only fully valid images remain.
    static func check(_ parsed: inout [ParsedImage], config: MirConfig) {
        // Duplicate names: the first declaration wins; later ones are errors.
        var firstByName: [String: Int] = [:]
        var declared: Set<String> = []
        for index in parsed.indices {
            guard let name = parsed[index].name else { continue }
            declared.insert(name)
            if let first = firstByName[name] {
                let whereFirst = parsed[first].location(of: "metadata.name").map { " (first declared at \($0))" } ?? ""
                parsed[index].sink.error("duplicate ManagedImage name \(SpecGrammar.quoted(name))\(whereFirst)",
                                         at: parsed[index].nameNode, field: "metadata.name", code: .duplicateName)
                parsed[index].image = nil
            } else {
                firstByName[name] = index
            }
        }
        var validIndex: [String: Int] = [:]
        for (name, index) in firstByName where parsed[index].image != nil { validIndex[name] = index }

        var resolver = Resolver(parsed: parsed, validIndex: validIndex, declared: declared, config: config)
        for name in validIndex.keys.sorted() { _ = resolver.resolve(name, path: []) }
        for (name, resolution) in resolver.state where resolution == .invalid {
            if let index = validIndex[name] { parsed[index].image = nil }
        }
    }

    struct Resolver {
        let parsed: [ParsedImage]
        let validIndex: [String: Int]
        let declared: Set<String>
        let config: MirConfig
        var state: [String: Resolution] = [:]

        func error(_ index: Int, _ message: String, field: String, code: Diagnostic.Code) {
            let image = parsed[index]
            image.sink.appendError(message, at: image.location(of: field), field: field, code: code)
        }

        mutating func resolve(_ name: String, path: [String]) -> Resolution {
            if let known = state[name] { return known }
            guard let index = validIndex[name], let image = parsed[index].image else { return .invalid }
            if let start = path.firstIndex(of: name) {
                let cycle = Array(path[start...])
                for (offset, member) in cycle.enumerated() {
                    let rotated = Array(cycle[offset...]) + Array(cycle[..<offset]) + [member]
                    if let memberIndex = validIndex[member] {
                        error(memberIndex, "ManagedImage \(member) is in the cycle " + rotated.joined(separator: " → "),
                              field: "spec.base.managedImage", code: .cycle)
                    }
                    state[member] = .invalid
                }
                return .invalid
            }
            let spec = image.spec
            var result: Resolution
            switch spec.base {
            case .imageType(let type):
                if let version = spec.pythonVersion, let entry = config.baseImages[type] {
                    result = .valid(Inherited(pythonVersion: version, packageType: entry.packageType, rootIsExternal: false))
                } else {
                    result = .invalid
                }
            case .external:
                result = spec.pythonVersion.map { .valid(Inherited(pythonVersion: $0, packageType: nil, rootIsExternal: true)) } ?? .invalid
            case .managedImage(let parent):
                let parentResolution = resolve(parent, path: path + [name])
                if let settled = state[name] { return settled }  // part of a cycle, already reported
                switch parentResolution {
                case .invalid:
                    if !declared.contains(parent) {
                        error(index, "parent ManagedImage \(SpecGrammar.quoted(parent)) does not exist", field: "spec.base.managedImage", code: .parentMissing)
                    } else {
                        error(index, "parent ManagedImage \(SpecGrammar.quoted(parent)) is invalid (see its errors), so this image cannot be built",
                              field: "spec.base.managedImage", code: .parentInvalid)
                    }
                    result = .invalid
                case .valid(let inherited):
                    result = checkChild(index, spec: spec, parent: parent, inherited: inherited)
                }
            }
            state[name] = result
            return result
        }

        func checkChild(_ index: Int, spec: ManagedImageSpec, parent: String, inherited: Inherited) -> Resolution {
            var ok = true
            if let own = spec.pythonVersion, own != inherited.pythonVersion {
                error(index, "pythonVersion \(SpecGrammar.quoted(own)) differs from \(SpecGrammar.quoted(inherited.pythonVersion)), the Python version of parent \(SpecGrammar.quoted(parent)) (children inherit it; omit pythonVersion)",
                      field: "spec.pythonVersion", code: .inheritedMismatch)
                ok = false
            }
            for (offset, requirement) in spec.packageRequirements.enumerated() where requirement.type == nil {
                let path = "spec.packageRequirements".at(offset)
                if inherited.rootIsExternal {
                    error(index, "package requirement \(SpecGrammar.quoted(requirement.name)) needs a type (rpm or apt): the root of this image's parents has an external base",
                          field: path.dot("type"), code: .inheritedMismatch)
                    ok = false
                } else if let problem = SpecGrammar.packageNameProblem(requirement.name, type: inherited.packageType) {
                    error(index, problem, field: path.dot("name"), code: .inheritedMismatch)
                    ok = false
                } else if let version = requirement.versionSpecifier,
                          let problem = SpecGrammar.packageVersionProblem(version, type: inherited.packageType) {
                    error(index, problem, field: path.dot("versionSpecifier"), code: .inheritedMismatch)
                    ok = false
                }
            }
            return ok ? .valid(inherited) : .invalid
        }
    }
}

extension DocumentSink {
    /// An error at an already known location (checks made after reading).
    func appendError(_ message: String, at location: SourceLocation?, field: String, code: Diagnostic.Code) {
        appendDiagnostic(Diagnostic(.error, at: location, message, field: field, code: code))
    }
}
