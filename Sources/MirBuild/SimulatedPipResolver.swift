import MirModel

/// No version satisfies a requirement's specifier set (pip's `ResolutionImpossible`).
public struct SimulatedResolutionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var requirement: String
    public var specifier: String

    public var description: String {
        "ResolutionImpossible: no version of \(requirement) satisfies \(specifier)"
    }
}

/// Picks, for simulations, an installed version for each pip requirement: one that satisfies its specifier set.
///
/// `==x` → x, `>=x` → x, `~=x` → x, `==x.*` → x.0, `>x` → x with its last part bumped, `<x` only → a lower
/// version, no specifier → `1.0.0`. Candidates come from the clauses (pins, lower bounds, `1.0.0`, upper bounds,
/// then each of these bumped); the first that satisfies every clause wins. None → unsatisfiable.
/// Versions compare as PEP 440 releases (numeric parts, padded with zeros; dev < pre < final < post; local
/// labels ignored) — enough for simulation, not a full PEP 440 implementation.
public enum SimulatedPipResolver {
    /// The tools every simulated root image has.
    public static let baseLibraries = [
        PipLibrary(name: "pip", version: "24.0"),
        PipLibrary(name: "setuptools", version: "69.5.1"),
        PipLibrary(name: "wheel", version: "0.43.0"),
    ]

    /// The simulated `pip list`: `inherited` (a parent's libraries, or `baseLibraries`) with each requirement
    /// installed at its chosen version; requirements naming the same project combine their clauses. Sorted by
    /// normalised name.
    public static func libraries(for requirements: [PipRequirement], inheriting inherited: [PipLibrary]) throws(SimulatedResolutionError) -> [PipLibrary] {
        var installed: [String: PipLibrary] = [:]
        for library in inherited { installed[BuildInputGrammar.normalizedPipName(library.name)] = library }
        var order: [String] = []
        var grouped: [String: (name: String, specifiers: [String])] = [:]
        for requirement in requirements {
            let key = BuildInputGrammar.normalizedPipName(requirement.name)
            if grouped[key] == nil { order.append(key); grouped[key] = (requirement.name, []) }
            if let specifier = requirement.versionSpecifier { grouped[key]!.specifiers.append(specifier) }
        }
        for key in order {
            let (name, specifiers) = grouped[key]!
            let text = specifiers.joined(separator: ",")
            var clauses: [VersionClause] = []
            for specifier in specifiers {
                guard let parsed = BuildInputGrammar.parsePipSpecifier(specifier) else {
                    throw SimulatedResolutionError(requirement: name, specifier: specifier)
                }
                clauses += parsed
            }
            guard let version = version(satisfying: clauses) else {
                throw SimulatedResolutionError(requirement: name, specifier: text)
            }
            installed[key] = PipLibrary(name: name, version: version)
        }
        return installed.sorted { $0.key < $1.key }.map(\.value)
    }

    /// A version satisfying every clause, or nil.
    public static func version(satisfying clauses: [VersionClause]) -> String? {
        var pins: [String] = [], lower: [String] = [], upper: [String] = []
        for clause in clauses {
            let v = SimpleVersion(clause.version)
            switch clause.op {
            case .equal:
                if clause.version.hasSuffix(".*") { pins.append(SimpleVersion(String(clause.version.dropLast(2))).releaseText + ".0") }
                else { pins.append(clause.version) }
            case .notEqual:
                // Step past an excluded version or prefix (`!=1.*` → 2).
                let excluded = clause.version.hasSuffix(".*") ? SimpleVersion(String(clause.version.dropLast(2))) : v
                upper.append(excluded.bumped)
            case .arbitrary: pins.append(clause.version)
            case .greaterOrEqual, .compatible: lower.append(clause.version)
            case .greater: lower += [v.bumped, v.releaseText + ".1"]
            case .lessOrEqual: upper.append(clause.version)
            case .less: if let below = v.below { upper.append(below) }
            }
        }
        let primary = pins + lower + ["1.0.0"] + upper
        let candidates = primary + primary.map { SimpleVersion($0).bumped }
        return candidates.first { candidate in clauses.allSatisfy { satisfies(candidate, $0) } }
    }

