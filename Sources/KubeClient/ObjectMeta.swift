import Foundation
import MirModel

/// `metav1.ObjectMeta`. Fields the model does not declare (`managedFields`, `selfLink`, …) are kept in
/// `unknownFields` and written back, so a read-modify-update never drops them.
public struct ObjectMeta: Sendable, Hashable, Codable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int?
    public var creationTimestamp: Date?
    public var deletionTimestamp: Date?
    public var deletionGracePeriodSeconds: Int?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var finalizers: [String]?
    public var ownerReferences: [OwnerReference]?
    /// Every other metadata field, as sent by the server.
    public var unknownFields: [String: JSONValue]

    public init(name: String? = nil, generateName: String? = nil, namespace: String? = nil, uid: String? = nil,
                resourceVersion: String? = nil, generation: Int? = nil, creationTimestamp: Date? = nil,
                deletionTimestamp: Date? = nil, deletionGracePeriodSeconds: Int? = nil,
                labels: [String: String]? = nil, annotations: [String: String]? = nil, finalizers: [String]? = nil,
                ownerReferences: [OwnerReference]? = nil, unknownFields: [String: JSONValue] = [:]) {
        self.name = name
        self.generateName = generateName
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.generation = generation
        self.creationTimestamp = creationTimestamp
        self.deletionTimestamp = deletionTimestamp
        self.deletionGracePeriodSeconds = deletionGracePeriodSeconds
        self.labels = labels
        self.annotations = annotations
        self.finalizers = finalizers
        self.ownerReferences = ownerReferences
        self.unknownFields = unknownFields
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case name, generateName, namespace, uid, resourceVersion, generation, creationTimestamp, deletionTimestamp,
             deletionGracePeriodSeconds, labels, annotations, finalizers, ownerReferences
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        generateName = try c.decodeIfPresent(String.self, forKey: .generateName)
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace)
        uid = try c.decodeIfPresent(String.self, forKey: .uid)
        resourceVersion = try c.decodeIfPresent(String.self, forKey: .resourceVersion)
        generation = try c.decodeIfPresent(Int.self, forKey: .generation)
        creationTimestamp = try c.decodeIfPresent(Date.self, forKey: .creationTimestamp)
        deletionTimestamp = try c.decodeIfPresent(Date.self, forKey: .deletionTimestamp)
        deletionGracePeriodSeconds = try c.decodeIfPresent(Int.self, forKey: .deletionGracePeriodSeconds)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations)
        finalizers = try c.decodeIfPresent([String].self, forKey: .finalizers)
        ownerReferences = try c.decodeIfPresent([OwnerReference].self, forKey: .ownerReferences)
        unknownFields = try UnknownFields.decode(from: decoder, known: Set(CodingKeys.allCases.map(\.rawValue)))
    }

    public func encode(to encoder: Encoder) throws {
        try UnknownFields.encode(unknownFields, to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(generateName, forKey: .generateName)
        try c.encodeIfPresent(namespace, forKey: .namespace)
        try c.encodeIfPresent(uid, forKey: .uid)
        try c.encodeIfPresent(resourceVersion, forKey: .resourceVersion)
        try c.encodeIfPresent(generation, forKey: .generation)
        try c.encodeIfPresent(creationTimestamp, forKey: .creationTimestamp)
        try c.encodeIfPresent(deletionTimestamp, forKey: .deletionTimestamp)
        try c.encodeIfPresent(deletionGracePeriodSeconds, forKey: .deletionGracePeriodSeconds)
        try c.encodeIfPresent(labels, forKey: .labels)
        try c.encodeIfPresent(annotations, forKey: .annotations)
        try c.encodeIfPresent(finalizers, forKey: .finalizers)
        try c.encodeIfPresent(ownerReferences, forKey: .ownerReferences)
    }

    /// `namespace/name`, or `name` for cluster-scoped objects: the key used by caches and work queues.
    public var key: String {
        if let namespace, !namespace.isEmpty { return "\(namespace)/\(name ?? "")" }
        return name ?? ""
    }
}

public struct OwnerReference: Sendable, Hashable, Codable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil, blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// `metav1.Condition`.
public struct Condition: Sendable, Hashable, Codable {
    public var type: String
    /// `True`, `False` or `Unknown`.
    public var status: String
    public var observedGeneration: Int?
    public var lastTransitionTime: Date
    public var reason: String
    public var message: String

    public init(type: String, status: String, observedGeneration: Int? = nil, lastTransitionTime: Date, reason: String, message: String) {
        self.type = type
        self.status = status
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}

/// Any object as a `JSONValue`, with typed access to its metadata. Used for dynamic resources; conforms to
/// `Codable` so the generic verbs and the reflector work with it too.
public struct DynamicObject: Sendable, Hashable, Codable {
    public var json: JSONValue

    public init(_ json: JSONValue) { self.json = json }

    public init(from decoder: Decoder) throws { json = try JSONValue(from: decoder) }
    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }

    /// The decoded metadata (empty when the object has none).
    public var metadata: ObjectMeta {
        get { json["metadata"].flatMap { try? KubeJSON.fromJSONValue($0, as: ObjectMeta.self) } ?? ObjectMeta() }
        set {
            guard case .object(var o) = json, let m = try? KubeJSON.toJSONValue(newValue) else { return }
            o["metadata"] = m
            json = .object(o)
        }
    }
}
