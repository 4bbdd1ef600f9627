import Foundation
import MirModel
import SwiftProtobuf

/// Why a protobuf request body could not be turned into a Kubernetes object.
public enum KubeProtobufError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The body lacks the `k8s\0` envelope prefix.
    case missingEnvelope
    /// The bytes are not valid protobuf for the expected message.
    case malformed(String)
    /// The envelope names a content encoding (none is defined for request bodies).
    case unsupportedContentEncoding(String)
    /// A kind this decoder has no schema for.
    case unsupportedKind(apiVersion: String, kind: String)
    /// Fields outside the .proto subset: decoding them would drop data. `fields` are `path (field N of message)`.
    case unknownFields(apiVersion: String, kind: String, fields: [String])
    /// A field type the subset never uses (kept as an error rather than a guess).
    case unsupportedFieldType(message: String, fieldNumber: Int)

    public var description: String {
        switch self {
        case .missingEnvelope:
            return "the protobuf body lacks the k8s\\0 envelope prefix"
        case .malformed(let detail):
            return "the protobuf body is malformed: \(detail)"
        case .unsupportedContentEncoding(let encoding):
            return "the protobuf envelope's contentEncoding \"\(encoding)\" is not supported"
        case .unsupportedKind(let apiVersion, let kind):
            return "mir dev decodes protobuf bodies only for \(KubeProtobufBody.supportedKindsText); \(kind) (\(apiVersion)) must be sent as JSON"
        case .unknownFields(let apiVersion, let kind, let fields):
            return "the protobuf \(kind) (\(apiVersion)) has fields mir dev's protobuf subset does not know: \(fields.joined(separator: ", ")); send it as JSON"
        case .unsupportedFieldType(let message, let number):
            return "field \(number) of \(message) has a protobuf type the Kubernetes subset does not use"
        }
    }
}

/// Decodes a Kubernetes protobuf request body (`application/vnd.kubernetes.protobuf`): the `k8s\0` prefix, the
/// `runtime.Unknown` envelope, then the kind's message, into the JSON object Go's encoding/json would write for the
/// same typed object (what kubectl sends when it sends JSON).
public enum KubeProtobufBody {
    public static let mediaType = "application/vnd.kubernetes.protobuf"
    static let magic: [UInt8] = [0x6b, 0x38, 0x73, 0x00]

    /// The kinds whose messages the subset in Protos/ covers, by `apiVersion` and `kind`.
    static let kinds: [String: any SwiftProtobuf.Message.Type] = [
        "v1/Namespace": K8s_Io_Api_Core_V1_Namespace.self,
        "v1/ConfigMap": K8s_Io_Api_Core_V1_ConfigMap.self,
        "v1/Secret": K8s_Io_Api_Core_V1_Secret.self,
        "v1/ServiceAccount": K8s_Io_Api_Core_V1_ServiceAccount.self,
        "v1/Service": K8s_Io_Api_Core_V1_Service.self,
        "batch/v1/Job": K8s_Io_Api_Batch_V1_Job.self,
        "apps/v1/Deployment": K8s_Io_Api_Apps_V1_Deployment.self,
        "rbac.authorization.k8s.io/v1/Role": K8s_Io_Api_Rbac_V1_Role.self,
        "rbac.authorization.k8s.io/v1/ClusterRole": K8s_Io_Api_Rbac_V1_ClusterRole.self,
        "rbac.authorization.k8s.io/v1/RoleBinding": K8s_Io_Api_Rbac_V1_RoleBinding.self,
        "rbac.authorization.k8s.io/v1/ClusterRoleBinding": K8s_Io_Api_Rbac_V1_ClusterRoleBinding.self,
        "policy/v1/PodDisruptionBudget": K8s_Io_Api_Policy_V1_PodDisruptionBudget.self,
        "authorization.k8s.io/v1/SelfSubjectAccessReview": K8s_Io_Api_Authorization_V1_SelfSubjectAccessReview.self,
        "authorization.k8s.io/v1/SelfSubjectRulesReview": K8s_Io_Api_Authorization_V1_SelfSubjectRulesReview.self,
    ]

    public static var supportedKinds: [String] { kinds.keys.sorted() }
    static var supportedKindsText: String { supportedKinds.joined(separator: ", ") }

    /// The envelope of a message: `k8s\0` + `runtime.Unknown{typeMeta, raw}`.
    public static func envelope<M: SwiftProtobuf.Message>(_ message: M, apiVersion: String, kind: String) throws -> Data {
        var unknown = K8s_Io_Apimachinery_Pkg_Runtime_Unknown()
        unknown.typeMeta.apiVersion = apiVersion
        unknown.typeMeta.kind = kind
        unknown.raw = try message.serializedData()
        unknown.contentEncoding = ""
        unknown.contentType = ""
        return Data(magic) + (try unknown.serializedData())
    }

    /// The JSON object of a protobuf request body.
    public static func decode(_ body: Data) throws(KubeProtobufError) -> JSONValue {
        guard body.count >= magic.count, Array(body.prefix(magic.count)) == magic else { throw .missingEnvelope }
        let unknown: K8s_Io_Apimachinery_Pkg_Runtime_Unknown
        do { unknown = try K8s_Io_Apimachinery_Pkg_Runtime_Unknown(serializedBytes: body.dropFirst(magic.count)) } catch {
            throw .malformed("runtime.Unknown: \(error)")
        }
        let apiVersion = unknown.typeMeta.apiVersion
        let kind = unknown.typeMeta.kind
        if !unknown.unknownFields.data.isEmpty || !unknown.typeMeta.unknownFields.data.isEmpty {
            throw .unknownFields(apiVersion: apiVersion, kind: kind, fields: ["the runtime.Unknown envelope"])
        }
        if !unknown.contentEncoding.isEmpty { throw .unsupportedContentEncoding(unknown.contentEncoding) }
        guard let type = kinds["\(apiVersion)/\(kind)"] else { throw .unsupportedKind(apiVersion: apiVersion, kind: kind) }
        let message: any SwiftProtobuf.Message
        do { message = try type.init(serializedBytes: unknown.raw) } catch {
            throw .malformed("\(kind) (\(apiVersion)): \(error)")
        }
        var object: [String: JSONValue]
        do { object = try GoJSON.object(of: message) } catch let error as GoJSON.UnknownFields {
            throw .unknownFields(apiVersion: apiVersion, kind: kind, fields: error.fields)
        } catch let error as GoJSON.UnsupportedType {
            throw .unsupportedFieldType(message: error.message, fieldNumber: error.fieldNumber)
        } catch {
            throw .malformed("\(error)")
        }
        if !kind.isEmpty { object["kind"] = .string(kind) }
        if !apiVersion.isEmpty { object["apiVersion"] = .string(apiVersion) }
        return .object(object)
    }
}
