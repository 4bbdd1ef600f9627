import Foundation
import MirModel

/// Identifies a resource type on the API server: group, version, plural, kind and scope.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    /// Empty for the core group.
    public var group: String
    public var version: String
    public var plural: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    /// `v1` for the core group, else `group/version`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `plural.group` (or `plural` for the core group), as used in error messages.
    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// `/api/v1` or `/apis/<group>/<version>`.
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The path of the collection (namespace nil on a namespaced type means all namespaces), an object, or a
    /// subresource. Path segments are percent-encoded.
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var p = groupVersionPath
        if namespaced, let namespace {
            p += "/namespaces/" + ResourceType.escape(namespace)
        }
        p += "/" + plural
        if let name {
            p += "/" + ResourceType.escape(name)
            if let subresource { p += "/" + subresource }
        }
        return p
    }

    static func escape(_ segment: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:@")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }
}

/// A typed Kubernetes resource. Conformers describe their type statically and expose `metadata`.
public protocol KubeResource: Codable, Sendable {
    static var group: String { get }
    static var version: String { get }
    static var plural: String { get }
    static var kind: String { get }
    static var namespaced: Bool { get }
    var metadata: ObjectMeta { get set }
}

extension KubeResource {
    public static var resourceType: ResourceType {
        ResourceType(group: group, version: version, plural: plural, kind: kind, namespaced: namespaced)
    }
    public static var apiVersion: String { resourceType.apiVersion }
}

/// A list response: `items` plus the list metadata (resourceVersion, continue token).
public struct KubeList<Item: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [Item]

    private enum CodingKeys: String, CodingKey { case metadata, items }

    public init(metadata: ListMeta, items: [Item]) {
        self.metadata = metadata
        self.items = items
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        // A null `items` is what the API sends for an empty list of some kinds.
        items = try c.decodeIfPresent([Item].self, forKey: .items) ?? []
    }
}

public struct ListMeta: Sendable, Hashable, Codable {
    public var resourceVersion: String?
    /// Present while more pages remain; pass it back as `continue`.
    public var `continue`: String?
    public var remainingItemCount: Int?

    public init(resourceVersion: String? = nil, continue: String? = nil, remainingItemCount: Int? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = `continue`
        self.remainingItemCount = remainingItemCount
    }
}
