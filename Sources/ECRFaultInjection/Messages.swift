import Foundation

/// One HTTP request as the fault-injecting server received it.
public struct InjectedRequest: Sendable {
    /// 1-based arrival order across the server's lifetime.
    public var sequenceNumber: Int
    public var method: String
    /// Path and query as sent, e.g. `/`.
    public var uri: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Seconds since the server started (monotonic), when the request's last byte arrived.
    public var receivedAt: Double

    public init(sequenceNumber: Int, method: String, uri: String, headers: [(name: String, value: String)], body: [UInt8], receivedAt: Double) {
        self.sequenceNumber = sequenceNumber
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.receivedAt = receivedAt
    }

    /// The first value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The awsJson1_1 operation named by `X-Amz-Target` (the part after the last `.`), e.g. `CreateRepository`.
    public var operation: String? {
        guard let target = header("X-Amz-Target") else { return nil }
        return target.split(separator: ".").last.map(String.init)
    }

    /// The body parsed as a JSON object, or nil.
    public var jsonBody: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }
}

/// A complete HTTP response to send back.
public struct InjectedResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// An awsJson1_1 success response with the given JSON object.
    public static func json(_ object: [String: Any], status: Int = 200) -> InjectedResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return InjectedResponse(status: status, headers: [("Content-Type", "application/x-amz-json-1.1"),
                                                          ("x-amzn-RequestId", UUID().uuidString)], body: Array(data))
    }

    /// An error shaped as real ECR sends it: JSON `__type` + `message`, and `X-Amzn-ErrorType`.
    /// `typePrefix` lets a test send the namespaced form (`com.amazonaws.ecr#X`); `typeSuffix` the `:http://…` form.
    public static func ecrError(_ code: String, message: String, status: Int = 400,
                                typePrefix: String = "", typeSuffix: String = "", messageKey: String = "message",
                                includeTypeInBody: Bool = true, includeTypeHeader: Bool = true) -> InjectedResponse {
        var object: [String: Any] = [messageKey: message]
        if includeTypeInBody { object["__type"] = typePrefix + code + typeSuffix }
        var response = json(object, status: status)
        if includeTypeHeader { response.headers.append(("X-Amzn-ErrorType", code + typeSuffix)) }
        return response
    }

    /// ThrottlingException as ECR sends it (HTTP 400, "Rate exceeded").
    public static var throttling: InjectedResponse { ecrError("ThrottlingException", message: "Rate exceeded") }

    /// A 5xx ServerException with a JSON body.
    public static func serverError(status: Int = 500) -> InjectedResponse {
        ecrError("ServerException", message: "Internal service error", status: status)
    }

    /// A 5xx with an HTML body and no error code, as Werkzeug (moto) or a load balancer sends it.
    public static func htmlError(status: Int) -> InjectedResponse {
        InjectedResponse(status: status, headers: [("Content-Type", "text/html; charset=utf-8")],
                         body: Array("<html><body><h1>\(status) Error</h1></body></html>".utf8))
    }

    /// An IAM-style XML error (how moto reports auth failures for ECR), HTTP 403 by default.
    public static func xmlError(_ code: String, message: String, status: Int = 403) -> InjectedResponse {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Errors><Error><Code>\(code)</Code>"
            + "<Message>\(message)</Message><Type>Sender</Type></Error></Errors><RequestId>\(UUID().uuidString)</RequestId></ErrorResponse>"
        return InjectedResponse(status: status, headers: [("Content-Type", "text/html; charset=utf-8")], body: Array(xml.utf8))
    }
}
