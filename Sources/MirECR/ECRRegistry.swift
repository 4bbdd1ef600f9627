import Foundation
import Logging
import MirModel
import MirRegistry
import Synchronization

/// The registry port over AWS ECR (or anything speaking ECR's API, such as moto).
public final class ECRRegistry: ImageRegistry, Sendable {
    public let client: ECRClient
    public let region: String
    private let clock: any RetryClock
    private let consistencyWindow: Double
    private let logger: Logger
    /// Repository name → when this registry created it (clock seconds), for the create-then-describe race.
    private let recentlyCreated = Mutex<[String: Double]>([:])

    public init(client: ECRClient, region: String, consistencyWindow: Double = 10,
                clock: any RetryClock = SystemRetryClock(), logger: Logger = Logger(label: "mir.ecr")) {
        self.client = client
        self.region = region
        self.consistencyWindow = consistencyWindow
        self.clock = clock
        self.logger = logger
    }

    public var displayName: String { "ecr \(region) (\(client.endpoint.absoluteString))" }

    /// Shuts the HTTP client down. Call once, when done.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    // MARK: - The port

    public func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        let input = DescribeRepositoriesInput(repositoryNames: names, maxResults: maxResults, nextToken: nextToken)
        let output = try await call("DescribeRepositories", input, as: DescribeRepositoriesOutput.self, repositories: names ?? [])
        return Page(items: (output.repositories ?? []).map(Self.repository), nextToken: output.nextToken)
    }

    public func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription {
        let input = CreateRepositoryInput(repositoryName: name, tags: tags.isEmpty ? nil : tags.map(Self.wire),
                                          imageTagMutability: imageTagMutability.rawValue)
        let output: RepositoryOutput
        do {
            output = try await client.call("CreateRepository", input, as: RepositoryOutput.self)
        } catch {
            // A retry after an ambiguous failure (timeout, reset, 5xx) can meet the repository the earlier attempt
            // created — or one someone else created in between. Both are RepositoryAlreadyExists here: the caller
            // reads the repository's tags before doing anything with it.
            var mapped = Self.registryError(error)
            if case .service(_, _, let attempts) = error, attempts > 1, mapped.code == .repositoryAlreadyExists {
                mapped.message += " (an earlier attempt of this call may have created it)"
            }
            throw mapped
        }
        let now = clock.now()
        recentlyCreated.withLock { map in
            map = map.filter { now - $0.value < consistencyWindow }
            map[name] = now
        }
        return Self.repository(output.repository)
    }

    public func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription {
        let input = DeleteRepositoryInput(repositoryName: name, force: force ? true : nil)
        let output = try await call("DeleteRepository", input, as: RepositoryOutput.self, repositories: [name])
        _ = recentlyCreated.withLock { $0.removeValue(forKey: name) }
        return Self.repository(output.repository)
    }

    public func getLifecyclePolicy(repositoryName: String) async throws -> String {
        let output = try await call("GetLifecyclePolicy", RepositoryNameInput(repositoryName: repositoryName),
                                    as: LifecyclePolicyOutput.self, repositories: [repositoryName])
        guard let text = output.lifecyclePolicyText else {
            throw RegistryError(.lifecyclePolicyNotFound, operation: "GetLifecyclePolicy",
                                message: "Lifecycle policy does not exist for the repository with name '\(repositoryName)'")
        }
        return text
    }

    public func putLifecyclePolicy(repositoryName: String, policyText: String) async throws {
        _ = try await call("PutLifecyclePolicy", PutLifecyclePolicyInput(repositoryName: repositoryName, lifecyclePolicyText: policyText),
                           as: EmptyOutput.self, repositories: [repositoryName])
    }

    public func deleteLifecyclePolicy(repositoryName: String) async throws {
        _ = try await call("DeleteLifecyclePolicy", RepositoryNameInput(repositoryName: repositoryName),
                           as: EmptyOutput.self, repositories: [repositoryName])
    }

    public func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> {
        let output = try await call("ListImages", ListImagesInput(repositoryName: repositoryName, maxResults: maxResults, nextToken: nextToken),
                                    as: ListImagesOutput.self, repositories: [repositoryName])
        return Page(items: (output.imageIds ?? []).map { ImageIdentifier(digest: $0.imageDigest, tag: $0.imageTag) },
                    nextToken: output.nextToken)
    }

    public func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        let input = DescribeImagesInput(repositoryName: repositoryName,
                                        imageIds: imageIds?.map { WireImageId(imageDigest: $0.digest, imageTag: $0.tag) },
                                        maxResults: maxResults, nextToken: nextToken)
        let output = try await call("DescribeImages", input, as: DescribeImagesOutput.self, repositories: [repositoryName])
        let details = (output.imageDetails ?? []).map {
            ImageDetail(digest: $0.imageDigest, tags: $0.imageTags ?? [], sizeInBytes: $0.imageSizeInBytes, pushedAt: $0.imagePushedAt?.date)
        }
        return Page(items: details, nextToken: output.nextToken)
    }

    public func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        let mediaType = ((try? JSONSerialization.jsonObject(with: Data(manifest.utf8))) as? [String: Any])?["mediaType"] as? String
        let input = PutImageInput(repositoryName: repositoryName, imageManifest: manifest, imageManifestMediaType: mediaType, imageTag: tag)
        let output = try await call("PutImage", input, as: PutImageOutput.self, repositories: [repositoryName])
        let id = output.image?.imageId
        return ImageIdentifier(digest: id?.imageDigest, tag: id?.imageTag ?? tag)
    }

    public func listTagsForResource(arn: String) async throws -> [ResourceTag] {
        let output = try await call("ListTagsForResource", ResourceArnInput(resourceArn: arn), as: ListTagsOutput.self,
                                    repositories: Self.repositoryName(fromARN: arn).map { [$0] } ?? [])
        return (output.tags ?? []).map { ResourceTag(key: $0.Key, value: $0.Value) }
    }

    public func tagResource(arn: String, tags: [ResourceTag]) async throws {
        _ = try await call("TagResource", TagResourceInput(resourceArn: arn, tags: tags.map(Self.wire)), as: EmptyOutput.self,
                           repositories: Self.repositoryName(fromARN: arn).map { [$0] } ?? [])
    }

    // MARK: - Beyond the port

    /// Registry credentials for `docker login` style use: user `AWS`, a 12-hour password, and the registry endpoint.
    public func getAuthorizationToken() async throws -> ECRAuthorization {
        let output = try await call("GetAuthorizationToken", GetAuthorizationTokenInput(), as: GetAuthorizationTokenOutput.self)
        guard let data = output.authorizationData?.first, let token = data.authorizationToken,
              let decoded = Data(base64Encoded: token).flatMap({ String(data: $0, encoding: .utf8) }),
              let colon = decoded.firstIndex(of: ":") else {
            throw RegistryError(.init("MalformedResponse"), operation: "GetAuthorizationToken", message: "no authorization token in the answer")
        }
        return ECRAuthorization(username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]),
                                expiresAt: data.expiresAt?.date, proxyEndpoint: data.proxyEndpoint)
    }

    /// Every repository, following `nextToken` until the last page.
    public func allRepositories(pageSize: Int? = nil) async throws -> [RepositoryDescription] {
        try await Self.collectPages(operation: "DescribeRepositories") { token in
            try await self.describeRepositories(names: nil, maxResults: pageSize, nextToken: token)
        }
    }

    /// Every image id of a repository, following `nextToken`.
    public func allImageIds(repositoryName: String, pageSize: Int? = nil) async throws -> [ImageIdentifier] {
        try await Self.collectPages(operation: "ListImages") { token in
            try await self.listImages(repositoryName: repositoryName, maxResults: pageSize, nextToken: token)
        }
    }

    /// Every image of a repository with its details, following `nextToken`.
    public func allImageDetails(repositoryName: String, pageSize: Int? = nil) async throws -> [ImageDetail] {
        try await Self.collectPages(operation: "DescribeImages") { token in
            try await self.describeImages(repositoryName: repositoryName, imageIds: nil, maxResults: pageSize, nextToken: token)
        }
    }

    /// A pagination loop that refuses a token the service already returned (which would never end).
    static func collectPages<Item: Sendable>(operation: String,
                                             _ fetch: (String?) async throws -> Page<Item>) async throws -> [Item] {
        var items: [Item] = []
        var token: String?
        var seen: Set<String> = []
        repeat {
            let page = try await fetch(token)
            items.append(contentsOf: page.items)
            token = page.nextToken
            if let token, !seen.insert(token).inserted {
                throw RegistryError(.init("PaginationLoop"), operation: operation,
                                    message: "the service returned the same nextToken twice; stopping")
            }
        } while token != nil
        return items
    }

    // MARK: - Calls and errors

    /// Calls an operation; maps failures to `RegistryError`. A RepositoryNotFoundException about a repository this
    /// registry created within the consistency window is retried with short pauses until the window closes.
    private func call<Output: Decodable>(_ operation: String, _ input: some Encodable & Sendable, as output: Output.Type,
                                         repositories: [String] = []) async throws -> Output {
        var pause = 0.1
        while true {
            do {
                return try await client.call(operation, input, as: Output.self)
            } catch {
                if case .service(let serviceError, _, _) = error, serviceError.code == RegistryError.Code.repositoryNotFound.rawValue,
                   let age = youngestCreation(among: repositories), age + pause < consistencyWindow {
                    logger.debug("ECR: repository just created is not visible yet; retrying",
                                 metadata: ["operation": "\(operation)", "ageSeconds": "\(age)"])
                    try await clock.sleep(seconds: pause)
                    pause = min(pause * 2, 2)
                    continue
                }
                throw Self.registryError(error)
            }
        }
    }

    private func youngestCreation(among names: [String]) -> Double? {
        guard !names.isEmpty else { return nil }
        let now = clock.now()
        return recentlyCreated.withLock { map in
            names.compactMap { map[$0].map { now - $0 } }.min()
        }
    }

    /// Maps a wire failure to the port's error, keeping ECR's code and the operation's name.
    public static func registryError(_ error: ECRCallError) -> RegistryError {
        switch error {
        case .service(let serviceError, let operation, let attempts):
            let code = serviceError.code
            if ECRAuthErrorCodes.accessDenied.contains(code) || (serviceError.httpStatus == 403 && Int(code) != nil) {
                let action = deniedAction(in: serviceError.message) ?? "ecr:\(operation)"
                return RegistryError(.accessDenied, operation: operation, message: "not authorized to perform \(action)", deniedAction: action)
            }
            if ECRAuthErrorCodes.signature.contains(code) {
                return RegistryError(.init(code), operation: operation,
                                     message: "the request signature was rejected: the secret access key does not match the access key id (\(serviceError.message))")
            }
            if ECRAuthErrorCodes.credentials.contains(code) {
                return RegistryError(.init(code), operation: operation,
                                     message: "the AWS credentials were not accepted (unknown access key id, or an invalid or expired session token): \(serviceError.message)")
            }
            let suffix = attempts > 1 ? " (after \(attempts) attempts)" : ""
            if Int(code) != nil {
                // No error code at all: a bare HTTP status (HTML 5xx, a proxy page).
                let registryCode: RegistryError.Code = serviceError.httpStatus >= 500 ? .server : .init("HTTP\(serviceError.httpStatus)")
                return RegistryError(registryCode, operation: operation, message: "HTTP \(serviceError.httpStatus): \(serviceError.message)\(suffix)")
            }
            return RegistryError(.init(code), operation: operation, message: serviceError.message + suffix)
        case .transport(let failure, let operation, let attempts):
            switch failure {
            case .timeout(let detail):
                return RegistryError(.requestTimeout, operation: operation, message: "timed out after \(attempts) attempt(s): \(detail)")
            case .connection(let detail):
                return RegistryError(.connectionFailed, operation: operation, message: "connection failed after \(attempts) attempt(s): \(detail)")
            case .refused(let detail):
                return RegistryError(.connectionFailed, operation: operation, message: "connection refused after \(attempts) attempt(s) (is the endpoint right, and is anything listening?): \(detail)")
            case .reset(let detail):
                return RegistryError(.connectionFailed, operation: operation, message: "connection reset by the server after \(attempts) attempt(s): \(detail)")
            }
        case .credentials(let message, let operation):
            return RegistryError(.credentialsUnavailable, operation: operation, message: "no usable AWS credentials: \(message)")
        case .malformedResponse(let message, let operation):
            return RegistryError(.init("MalformedResponse"), operation: operation, message: message)
        }
    }

    /// The IAM action named in an AccessDenied message ("… is not authorized to perform: ecr:TagResource on …"):
    /// CreateRepository with tags is denied for `ecr:TagResource`, not for `ecr:CreateRepository`.
    static func deniedAction(in message: String) -> String? {
        guard let range = message.range(of: "perform") else { return nil }
        let rest = message[range.upperBound...].drop { $0 == ":" || $0 == " " }
        guard rest.hasPrefix("ecr:") else { return nil }
        let action = rest.prefix { $0.isLetter || $0.isNumber || $0 == ":" }
        return action.count > 4 ? String(action) : nil
    }

    // MARK: - Shapes

    static func repository(_ wire: WireRepository) -> RepositoryDescription {
        RepositoryDescription(name: wire.repositoryName, arn: wire.repositoryArn, uri: wire.repositoryUri,
                              registryId: wire.registryId, createdAt: wire.createdAt?.date ?? Date(timeIntervalSince1970: 0),
                              imageTagMutability: wire.imageTagMutability.flatMap(ImageTagMutability.init(rawValue:)))
    }

    static func wire(_ tag: ResourceTag) -> WireTag { WireTag(Key: tag.key, Value: tag.value) }

    /// `arn:aws:ecr:REGION:ACCOUNT:repository/NAME` → NAME.
    static func repositoryName(fromARN arn: String) -> String? {
        guard let range = arn.range(of: ":repository/") else { return nil }
        return String(arn[range.upperBound...])
    }
}

