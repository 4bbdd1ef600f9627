import Foundation
import MirModel

/// `metav1.Status`: the body of every failed API call and of watch `ERROR` events.
public struct KubeStatus: Sendable, Hashable, Codable {
    public struct Details: Sendable, Hashable, Codable {
        public var name: String?
        public var group: String?
        /// The resource plural for NotFound/AlreadyExists/Conflict; the Kind for Invalid.
        public var kind: String?
        public var uid: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?

        public init(name: String? = nil, group: String? = nil, kind: String? = nil, uid: String? = nil,
                    causes: [Cause]? = nil, retryAfterSeconds: Int? = nil) {
            self.name = name
            self.group = group
            self.kind = kind
            self.uid = uid
            self.causes = causes
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    public struct Cause: Sendable, Hashable, Codable {
        public var reason: String?
        public var message: String?
        public var field: String?

        public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    /// "Success" or "Failure".
    public var status: String?
    public var message: String?
    public var reason: String?
    public var details: Details?
    public var code: Int?

    public init(status: String? = nil, message: String? = nil, reason: String? = nil, details: Details? = nil, code: Int? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }
}

/// A failed Kubernetes API call, decoded from `metav1.Status` when the server sent one.
public struct KubeAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What the client was doing, e.g. `update managedimages "web"`.
    public var operation: String
    /// The HTTP status code (or the Status `code` for watch `ERROR` events).
    public var statusCode: Int
    /// The machine-readable reason, e.g. `NotFound`, `Conflict`, `Expired`. Empty when unknown.
    public var reason: String
    public var message: String
    public var details: KubeStatus.Details?

    public init(operation: String, statusCode: Int, reason: String, message: String, details: KubeStatus.Details? = nil) {
        self.operation = operation
        self.statusCode = statusCode
        self.reason = reason
        self.message = message
        self.details = details
    }

    /// Builds the error from a response body: a `metav1.Status` when possible, else the raw text.
    public init(operation: String, statusCode: Int, body: Data) {
        if let status = try? JSONDecoder().decode(KubeStatus.self, from: body), status.reason != nil || status.message != nil {
            self.init(operation: operation, status: status, fallbackCode: statusCode)
        } else {
            let text = String(decoding: body.prefix(1024), as: UTF8.self)
            self.init(operation: operation, statusCode: statusCode, reason: KubeAPIError.defaultReason(for: statusCode),
                      message: text.isEmpty ? "HTTP \(statusCode)" : text)
        }
    }

    public init(operation: String, status: KubeStatus, fallbackCode: Int = 500) {
        let code = status.code ?? fallbackCode
        self.init(operation: operation, statusCode: code,
                  reason: status.reason ?? KubeAPIError.defaultReason(for: code),
                  message: status.message ?? "", details: status.details)
    }

    public var isNotFound: Bool { reason == "NotFound" || (statusCode == 404 && reason.isEmpty) }
    public var isAlreadyExists: Bool { reason == "AlreadyExists" }
    /// Optimistic-concurrency conflict (stale resourceVersion) or an apply conflict: 409 that is not AlreadyExists.
    public var isConflict: Bool { reason == "Conflict" || (statusCode == 409 && reason != "AlreadyExists") }
    /// 410: the resourceVersion or continue token is too old; relist.
    public var isGone: Bool { statusCode == 410 || reason == "Expired" || reason == "Gone" }
    public var isUnauthorized: Bool { statusCode == 401 }
    public var isForbidden: Bool { statusCode == 403 }
    public var isInvalid: Bool { reason == "Invalid" || statusCode == 422 }
    public var isTooManyRequests: Bool { statusCode == 429 }

    public var description: String {
        "\(operation): \(reason.isEmpty ? "HTTP \(statusCode)" : reason) (\(statusCode)): \(message)"
    }

    static func defaultReason(for code: Int) -> String {
        switch code {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 405: "MethodNotAllowed"
        case 406: "NotAcceptable"
        case 409: "Conflict"
        case 410: "Expired"
        case 413: "RequestEntityTooLarge"
        case 415: "UnsupportedMediaType"
        case 422: "Invalid"
        case 429: "TooManyRequests"
        case 500: "InternalError"
        case 503: "ServiceUnavailable"
        case 504: "Timeout"
        default: ""
        }
    }
}

/// A failure that is not an API status: transport, TLS, decoding, configuration, credentials.
public struct KubeClientError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var message: String

    public init(operation: String, message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }
}
