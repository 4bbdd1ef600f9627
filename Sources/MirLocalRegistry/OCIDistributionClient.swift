import AsyncHTTPClient
import Foundation
import MirRegistry
import NIOCore
import NIOHTTP1

/// Where the embedded registry's image data lives: an OCI distribution registry (e.g. the CNCF distribution
/// server, Debian's `docker-registry`) at `http://HOST:PORT`. Only loopback hosts may be reached over plain HTTP.
public struct OCIEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `http://127.0.0.1:5000` (no path, no trailing slash).
    public let baseURL: String
    /// `127.0.0.1:5000`: the registry part of image references.
    public let host: String

    public struct Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "OCI endpoint \"\(text)\": \(reason)" }
    }

    public init(parsing text: String) throws(Invalid) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let hostName = url.host, !hostName.isEmpty else {
            throw Invalid(text: text, reason: "expected http://HOST:PORT or https://HOST[:PORT]")
        }
        guard url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil, url.user == nil else {
            throw Invalid(text: text, reason: "must be a registry's root URL, without path, query or credentials")
        }
        let bracketed = hostName.contains(":") ? "[\(hostName)]" : hostName
        let authority = url.port.map { "\(bracketed):\($0)" } ?? bracketed
        if scheme == "http" {
            let loopback = hostName == "localhost" || hostName == "::1" || hostName.hasPrefix("127.")
            guard loopback else { throw Invalid(text: text, reason: "plain http is allowed only for a loopback registry (127.0.0.1, ::1, localhost); use https") }
        }
        baseURL = "\(scheme)://\(authority)"
        host = authority
    }

    public var description: String { baseURL }
}

/// A failed call to an OCI distribution registry, with the registry's error code when it sent one.
public struct OCIRegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var status: Int?
    /// The first `errors[].code` of the answer (`NAME_UNKNOWN`, `MANIFEST_UNKNOWN`, `MANIFEST_BLOB_UNKNOWN`, `UNAUTHORIZED`, `DENIED`, …).
    public var code: String?
    public var message: String
    public var description: String {
        "\(operation): " + (status.map { "HTTP \($0) " } ?? "") + (code.map { "\($0): " } ?? "") + message
    }
}

/// A small client of the OCI distribution API (v2): tags, manifests (HEAD/GET/PUT/DELETE). It speaks only what mir
/// needs to see and tidy images; images themselves are pushed by the build engine.
public struct OCIDistributionClient: Sendable {
    public let endpoint: OCIEndpoint
    let http: HTTPClient
    let authorization: String?
    public static let manifestMediaTypes = [
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    ]