/// Credentials for ECR's registry endpoint (Docker/OCI), from GetAuthorizationToken.
public struct ECRAuthorization: Sendable, Hashable {
    public var username: String
    public var password: String
    public var expiresAt: Date?
    public var proxyEndpoint: String?
}

extension RegistryError.Code {
    /// The request signature did not verify (wrong secret access key).
    public static let signatureDoesNotMatch = RegistryError.Code("SignatureDoesNotMatch")
    /// ECR's JSON form of a bad signature.
    public static let invalidSignature = RegistryError.Code("InvalidSignatureException")
    /// The access key id is unknown.
    public static let invalidClientTokenId = RegistryError.Code("InvalidClientTokenId")
    /// ECR's JSON form of an unknown access key id or bad token.
    public static let unrecognizedClient = RegistryError.Code("UnrecognizedClientException")
    public static let expiredToken = RegistryError.Code("ExpiredTokenException")
    /// No credentials could be found or fetched; nothing was sent.
    public static let credentialsUnavailable = RegistryError.Code("CredentialsUnavailable")
    /// Every attempt timed out.
    public static let requestTimeout = RegistryError.Code("RequestTimeout")
    /// Every attempt failed to connect or lost the connection.
    public static let connectionFailed = RegistryError.Code("ConnectionFailed")
}
