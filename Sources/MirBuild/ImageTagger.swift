import Crypto
import Foundation
import MirModel

/// Content-addressed image tags (the scheme is described in docs/tags.md).
///
/// `specDigest` hashes the canonical form of the parts of a spec that determine image content;
/// `tag` hashes that digest together with everything else that determines the image: the resolved base,
/// the Python version, the OS package type and the platform version. Same inputs, same tag; any change, new tag.
public enum ImageTagger {
    /// Version of the tag scheme; part of every hash, so a scheme change gives new tags.
    public static let scheme = "mir-tag-v1"
    /// Number of hex digits of the input hash kept in a tag.
    public static let hashLength = 20

    /// The canonical form of a spec: only the fields that determine image content, with order and
    /// formatting removed. Lifecycle and deletion policies are excluded (they do not change the image).
    ///
    /// - pip requirements: names in PEP 503 normal form, specifier clauses without blanks, a bare version
    ///   written as `==version`, clauses sorted and deduplicated; requirements sorted by name, then specifier.
    /// - OS package requirements: names and versions trimmed, sorted by (type, name, version); an unset
    ///   type stays unset (the package type is hashed into the tag separately).
    /// - Python version trimmed; the base as `{imageType|managedImage|image: value}`.
    public static func canonicalSpec(_ spec: ManagedImageSpec) -> JSONValue {
        let pip = spec.pipRequirements
            .map { req -> (String, String?) in (BuildInputGrammar.normalizedPipName(trim(req.name)), req.versionSpecifier.map(canonicalSpecifier)) }
            .sorted { ($0.0, $0.1 ?? "") < ($1.0, $1.1 ?? "") }
            .map { name, specifier -> JSONValue in
                .object(["name": .string(name), "specifier": specifier.map(JSONValue.string) ?? .null])
            }
        let packages = spec.packageRequirements
            .map { req in (req.type?.rawValue ?? "", trim(req.name), req.versionSpecifier.map(trim)) }
            .sorted { ($0.0, $0.1, $0.2 ?? "") < ($1.0, $1.1, $1.2 ?? "") }
            .map { type, name, version -> JSONValue in
                .object([
                    "type": type.isEmpty ? .null : .string(type),
                    "name": .string(name),
                    "version": version.map(JSONValue.string) ?? .null,
                ])
            }
        let base: JSONValue
        switch spec.base {
        case .imageType(let t): base = .object(["imageType": .string(trim(t))])
        case .managedImage(let m): base = .object(["managedImage": .string(trim(m))])
        case .external(let e): base = .object(["image": .string(trim(e))])
        }
        return .object([
            "base": base,
            "pythonVersion": spec.pythonVersion.map { .string(trim($0)) } ?? .null,
            "pipRequirements": .array(pip),
            "packageRequirements": .array(packages),
        ])
    }

    /// `sha256:<64 hex>` over the canonical JSON text of `canonicalSpec(spec)`.
    public static func specDigest(_ spec: ManagedImageSpec) -> String {
        "sha256:" + sha256Hex(canonicalSpec(spec).canonicalText)
    }

    /// The canonical JSON of all tag inputs. The base is identified by reference for catalog and external
    /// bases, and by parent name and parent tag (never the registry URI) for a managed parent.
    /// A non-root base user (which changes the Dockerfile) is an input only when set, so tags without one are unchanged.
    public static func tagInputs(specDigest: String, base: ResolvedBase, pythonVersion: String,
                                 platformVersion: String, packageType: PackageType, baseUser: String? = nil) -> JSONValue {
        let baseIdentity: JSONValue
        switch base {
        case .reference(let reference):
            baseIdentity = .object(["image": .string(reference)])
        case .managed(let name, let tag, _):
            baseIdentity = .object(["managedImage": .string(name), "tag": .string(tag)])
        }
        var inputs: [String: JSONValue] = [
            "scheme": .string(scheme),
            "specDigest": .string(specDigest),
            "base": baseIdentity,
            "pythonVersion": .string(pythonVersion),
            "platformVersion": .string(platformVersion),
            "packageType": .string(packageType.rawValue),
        ]
        if let baseUser { inputs["baseUser"] = .string(baseUser) }
        return .object(inputs)
    }

    /// `py<pythonVersion>-<20 hex>`: the hex is the start of SHA-256 over the canonical JSON of `tagInputs`.
    /// Characters of the Python version other than digits and `.` are dropped, so the tag is always a valid
    /// registry tag (≤ 128 of `[A-Za-z0-9_.-]`).
    public static func tag(specDigest: String, base: ResolvedBase, pythonVersion: String,
                           platformVersion: String, packageType: PackageType, baseUser: String? = nil) -> String {
        let inputs = tagInputs(specDigest: specDigest, base: base, pythonVersion: pythonVersion,
                               platformVersion: platformVersion, packageType: packageType, baseUser: baseUser)
        let hash = sha256Hex(inputs.canonicalText).prefix(hashLength)
        let python = String(pythonVersion.filter { $0.isASCII && ($0.isNumber || $0 == ".") }.prefix(16))
        return "py\(python.isEmpty ? "unknown" : python)-\(hash)"
    }

    /// A PEP 440 specifier set in canonical form: ASCII blanks removed (validated specifiers have none), clauses
    /// sorted and deduplicated. Text that does not parse is kept (trimmed) as it is, so the digest is still
    /// defined for input that bypassed validation.
    public static func canonicalSpecifier(_ text: String) -> String {
        guard let clauses = BuildInputGrammar.parsePipSpecifier(text.filter { $0 != " " && $0 != "\t" }) else { return trim(text) }
        return Set(clauses.map(\.description)).sorted().joined(separator: ",")
    }

    static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func trim(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }
}