    /// `credentials`: basic auth for a registry that requires it (e.g. htpasswd).
    public init(endpoint: OCIEndpoint, http: HTTPClient = .shared, credentials: (username: String, password: String)? = nil) {
        self.endpoint = endpoint
        self.http = http
        self.authorization = credentials.map { "Basic " + Data("\($0.username):\($0.password)".utf8).base64EncodedString() }
    }

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    func call(_ operation: String, _ method: HTTPMethod, _ path: String, accept: [String] = [], contentType: String? = nil,
              body: Data? = nil) async throws(OCIRegistryError) -> Answer {
        var request = HTTPClientRequest(url: endpoint.baseURL + path)
        request.method = method
        if !accept.isEmpty { request.headers.add(name: "Accept", value: accept.joined(separator: ", ")) }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await http.execute(request, timeout: .seconds(30))
            let collected = try await response.body.collect(upTo: 16 << 20)
            return Answer(status: Int(response.status.code), headers: response.headers, body: collected)
        } catch {
            throw OCIRegistryError(operation: operation, status: nil, code: nil, message: "\(endpoint.baseURL) cannot be reached: \(error)")
        }
    }

    func failure(_ operation: String, _ answer: Answer) -> OCIRegistryError {
        struct Errors: Decodable { struct Item: Decodable { var code: String?; var message: String? }; var errors: [Item]? }
        let decoded = try? JSONDecoder().decode(Errors.self, from: Data(answer.body.readableBytesView))
        let first = decoded?.errors?.first
        return OCIRegistryError(operation: operation, status: answer.status, code: first?.code,
                                message: first?.message ?? String(buffer: answer.body).prefix(300).description)
    }

    /// Every tag of a repository, following `Link: <…>; rel="next"`; empty when the repository is unknown.
    public func tags(repository: String) async throws(OCIRegistryError) -> [String] {
        var path: String? = "/v2/\(repository)/tags/list?n=1000"
        var all: [String] = []
        while let next = path {
            let answer = try await call("tags/list \(repository)", .GET, next)
            if answer.status == 404 { return [] }
            guard answer.status == 200 else { throw failure("tags/list \(repository)", answer) }
            struct Tags: Decodable { var tags: [String]? }
            guard let tags = try? JSONDecoder().decode(Tags.self, from: Data(answer.body.readableBytesView)) else {
                throw OCIRegistryError(operation: "tags/list \(repository)", status: 200, code: nil, message: "the answer is not a tag list")
            }
            all += tags.tags ?? []
            path = Self.nextLink(answer.headers["Link"].first)
        }
        return all
    }

    /// `</v2/…?n=…&last=…>; rel="next"` → the path.
    static func nextLink(_ header: String?) -> String? {
        guard let header, header.contains("rel=\"next\""), let open = header.firstIndex(of: "<"), let close = header.firstIndex(of: ">"),
              open < close else { return nil }
        let target = String(header[header.index(after: open)..<close])
        guard target.hasPrefix("/") else { return nil }
        return target
    }

    /// The digest of a manifest (by tag or digest) from a HEAD, nil when there is none.
    public func manifestDigest(repository: String, reference: String) async throws(OCIRegistryError) -> String? {
        let answer = try await call("HEAD manifest \(repository):\(reference)", .HEAD, "/v2/\(repository)/manifests/\(reference)",
                                    accept: Self.manifestMediaTypes)
        if answer.status == 404 { return nil }
        guard answer.status == 200 else { throw failure("HEAD manifest \(repository):\(reference)", answer) }
        return answer.headers["Docker-Content-Digest"].first
    }

    /// A manifest's text, media type and digest, nil when there is none.
    public func manifest(repository: String, reference: String) async throws(OCIRegistryError) -> (digest: String?, mediaType: String?, text: String)? {
        let answer = try await call("GET manifest \(repository):\(reference)", .GET, "/v2/\(repository)/manifests/\(reference)",
                                    accept: Self.manifestMediaTypes)
        if answer.status == 404 { return nil }
        guard answer.status == 200 else { throw failure("GET manifest \(repository):\(reference)", answer) }
        return (answer.headers["Docker-Content-Digest"].first, answer.headers["Content-Type"].first, String(buffer: answer.body))
    }

    /// Puts a manifest under a tag; returns its digest.
    public func putManifest(repository: String, tag: String, mediaType: String, text: String) async throws(OCIRegistryError) -> String? {
        let answer = try await call("PUT manifest \(repository):\(tag)", .PUT, "/v2/\(repository)/manifests/\(tag)",
                                    contentType: mediaType, body: Data(text.utf8))
        guard answer.status == 201 || answer.status == 200 else { throw failure("PUT manifest \(repository):\(tag)", answer) }
        return answer.headers["Docker-Content-Digest"].first
    }

    /// Deletes a manifest by digest (which removes every tag on it). A manifest already gone is not an error.
    public func deleteManifest(repository: String, digest: String) async throws(OCIRegistryError) {
        let answer = try await call("DELETE manifest \(repository)@\(digest)", .DELETE, "/v2/\(repository)/manifests/\(digest)")
        guard answer.status == 202 || answer.status == 200 || answer.status == 404 else {
            throw failure("DELETE manifest \(repository)@\(digest)", answer)
        }
    }
}
