import AsyncHTTPClient
import Foundation
import Logging
import MirModel
import NIOCore
import NIOHTTP1
import NIOSSL

/// A Kubernetes API client: typed verbs over `KubeResource`, dynamic verbs over `ResourceType` + `DynamicObject`,
/// watches as async streams. Create one per configuration and call `shutdown()` when done.
public actor KubeClient {
    public nonisolated let config: KubeConfig
    /// The namespace used when a namespaced call names none (the context's or service account's namespace).
    public nonisolated let defaultNamespace: String
    public nonisolated let authenticator: Authenticator
    private let logger: Logger
    private let baseURL: String
    private let tlsServerNameOverride: (host: String, realHost: String)?
    private var http: HTTPClient?
    private var httpIdentity: Credentials?
    private var retiredClients: [HTTPClient] = []
    private var isShutDown = false
    /// Deadline for the response head of ordinary (non-watch) requests.
    private let requestTimeout: TimeAmount
    /// Largest response body read for non-watch requests.
    private static let maxBodyBytes = 256 * 1024 * 1024

    /// Largest wait for a TCP connection (AHC keeps retrying a refused connection until then).
    private let connectTimeout: TimeAmount

    /// - Parameters:
    ///   - authenticator: supplies credentials; by default one built from `config`.
    ///   - requestTimeout: deadline for the response head of each request (watch bodies are not limited by it).
    ///   - connectTimeout: deadline for establishing a connection.
    public init(config: KubeConfig, authenticator: Authenticator? = nil, requestTimeout: Duration = .seconds(60),
                connectTimeout: Duration = .seconds(10), logger: Logger = Logger(label: "mir.kubeclient")) throws {
        let op = "configure Kubernetes client for \(config.server)"
        guard let url = URL(string: config.server), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = url.host, !host.isEmpty else {
            throw KubeClientError(operation: op, message: "server must be an http(s) URL with a host")
        }
        self.config = config
        self.defaultNamespace = config.namespace
        self.authenticator = authenticator ?? Authenticator(config: config)
        self.logger = logger
        self.requestTimeout = Self.timeAmount(requestTimeout)
        self.connectTimeout = Self.timeAmount(connectTimeout)
        var base = config.server
        while base.hasSuffix("/") { base.removeLast() }
        if let serverName = config.tlsServerName, !serverName.isEmpty, scheme == "https" {
            // Connect to the real host but use tls-server-name for SNI and certificate verification.
            var components = URLComponents(string: base)!
            components.host = serverName
            base = components.string ?? base
            tlsServerNameOverride = (serverName, host)
        } else {
            tlsServerNameOverride = nil
        }
        self.baseURL = base
        // Validate TLS material now so configuration errors surface at construction.
        _ = try Self.makeTLSConfiguration(config: config, identity: Credentials(clientCertificatePEM: config.clientCertificatePEM,
                                                                                clientKeyPEM: config.clientKeyPEM))
    }

    /// HTTP clients not shut down yet (0 after `shutdown()`, whatever requests were in flight).
    var openHTTPClients: Int { retiredClients.count + (http == nil ? 0 : 1) }

    /// Closes connections (ends open watches). Call once when done with the client.
    public func shutdown() async throws {
        isShutDown = true
        let clients = retiredClients + (http.map { [$0] } ?? [])
        http = nil
        retiredClients = []
        for client in clients { try await client.shutdown() }
    }

    // MARK: Typed verbs

    /// GET one object.
    public func get<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil) async throws -> R {
        try await get(R.resourceType, name: name, namespace: namespace, as: R.self)
    }

    /// One page of a list (all of it when `options.limit` is nil). A nil namespace lists across all namespaces.
    public func list<R: KubeResource>(_ type: R.Type, namespace: String? = nil, options: ListOptions = ListOptions()) async throws -> KubeList<R> {
        try await list(R.resourceType, namespace: namespace, options: options, as: R.self)
    }

    /// Every page of a list, following `continue` tokens; the result carries the snapshot's resourceVersion.
    /// `transform` is applied to each page's items as the page arrives (so a cache that keeps less never holds
    /// every whole object at once).
    public func listAll<R: KubeResource>(_ type: R.Type, namespace: String? = nil, options: ListOptions = ListOptions(),
                                         pageSize: Int = 500, transform: (@Sendable (R) -> R)? = nil) async throws -> KubeList<R> {
        try await listAll(R.resourceType, namespace: namespace, options: options, pageSize: pageSize, as: R.self, transform: transform)
    }

    /// A watch stream. It ends cleanly when the server closes it (timeoutSeconds); iterate again from the last version.
    public nonisolated func watch<R: KubeResource>(_ type: R.Type, namespace: String? = nil,
                                                   options: WatchOptions = WatchOptions()) -> AsyncThrowingStream<WatchEvent<R>, Error> {
        watch(R.resourceType, namespace: namespace, options: options, as: R.self)
    }

    /// POST a new object; the namespace comes from the object's metadata, then `namespace`, then the default.
    public func create<R: KubeResource>(_ object: R, namespace: String? = nil) async throws -> R {
        try await create(R.resourceType, object: object, namespace: namespace)
    }

    /// PUT the whole object. A stale `resourceVersion` throws `KubeAPIError` with `isConflict`.
    public func update<R: KubeResource>(_ object: R) async throws -> R {
        try await update(R.resourceType, object: object, subresource: nil)
    }

    /// PUT the object to its `/status` subresource (only `status` is taken by the server).
    public func updateStatus<R: KubeResource>(_ object: R) async throws -> R {
        try await update(R.resourceType, object: object, subresource: "status")
    }

    /// PATCH an object (or its subresource) with a merge, JSON or strategic-merge patch.
    public func patch<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil, patch: Patch,
                                       subresource: String? = nil, fieldManager: String? = nil) async throws -> R {
        try await self.patch(R.resourceType, name: name, namespace: namespace, patch: patch, subresource: subresource,
                        fieldManager: fieldManager, as: R.self)
    }

    /// Server-side apply: sends the object as the fields `fieldManager` owns; creates it when missing.
    public func apply<R: KubeResource>(_ object: R, fieldManager: String, force: Bool = true, subresource: String? = nil,
                                       namespace: String? = nil) async throws -> R {
        try await apply(R.resourceType, object: object, fieldManager: fieldManager, force: force, subresource: subresource,
                        namespace: namespace)
    }

    /// DELETE an object. Returns the object when the server kept it (finalizers pending), nil when it is gone.
    @discardableResult
    public func delete<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil,
                                        options: DeleteOptions = DeleteOptions()) async throws -> R? {
        try await delete(R.resourceType, name: name, namespace: namespace, options: options, as: R.self)
    }

    /// Reads the latest object, applies `mutate`, and updates it, retrying on conflicts (client-go's RetryOnConflict:
    /// up to `attempts` tries, ~10 ms apart). `mutate` returning false skips the update. `current`: a copy the caller
    /// just read, used for the first attempt instead of a GET (its resourceVersion guards the update; a conflict
    /// re-reads).
    public func modify<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil, attempts: Int = 5,
                                        subresource: String? = nil, startingFrom current: R? = nil,
                                        _ mutate: @Sendable (inout R) throws -> Bool) async throws -> R {
        var attempt = 0
        while true {
            attempt += 1
            var object: R
            if attempt == 1, let current { object = current } else { object = try await get(type, name: name, namespace: namespace) }
            guard try mutate(&object) else { return object }
            do {
                return try await update(R.resourceType, object: object, subresource: subresource)
            } catch let error as KubeAPIError where error.isConflict && attempt < attempts {
                logger.debug("conflict updating \(R.resourceType) \(name); retrying", metadata: ["attempt": "\(attempt)"])
                try await Task.sleep(for: .milliseconds(10 + Int.random(in: 0...1)))
            }
        }
    }

    // MARK: Dynamic verbs (any resource type, any Decodable shape; `DynamicObject` for untyped JSON)

    public func get<T: Decodable & Sendable>(_ type: ResourceType, name: String, namespace: String? = nil,
                                             as: T.Type) async throws -> T {
        let path = type.path(namespace: resolveNamespace(type, namespace), name: name)
        return try await decode(T.self, from: send(.GET, path, operation: "get \(type) \"\(name)\"").body,
                                operation: "get \(type) \"\(name)\"")
    }

    public func list<T: Decodable & Sendable>(_ type: ResourceType, namespace: String? = nil, options: ListOptions = ListOptions(),
                                              as: T.Type) async throws -> KubeList<T> {
        let op = "list \(type)"
        let path = type.path(namespace: type.namespaced ? namespace : nil)
        return try await decode(KubeList<T>.self, from: send(.GET, path, query: options.query, operation: op).body, operation: op)
    }

    public func listAll<T: Decodable & Sendable>(_ type: ResourceType, namespace: String? = nil, options: ListOptions = ListOptions(),
                                                 pageSize: Int = 500, as: T.Type,
                                                 transform: (@Sendable (T) -> T)? = nil) async throws -> KubeList<T> {
        var options = options
        options.limit = pageSize
        let shaped: ([T]) -> [T] = { items in transform.map { items.map($0) } ?? items }
        var page = try await list(type, namespace: namespace, options: options, as: T.self)
        var items = shaped(page.items)
        let firstMeta = page.metadata
        while let token = page.metadata.continue, !token.isEmpty {
            var next = options
            next.continue = token
            next.resourceVersion = nil
            next.resourceVersionMatch = nil
            page = try await list(type, namespace: namespace, options: next, as: T.self)
            items += shaped(page.items)
        }
        return KubeList(metadata: ListMeta(resourceVersion: page.metadata.resourceVersion ?? firstMeta.resourceVersion), items: items)
    }

    public nonisolated func watch<T: Decodable & Sendable>(_ type: ResourceType, namespace: String? = nil,
                                                           options: WatchOptions = WatchOptions(),
                                                           as: T.Type) -> AsyncThrowingStream<WatchEvent<T>, Error> {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent<T>, Error>.makeStream()
        let task = Task {
            do {
                try await self.runWatch(type, namespace: namespace, options: options, into: continuation)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    public func create<T: Codable & Sendable>(_ type: ResourceType, object: T, namespace: String? = nil) async throws -> T {
        var json = try prepare(object, type: type)
        let ns = type.namespaced ? (json["metadata"]?["namespace"]?.stringValue ?? namespace ?? defaultNamespace) : nil
        if let ns { json = json.setting(["metadata", "namespace"], to: .string(ns)) }
        let name = json["metadata"]?["name"]?.stringValue ?? json["metadata"]?["generateName"]?.stringValue ?? ""
        let op = "create \(type) \"\(name)\""
        let body = try await send(.POST, type.path(namespace: ns), body: KubeJSON.encode(json), operation: op).body
        return try decode(T.self, from: body, operation: op)
    }

    public func update<T: Codable & Sendable>(_ type: ResourceType, object: T, subresource: String? = nil) async throws -> T {
        let json = try prepare(object, type: type)
        guard let name = json["metadata"]?["name"]?.stringValue, !name.isEmpty else {
            throw KubeClientError(operation: "update \(type)", message: "the object has no metadata.name")
        }
        let ns = type.namespaced ? (json["metadata"]?["namespace"]?.stringValue ?? defaultNamespace) : nil
        let op = "update \(type) \"\(name)\"" + (subresource.map { " \($0)" } ?? "")
        let path = type.path(namespace: ns, name: name, subresource: subresource)
        let body = try await send(.PUT, path, body: KubeJSON.encode(json), operation: op).body
        return try decode(T.self, from: body, operation: op)
    }

    public func patch<T: Decodable & Sendable>(_ type: ResourceType, name: String, namespace: String? = nil, patch: Patch,
                                               subresource: String? = nil, fieldManager: String? = nil,
                                               as: T.Type) async throws -> T {
        let op = "patch \(type) \"\(name)\"" + (subresource.map { " \($0)" } ?? "")
        let path = type.path(namespace: resolveNamespace(type, namespace), name: name, subresource: subresource)
        var query: [(String, String)] = []
        if let fieldManager { query.append(("fieldManager", fieldManager)) }
        let body = try await send(.PATCH, path, query: query, body: KubeJSON.encode(patch.body),
                                  contentType: patch.contentType, operation: op).body
        return try decode(T.self, from: body, operation: op)
    }

    public func apply<T: Codable & Sendable>(_ type: ResourceType, object: T, fieldManager: String, force: Bool = true,
                                             subresource: String? = nil, namespace: String? = nil) async throws -> T {
        var json = try prepare(object, type: type).removing(["metadata", "managedFields"])
        guard let name = json["metadata"]?["name"]?.stringValue, !name.isEmpty else {
            throw KubeClientError(operation: "apply \(type)", message: "the object has no metadata.name")
        }
        let ns = type.namespaced ? (json["metadata"]?["namespace"]?.stringValue ?? namespace ?? defaultNamespace) : nil
        if let ns { json = json.setting(["metadata", "namespace"], to: .string(ns)) }
        let op = "apply \(type) \"\(name)\"" + (subresource.map { " \($0)" } ?? "")
        var query = [("fieldManager", fieldManager)]
        if force { query.append(("force", "true")) }
        let body = try await send(.PATCH, type.path(namespace: ns, name: name, subresource: subresource), query: query,
                                  body: KubeJSON.encode(json), contentType: "application/apply-patch+yaml", operation: op).body
        return try decode(T.self, from: body, operation: op)
    }

    @discardableResult
    public func delete<T: Decodable & Sendable>(_ type: ResourceType, name: String, namespace: String? = nil,
                                                options: DeleteOptions = DeleteOptions(),
                                                as: T.Type) async throws -> T? {
        var options = options
        if options.propagationPolicy == nil, type.group == "batch", type.plural == "jobs" {
            // Jobs orphan their pods by default; always cascade.
            options.propagationPolicy = .background
        }
        let op = "delete \(type) \"\(name)\""
        let path = type.path(namespace: resolveNamespace(type, namespace), name: name)
        let body = try await send(.DELETE, path, body: KubeJSON.encode(options), operation: op).body
        if let json = try? JSONDecoder().decode(JSONValue.self, from: body), json["kind"]?.stringValue == "Status" {
            return nil
        }
        return try decode(T.self, from: body, operation: op)
    }

    // MARK: Dynamic conveniences (untyped JSON objects)

    public func get(_ type: ResourceType, name: String, namespace: String? = nil) async throws -> DynamicObject {
        try await get(type, name: name, namespace: namespace, as: DynamicObject.self)
    }

    public func list(_ type: ResourceType, namespace: String? = nil, options: ListOptions = ListOptions()) async throws -> KubeList<DynamicObject> {
        try await list(type, namespace: namespace, options: options, as: DynamicObject.self)
    }

    public func listAll(_ type: ResourceType, namespace: String? = nil, options: ListOptions = ListOptions(),
                        pageSize: Int = 500) async throws -> KubeList<DynamicObject> {
        try await listAll(type, namespace: namespace, options: options, pageSize: pageSize, as: DynamicObject.self)
    }

    public nonisolated func watch(_ type: ResourceType, namespace: String? = nil,
                                  options: WatchOptions = WatchOptions()) -> AsyncThrowingStream<WatchEvent<DynamicObject>, Error> {
        watch(type, namespace: namespace, options: options, as: DynamicObject.self)
    }

    public func patch(_ type: ResourceType, name: String, namespace: String? = nil, patch: Patch, subresource: String? = nil,
                      fieldManager: String? = nil) async throws -> DynamicObject {
        try await self.patch(type, name: name, namespace: namespace, patch: patch, subresource: subresource,
                             fieldManager: fieldManager, as: DynamicObject.self)
    }

    @discardableResult
    public func delete(_ type: ResourceType, name: String, namespace: String? = nil,
                       options: DeleteOptions = DeleteOptions()) async throws -> DynamicObject? {
        try await delete(type, name: name, namespace: namespace, options: options, as: DynamicObject.self)
    }

    // MARK: Plumbing

    private func resolveNamespace(_ type: ResourceType, _ namespace: String?) -> String? {
        type.namespaced ? (namespace ?? defaultNamespace) : nil
    }

    /// Encodes an object and fills in `apiVersion` and `kind` from the resource type.
    private func prepare<T: Encodable>(_ object: T, type: ResourceType) throws -> JSONValue {
        guard case .object(var o) = try KubeJSON.toJSONValue(object) else {
            throw KubeClientError(operation: "encode \(type)", message: "the object does not encode as a JSON object")
        }
        if o["apiVersion"] == nil { o["apiVersion"] = .string(type.apiVersion) }
        if o["kind"] == nil { o["kind"] = .string(type.kind) }
        return .object(o)
    }

    private nonisolated func decode<T: Decodable>(_ type: T.Type, from body: Data, operation: String) throws -> T {
        do {
            return try KubeJSON.decoder().decode(T.self, from: body)
        } catch {
            throw KubeClientError(operation: operation, message: "cannot decode the response: \(error)")
        }
    }

    /// How many times a 429 Too Many Requests is retried (after its Retry-After, at most 10 s each).
    static let maxThrottleRetries = 3

    /// Sends one request with credentials; on 401 with refreshable credentials, refreshes them and retries once;
    /// on 429 waits for the server's Retry-After and retries a few times.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
              contentType: String = "application/json", operation: String) async throws -> (status: Int, body: Data) {
        var retried = false
        var throttled = 0
        while true {
            let response = try await execute(method, path, query: query, body: body, contentType: contentType, operation: operation)
            let status = Int(response.status.code)
            let data = try await collect(response, operation: operation)
            if status == 401, !retried, authenticator.canRefresh {
                retried = true
                await authenticator.invalidate()
                continue
            }
            if status == 429, throttled < Self.maxThrottleRetries {
                throttled += 1
                let header = response.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                let fromStatus = (try? JSONDecoder().decode(KubeStatus.self, from: data))?.details?.retryAfterSeconds
                let seconds = min(max(header ?? fromStatus ?? 1, 0), 10)
                logger.debug("throttled by the API server; retrying", metadata: ["operation": "\(operation)", "after": "\(seconds)s"])
                try await Task.sleep(for: .seconds(seconds))
                continue
            }
            guard (200..<300).contains(status) else {
                throw KubeAPIError(operation: operation, statusCode: status, body: data)
            }
            return (status, data)
        }
    }

    private func collect(_ response: HTTPClientResponse, operation: String) async throws -> Data {
        do {
            var buffer = try await response.body.collect(upTo: Self.maxBodyBytes)
            return Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch {
            throw KubeClientError(operation: operation, message: "reading the response failed: \(error)")
        }
    }

    private func execute(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?, contentType: String,
                         operation: String, timeout: TimeAmount? = nil) async throws -> HTTPClientResponse {
        if isShutDown { throw KubeClientError(operation: operation, message: "the client has been shut down") }
        let credentials = try await authenticator.credentials()
        let client = try httpClient(for: credentials, operation: operation)
        var request = HTTPClientRequest(url: baseURL + path + Self.queryString(query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json, */*")
        request.headers.add(name: "User-Agent", value: "mir/\(MirVersion.current)")
        if let token = credentials.bearerToken { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            return try await client.execute(request, timeout: timeout ?? requestTimeout, logger: logger)
        } catch {
            throw KubeClientError(operation: operation, message: "request to \(config.server) failed: \(error)")
        }
    }

    private func runWatch<T: Decodable & Sendable>(_ type: ResourceType, namespace: String?, options: WatchOptions,
                                                   into continuation: AsyncThrowingStream<WatchEvent<T>, Error>.Continuation) async throws {
        let op = "watch \(type)"
        let path = type.path(namespace: type.namespaced ? namespace : nil)
        var retried = false
        var response: HTTPClientResponse
        while true {
            response = try await execute(.GET, path, query: options.query, body: nil, contentType: "", operation: op)
            let status = Int(response.status.code)
            if status == 200 { break }
            let data = try await collect(response, operation: op)
            if status == 401, !retried, authenticator.canRefresh {
                retried = true
                await authenticator.invalidate()
                continue
            }
            throw KubeAPIError(operation: op, statusCode: status, body: data)
        }
        var lines = LineBuffer()
        do {
            for try await chunk in response.body {
                for line in lines.append(chunk.readableBytesView) {
                    continuation.yield(try Self.decodeWatchLine(line, as: T.self, operation: op))
                }
            }
        } catch let error as KubeClientError {
            throw error
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled { return }
            throw KubeClientError(operation: op, message: "the watch stream failed: \(error)")
        }
        if let last = lines.finish() {
            continuation.yield(try Self.decodeWatchLine(last, as: T.self, operation: op))
        }
    }

    static func decodeWatchLine<T: Decodable>(_ line: [UInt8], as: T.Type, operation: String) throws -> WatchEvent<T> {
        let data = Data(line)
        do {
            let decoder = KubeJSON.decoder()
            let envelope = try decoder.decode(WatchEnvelope.self, from: data)
            switch envelope.type {
            case "ADDED": return .added(try decoder.decode(TypedWatchEvent<T>.self, from: data).object)
            case "MODIFIED": return .modified(try decoder.decode(TypedWatchEvent<T>.self, from: data).object)
            case "DELETED": return .deleted(try decoder.decode(TypedWatchEvent<T>.self, from: data).object)
            case "BOOKMARK": return .bookmark(resourceVersion: envelope.object?.metadata?.resourceVersion ?? "")
            case "ERROR":
                let status = try decoder.decode(StatusWatchEvent.self, from: data).object
                return .error(KubeAPIError(operation: operation, status: status))
            default:
                throw KubeClientError(operation: operation, message: "unknown watch event type \(envelope.type)")
            }
        } catch let error as KubeClientError {
            throw error
        } catch {
            throw KubeClientError(operation: operation, message: "cannot decode a watch event: \(error)")
        }
    }

    /// The HTTP client for `credentials`' identity, made on first use. Never after `shutdown()`: a request that was
    /// suspended (fetching credentials) while the client shut down must not leave a fresh HTTP client behind.
    private func httpClient(for credentials: Credentials, operation: String) throws -> HTTPClient {
        if isShutDown { throw KubeClientError(operation: operation, message: "the client has been shut down") }
        let identity = Credentials(clientCertificatePEM: credentials.clientCertificatePEM, clientKeyPEM: credentials.clientKeyPEM)
        if let http, httpIdentity == identity { return http }
        if let http { retiredClients.append(http) }
        var configuration = HTTPClient.Configuration()
        if config.server.lowercased().hasPrefix("https") {
            configuration.tlsConfiguration = try Self.makeTLSConfiguration(config: config, identity: identity)
        }
        if let override = tlsServerNameOverride {
            configuration.dnsOverride = [override.host: override.realHost]
        }
        // No read timeout: watches are quiet for long stretches; the server ends them with timeoutSeconds.
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: connectTimeout, read: nil)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        http = client
        httpIdentity = identity
        return client
    }

    static func makeTLSConfiguration(config: KubeConfig, identity: Credentials) throws -> TLSConfiguration {
        let op = "configure TLS for \(config.server)"
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if config.insecureSkipTLSVerify {
                tls.certificateVerification = .none
            } else if let ca = config.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca)))
            }
            if let cert = identity.clientCertificatePEM, let key = identity.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(cert)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key), format: .pem))
            }
        } catch {
            throw KubeClientError(operation: op, message: "invalid certificate or key PEM: \(error)")
        }
        return tls
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    static func queryString(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "?" + query.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }.joined(separator: "&")
    }
}

extension JSONValue {
    /// A copy with the value at `path` set, creating objects along the way.
    func setting(_ path: [String], to value: JSONValue) -> JSONValue {
        guard let first = path.first else { return value }
        var o = objectValue ?? [:]
        o[first] = (o[first] ?? .object([:])).setting(Array(path.dropFirst()), to: value)
        return .object(o)
    }

    /// A copy without the value at `path`.
    func removing(_ path: [String]) -> JSONValue {
        guard let first = path.first, case .object(var o) = self else { return self }
        if path.count == 1 { o[first] = nil } else if let child = o[first] { o[first] = child.removing(Array(path.dropFirst())) }
        return .object(o)
    }
}

/// The parts of a watch event line read before the object is decoded.
private struct WatchEnvelope: Decodable {
    struct Meta: Decodable { var resourceVersion: String? }
    struct Object: Decodable { var metadata: Meta? }
    var type: String
    var object: Object?
}

private struct TypedWatchEvent<T: Decodable>: Decodable { var object: T }
private struct StatusWatchEvent: Decodable { var object: KubeStatus }
