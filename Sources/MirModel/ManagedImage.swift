/// A ManagedImage as declared by a user (YAML file or cluster resource), after validation.
public struct ManagedImage: Sendable, Hashable, Codable {
    public static let apiVersion = "mir.dev/v1alpha1"
    public static let kind = "ManagedImage"

    /// DNS-1123 label (≤ 63); also the ECR repository name suffix.
    public var name: String
    public var spec: ManagedImageSpec
    /// Where the document was declared, when it came from a file.
    public var source: SourceLocation?

    public init(name: String, spec: ManagedImageSpec, source: SourceLocation? = nil) {
        self.name = name
        self.spec = spec
        self.source = source
    }
}

public struct ManagedImageSpec: Sendable, Hashable, Codable {
    public var base: BaseImage
    /// "X.Y". Required unless the base is another ManagedImage (children inherit the parent's).
    public var pythonVersion: String?
    public var pipRequirements: [PipRequirement]
    public var packageRequirements: [PackageRequirement]
    /// An ECR lifecycle policy document; nil means the configured default.
    public var lifecyclePolicy: JSONValue?
    public var deletionPolicy: DeletionPolicy

    public init(
        base: BaseImage,
        pythonVersion: String? = nil,
        pipRequirements: [PipRequirement] = [],
        packageRequirements: [PackageRequirement] = [],
        lifecyclePolicy: JSONValue? = nil,
        deletionPolicy: DeletionPolicy = .delete
    ) {
        self.base = base
        self.pythonVersion = pythonVersion
        self.pipRequirements = pipRequirements
        self.packageRequirements = packageRequirements
        self.lifecyclePolicy = lifecyclePolicy
        self.deletionPolicy = deletionPolicy
    }
}

/// Exactly one of: a catalog image type, another ManagedImage, or an external image reference.
public enum BaseImage: Sendable, Hashable {
    case imageType(String)
    case managedImage(String)
    case external(String)
}

extension BaseImage: Codable {
    private enum Keys: String, CodingKey { case imageType, managedImage, image }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let present = [Keys.imageType, .managedImage, .image].filter { c.contains($0) }
        guard present.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "base must set exactly one of imageType, managedImage, image"))
        }
        switch present[0] {
        case .imageType: self = .imageType(try c.decode(String.self, forKey: .imageType))
        case .managedImage: self = .managedImage(try c.decode(String.self, forKey: .managedImage))
        case .image: self = .external(try c.decode(String.self, forKey: .image))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .imageType(let v): try c.encode(v, forKey: .imageType)
        case .managedImage(let v): try c.encode(v, forKey: .managedImage)
        case .external(let v): try c.encode(v, forKey: .image)
        }
    }
}

/// A pip requirement: a PEP 508 project name and an optional PEP 440 specifier set.
public struct PipRequirement: Sendable, Hashable, Codable {
    public var name: String
    public var versionSpecifier: String?

    public init(name: String, versionSpecifier: String? = nil) {
        self.name = name
        self.versionSpecifier = versionSpecifier
    }
}

/// An OS package requirement.
public struct PackageRequirement: Sendable, Hashable, Codable {
    public var name: String
    /// Must start with a digit when present.
    public var versionSpecifier: String?
    /// nil means the catalog entry's package type.
    public var type: PackageType?

    public init(name: String, versionSpecifier: String? = nil, type: PackageType? = nil) {
        self.name = name
        self.versionSpecifier = versionSpecifier
        self.type = type
    }
}

public enum PackageType: String, Sendable, Hashable, Codable, CaseIterable {
    case rpm, apt
}

public enum DeletionPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    case delete = "Delete"
    case retain = "Retain"
}

/// One installed Python distribution, as `pip list --format=json` reports it.
public struct PipLibrary: Sendable, Hashable, Codable {
    public var name: String
    public var version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }
}
