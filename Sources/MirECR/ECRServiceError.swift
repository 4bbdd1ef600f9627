import Foundation

/// An error answer from ECR (or from something speaking for it), decoded as botocore decodes it.
public struct ECRServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error code, trimmed: `RepositoryNotFoundException`, `ThrottlingException`, `AccessDenied`, or the
    /// HTTP status as text when the answer carried no code.
    public var code: String
    public var message: String
    public var httpStatus: Int
    public var requestId: String?

    public init(code: String, message: String, httpStatus: Int, requestId: String? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.requestId = requestId
    }

    public var description: String { "\(code) (HTTP \(httpStatus)): \(message)" }
}

/// Decodes ECR error answers: awsJson (`__type`, `X-Amzn-ErrorType`, the `:` and `#` trimming,
/// `message`/`Message`, exactly as botocore's `BaseJSONParser._do_error_parse`), IAM-style XML (what moto sends
/// for auth failures), and bodies with no code at all (HTML 5xx from proxies or moto).
public enum ECRErrorDecoder {
    public static func decode(status: Int, headers: [(name: String, value: String)], body: [UInt8]) -> ECRServiceError {
        let headerCode = headers.first { $0.name.lowercased() == "x-amzn-errortype" }?.value
        let requestId = headers.first { $0.name.lowercased() == "x-amzn-requestid" }?.value
        let text = String(decoding: body, as: UTF8.self)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)

        var code: String?
        var message: String?
        if trimmed.hasPrefix("{"),
           let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] {
            code = object["__type"] as? String
            message = (object["message"] as? String) ?? (object["Message"] as? String)
        } else if trimmed.hasPrefix("<"), let xmlCode = xmlElement("Code", in: trimmed) {
            code = xmlCode
            message = xmlElement("Message", in: trimmed)
        }
        let rawCode = code ?? headerCode ?? String(status)
        let finalMessage = message ?? (trimmed.isEmpty || trimmed.hasPrefix("<") ? "HTTP \(status) with no error message" : String(trimmed.prefix(200)))
        return ECRServiceError(code: trimCode(rawCode), message: finalMessage, httpStatus: status, requestId: requestId)
    }

    /// botocore's trimming: drop everything from the first `:`, then keep what follows the last `#`.
    public static func trimCode(_ code: String) -> String {
        var result = Substring(code)
        if let colon = result.firstIndex(of: ":") { result = result[..<colon] }
        if let hash = result.lastIndex(of: "#") { result = result[result.index(after: hash)...] }
        return String(result)
    }

    static func xmlElement(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"),
              let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}

/// Error codes that mean "the caller may not do this" and "the caller could not be authenticated".
public enum ECRAuthErrorCodes {
    public static let accessDenied: Set<String> = ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                                                   "UnauthorizedException", "NotAuthorized"]
    public static let signature: Set<String> = ["SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature",
                                                "IncompleteSignatureException"]
    public static let credentials: Set<String> = ["InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken",
                                                  "ExpiredTokenException", "RequestExpired", "MissingAuthenticationToken",
                                                  "MissingAuthenticationTokenException", "InvalidAccessKeyId"]
}
