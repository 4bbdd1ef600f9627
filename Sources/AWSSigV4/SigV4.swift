import Crypto
import Foundation
import Synchronization

/// AWS Signature Version 4 (header-based), matching botocore's `SigV4Auth`.
///
/// A value type: it holds credentials, region and service and signs requests for a caller-supplied date (the clock is
/// injected by passing `date`). The derived signing key is cached per day.
public struct SigV4Signer: Sendable {
    public let credentials: AWSCredentials
    public let region: String
    public let service: String
    private let keyCache = SigningKeyCache()

    /// The algorithm name in the string to sign and in the Authorization header.
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// Header names botocore never signs (`SIGNED_HEADERS_BLACKLIST`): proxies and load balancers rewrite them.
    public static let unsignedHeaderNames: Set<String> = [
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    // MARK: Signing

    /// The headers to send: the input headers plus `Host` (when absent, derived from the URL like botocore: lowercase,
    /// with the port only when it is not the scheme's default), `X-Amz-Date`, `X-Amz-Security-Token` (when the
    /// credentials carry a session token; it is signed) and `Authorization`.
    ///
    /// Input headers named `Authorization` and `X-Amz-Date` (and, with a session token, `X-Amz-Security-Token`) are
    /// replaced.
    public func sign(
        method: String, url: URL, headers: [(name: String, value: String)], body: [UInt8], date: Date
    ) -> [(name: String, value: String)] {
        let prepared = prepare(url: url, headers: headers, date: date)
        let canonical = canonicalRequest(method: method, url: url, preparedHeaders: prepared.headers, body: body)
        let toSign = stringToSign(canonicalRequest: canonical.text, date: date)
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKeyId)/\(credentialScope(date: date)), "
            + "SignedHeaders=\(canonical.signedHeaders), Signature=\(signature(stringToSign: toSign, date: date))"
        var out = prepared.headers
        if !prepared.hadHost { out.insert((name: "Host", value: prepared.host), at: 0) }
        out.append((name: "Authorization", value: authorization))
        return out
    }

    /// The canonical request for the request `sign` would send (including the `host`, `x-amz-date` and
    /// `x-amz-security-token` headers it adds).
    public func canonicalRequest(
        method: String, url: URL, headers: [(name: String, value: String)], body: [UInt8], date: Date
    ) -> String {
        let prepared = prepare(url: url, headers: headers, date: date)
        return canonicalRequest(method: method, url: url, preparedHeaders: prepared.headers, body: body).text
    }

    /// `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex sha256 of the canonical request>`.
    public func stringToSign(canonicalRequest: String, date: Date) -> String {
        [Self.algorithm, Self.amzDate(date), credentialScope(date: date), Self.hexSHA256(Array(canonicalRequest.utf8))]
            .joined(separator: "\n")
    }

