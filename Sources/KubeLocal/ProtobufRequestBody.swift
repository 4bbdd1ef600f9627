import Foundation
import KubeProtobuf
import MirModel

/// Request bodies in `application/vnd.kubernetes.protobuf` (what kubectl's imperative `create` commands send for
/// built-in kinds), decoded to the JSON object the JSON path would receive. Answers stay JSON: clients that send
/// protobuf accept `application/json` too.
enum ProtobufRequestBody {
    static func decode(_ body: Data) throws -> JSONValue {
        do { return try KubeProtobufBody.decode(body) } catch {
            switch error {
            case .missingEnvelope, .malformed:
                throw APIError.badRequest("the object provided is unrecognized: \(error)")
            case .unsupportedKind, .unknownFields, .unsupportedContentEncoding, .unsupportedFieldType:
                throw APIError(code: 415, reason: "UnsupportedMediaType", message: error.description)
            }
        }
    }
}