    /// Whether `version` satisfies one clause.
    public static func satisfies(_ version: String, _ clause: VersionClause) -> Bool {
        let candidate = SimpleVersion(version)
        switch clause.op {
        case .arbitrary: return version == clause.version
        case .equal, .notEqual:
            let matches: Bool
            if clause.version.hasSuffix(".*") {
                let prefix = SimpleVersion(String(clause.version.dropLast(2)))
                matches = candidate.epoch == prefix.epoch && candidate.release.starts(with: prefix.release)
                    && (candidate.release.count > prefix.release.count || candidate.release == prefix.release)
            } else {
                matches = candidate == SimpleVersion(clause.version)
            }
            return clause.op == .equal ? matches : !matches
        case .compatible:
            let bound = SimpleVersion(clause.version)
            return candidate >= bound && candidate.epoch == bound.epoch
                && candidate.padded(to: bound.release.count).starts(with: bound.release.dropLast())
        case .greaterOrEqual: return candidate >= SimpleVersion(clause.version)
        case .greater: return candidate > SimpleVersion(clause.version)
        case .lessOrEqual: return candidate <= SimpleVersion(clause.version)
        case .less: return candidate < SimpleVersion(clause.version)
        }
    }
}

/// A PEP 440 version reduced to what simulations need: epoch, numeric release, and a suffix rank.
struct SimpleVersion: Comparable {
    var epoch = 0
    var release: [Int] = []
    /// dev (-3) < alpha (-2) < beta (-1) < rc (-0.5) < final (0) < post (1); with its number.
    var suffixRank: Double = 0
    var suffixNumber = 0

    init(_ text: String) {
        var rest = Substring(text.lowercased())
        if rest.hasPrefix("v") { rest = rest.dropFirst() }
        if let plus = rest.firstIndex(of: "+") { rest = rest[..<plus] }
        if let bang = rest.firstIndex(of: "!"), let e = Int(rest[..<bang]) { epoch = e; rest = rest[rest.index(after: bang)...] }
        while let first = rest.first, first.isNumber {
            let digits = rest.prefix { $0.isNumber }
            release.append(Int(digits.prefix(18)) ?? 0)
            rest = rest.dropFirst(digits.count)
            if rest.hasPrefix("."), rest.dropFirst().first?.isNumber == true { rest = rest.dropFirst() } else { break }
        }
        if release.isEmpty { release = [0] }
        let suffix = rest.drop { !$0.isLetter }
        let number = Int(suffix.filter(\.isNumber).prefix(18)) ?? 0
        for (marker, rank) in [("dev", -3.0), ("post", 1.0), ("rc", -0.5), ("pre", -0.5), ("preview", -0.5), ("c", -0.5),
                               ("alpha", -2.0), ("a", -2.0), ("beta", -1.0), ("b", -1.0), ("r", 1.0)] where suffix.hasPrefix(marker) {
            suffixRank = rank
            suffixNumber = number
            break
        }
    }

    var releaseText: String { release.map(String.init).joined(separator: ".") }

    /// The release with its last part incremented (`1.4` → `1.5`).
    var bumped: String {
        var r = release
        r[r.count - 1] += 1
        return r.map(String.init).joined(separator: ".")
    }

    /// A release just below this one (`2.0` → `1.0`, `1.5` → `1.4`, `1` → `0.9`), or nil for zero.
    var below: String? {
        guard let index = release.lastIndex(where: { $0 > 0 }) else { return nil }
        var r = release
        r[index] -= 1
        for i in (index + 1)..<r.count { r[i] = 0 }
        if r.allSatisfy({ $0 == 0 }) { r.append(9) }
        while r.count < 2 { r.append(0) }
        return r.map(String.init).joined(separator: ".")
    }

    func padded(to count: Int) -> [Int] { release + Array(repeating: 0, count: max(0, count - release.count)) }

    private var key: (Int, [Int], Double, Int) {
        var r = release
        while r.count > 1, r.last == 0 { r.removeLast() }
        return (epoch, r, suffixRank, suffixNumber)
    }

    static func == (a: SimpleVersion, b: SimpleVersion) -> Bool {
        let (x, y) = (a.key, b.key)
        return x.0 == y.0 && x.1 == y.1 && x.2 == y.2 && x.3 == y.3
    }

    static func < (a: SimpleVersion, b: SimpleVersion) -> Bool {
        let (x, y) = (a.key, b.key)
        if x.0 != y.0 { return x.0 < y.0 }
        let length = max(x.1.count, y.1.count)
        let (p, q) = (a.padded(to: length), b.padded(to: length))
        if p != q { return p.lexicographicallyPrecedes(q) }
        if x.2 != y.2 { return x.2 < y.2 }
        return x.3 < y.3
    }
}