    /// The hex signature of a string to sign, with the signing key for `date`'s day.
    public func signature(stringToSign: String, date: Date) -> String {
        let key = SymmetricKey(data: signingKey(date: date))
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// `YYYYMMDD/region/service/aws4_request`.
    public func credentialScope(date: Date) -> String {
        "\(Self.amzDate(date).prefix(8))/\(region)/\(service)/aws4_request"
    }

    /// The derived signing key `kSigning` for `date`'s day (cached per day).
    public func signingKey(date: Date) -> [UInt8] {
        let day = String(Self.amzDate(date).prefix(8))
        if let cached = keyCache.key(forDay: day) { return cached }
        func hmac(_ key: [UInt8], _ message: String) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: key)))
        }
        let kDate = hmac(Array("AWS4\(credentials.secretAccessKey)".utf8), day)
        let kSigning = hmac(hmac(hmac(kDate, region), service), "aws4_request")
        keyCache.store(kSigning, forDay: day)
        return kSigning
    }

    // MARK: Canonical request parts

    private struct PreparedHeaders {
        var headers: [(name: String, value: String)]
        var host: String
        var hadHost: Bool
    }

    /// Drops headers the signer sets itself, then appends `X-Amz-Date` and, with a session token,
    /// `X-Amz-Security-Token` (botocore's `_modify_request_before_signing`).
    private func prepare(url: URL, headers: [(name: String, value: String)], date: Date) -> PreparedHeaders {
        var replaced: Set<String> = ["authorization", "x-amz-date"]
        if credentials.sessionToken != nil { replaced.insert("x-amz-security-token") }
        var out = headers.filter { !replaced.contains($0.name.lowercased()) }
        out.append((name: "X-Amz-Date", value: Self.amzDate(date)))
        if let token = credentials.sessionToken { out.append((name: "X-Amz-Security-Token", value: token)) }
        let hadHost = out.contains { $0.name.lowercased() == "host" }
        return PreparedHeaders(headers: out, host: Self.hostHeader(for: url), hadHost: hadHost)
    }

    private func canonicalRequest(
        method: String, url: URL, preparedHeaders: [(name: String, value: String)], body: [UInt8]
    ) -> (text: String, signedHeaders: String) {
        var valuesByName: [String: [String]] = [:]
        for header in preparedHeaders {
            let name = header.name.lowercased()
            if Self.unsignedHeaderNames.contains(name) { continue }
            valuesByName[name, default: []].append(Self.trimAll(header.value))
        }
        if valuesByName["host"] == nil { valuesByName["host"] = [Self.hostHeader(for: url)] }
        let names = valuesByName.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let canonicalHeaders = names.map { "\($0):\(valuesByName[$0]!.joined(separator: ","))" }.joined(separator: "\n")
        let signedHeaders = names.joined(separator: ";")
        let text = [
            method.uppercased(),
            canonicalURI(url),
            Self.canonicalQueryString(url),
            canonicalHeaders + "\n",
            signedHeaders,
            Self.hexSHA256(body),
        ].joined(separator: "\n")
        return (text, signedHeaders)
    }

    /// Non-S3: the wire path with dot segments and empty segments removed, then URI-encoded again (double encoding).
    /// S3: the wire path unchanged.
    private func canonicalURI(_ url: URL) -> String {
        let wirePath = Self.wirePath(url)
        if service == "s3" { return wirePath.isEmpty ? "/" : wirePath }
        let normalized = Self.removeDotSegments(wirePath)
        return Self.uriEncode(normalized.isEmpty ? "/" : normalized, keepingSlash: true)
    }

    // MARK: Helpers (public for tests and adapters)

    /// `YYYYMMDDTHHMMSSZ` in UTC, seconds truncated.
    public static func amzDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian calendar.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + "T" + pad(secondOfDay / 3600, 2)
            + pad(secondOfDay / 60 % 60, 2) + pad(secondOfDay % 60, 2) + "Z"
    }

    /// The `Host` header botocore derives from a URL: lowercase host (IPv6 in brackets), with `:port` only when the
    /// port is not the scheme's default.
    public static func hostHeader(for url: URL) -> String {
        var host = (url.host(percentEncoded: true) ?? "").lowercased()
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        if let port = url.port {
            let defaultPort: Int? = switch url.scheme?.lowercased() {
            case "http": 80
            case "https": 443
            default: nil
            }
            if port != defaultPort { host += ":\(port)" }
        }
        return host
    }

    /// The canonical query string: every key and value percent-decoded from the URL, then URI-encoded (including
    /// `/`), sorted by encoded key then value; `key=` for an empty value.
    public static func canonicalQueryString(_ url: URL) -> String {
        guard let query = url.query(percentEncoded: true), !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = percentDecode(String(parts[0]))
            let value = parts.count > 1 ? percentDecode(String(parts[1])) : []
            return (uriEncode(key), uriEncode(value))
        }
        return pairs.sorted { lhs, rhs in
            lhs.0 == rhs.0 ? lhs.1.utf8.lexicographicallyPrecedes(rhs.1.utf8) : lhs.0.utf8.lexicographicallyPrecedes(rhs.0.utf8)
        }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986 unreserved bytes stay; every other UTF-8 byte becomes `%XX` (uppercase hex).
    public static func uriEncode(_ text: String, keepingSlash: Bool = false) -> String {
        uriEncode(Array(text.utf8), keepingSlash: keepingSlash)
    }

    /// Byte-level form of ``uriEncode(_:keepingSlash:)``.
    public static func uriEncode(_ bytes: [UInt8], keepingSlash: Bool = false) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in bytes {
            let unreserved = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            if unreserved || (keepingSlash && byte == 0x2F) {
                out.append(byte)
            } else {
                out += [0x25, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Trims the value's ends and folds internal whitespace runs to one space (Python's `' '.join(value.split())`).
    public static func trimAll(_ value: String) -> String {
        var words: [Substring.UnicodeScalarView] = []
        var current = Substring.UnicodeScalarView()
        for scalar in value.unicodeScalars {
            if isPythonWhitespace(scalar) {
                if !current.isEmpty { words.append(current); current = Substring.UnicodeScalarView() }
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words.map { String(Substring($0)) }.joined(separator: " ")
    }

    /// botocore's `remove_dot_segments`: drops empty and `.` segments, resolves `..`, keeps a leading and (when
    /// something remains) a trailing slash.
    public static func removeDotSegments(_ path: String) -> String {
        guard !path.isEmpty else { return "" }
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) where !segment.isEmpty && segment != "." {
            if segment == ".." {
                if !output.isEmpty { output.removeLast() }
            } else {
                output.append(segment)
            }
        }
        let first = path.hasPrefix("/") ? "/" : ""
        let last = path.hasSuffix("/") && !output.isEmpty ? "/" : ""
        return first + output.joined(separator: "/") + last
    }

    /// Lowercase hex SHA-256 of `bytes`.
    public static func hexSHA256(_ bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    // MARK: Private helpers

    private static func wirePath(_ url: URL) -> String {
        url.path(percentEncoded: true)
    }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in digest { out += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]] }
        return String(decoding: out, as: UTF8.self)
    }

    private static func percentDecode(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out = [UInt8]()
        var index = 0
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x41 + 10
            case 0x61...0x66: byte - 0x61 + 10
            default: nil
            }
        }
        while index < bytes.count {
            if bytes[index] == 0x25, index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    /// The characters Python's `str.split()` splits on (`str.isspace`).
    private static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            true
        default:
            false
        }
    }
}

/// Caches the derived signing key for the most recent day. Shared by copies of a signer.
private final class SigningKeyCache: Sendable {
    private let entry = Mutex<(day: String, key: [UInt8])?>(nil)

    func key(forDay day: String) -> [UInt8]? {
        entry.withLock { $0?.day == day ? $0?.key : nil }
    }

    func store(_ key: [UInt8], forDay day: String) {
        entry.withLock { $0 = (day, key) }
    }
}
