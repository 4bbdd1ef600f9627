import Foundation
import MirModel
import MirRegistry

/// The embedded registry with a real data plane (`--registry local:DIR,oci=http://127.0.0.1:5000`): repositories,
/// their tags (ownership), lifecycle policies and quotas stay in the embedded registry (ECR's control plane), while
/// images live in an OCI distribution registry:
///
/// - repository URIs point at it (`127.0.0.1:5000/mir/geo`), so builds push there;
/// - the image list (tags and digests) is read from it (`/v2/<name>/tags/list`, a manifest HEAD per tag), so
///   what `mir images` shows is what is really there;
/// - deleting a repository deletes its manifests there (and, like ECR, refuses while it holds images unless forced);
/// - `putImage` puts a manifest there (the registry checks that its blobs exist, so only real images go in).
public final class OCIDataPlaneRegistry: ImageRegistry {
    public let control: LocalRegistry
    public let images: OCIDistributionClient

    public init(control: LocalRegistry, images: OCIDistributionClient) {
        self.control = control
        self.images = images
    }

    public var displayName: String { "\(control.displayName),oci=\(images.endpoint.baseURL)" }

    func withURI(_ description: RepositoryDescription) -> RepositoryDescription {
        var d = description
        d.uri = "\(images.endpoint.host)/\(description.name)"
        return d
    }

    // MARK: - Control plane

    public func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        let page = try await control.describeRepositories(names: names, maxResults: maxResults, nextToken: nextToken)
        return Page(items: page.items.map(withURI), nextToken: page.nextToken)
    }

    public func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription {
        withURI(try await control.createRepository(name: name, tags: tags, imageTagMutability: imageTagMutability))
    }

    public func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription {
        let op = "DeleteRepository"
        _ = try await requireRepository(op, name)
        let details = try await allDetails(op, name)
        if !details.isEmpty, !force {
            throw RegistryError(.repositoryNotEmpty, operation: op,
                                message: "The repository with name '\(name)' in registry with id '\(control.accountId)' cannot be deleted because it still contains images (\(details.count) in \(images.endpoint.baseURL))")
        }
        for detail in details {
            do { try await images.deleteManifest(repository: name, digest: detail.digest) }
            catch { throw RegistryError(.server, operation: op, message: "deleting \(name)@\(detail.digest): \(error)") }
        }
        return withURI(try await control.deleteRepository(name: name, force: true))
    }

    public func getLifecyclePolicy(repositoryName: String) async throws -> String {
        try await control.getLifecyclePolicy(repositoryName: repositoryName)
    }

    public func putLifecyclePolicy(repositoryName: String, policyText: String) async throws {
        try await control.putLifecyclePolicy(repositoryName: repositoryName, policyText: policyText)
    }

    public func deleteLifecyclePolicy(repositoryName: String) async throws {
        try await control.deleteLifecyclePolicy(repositoryName: repositoryName)
    }

    public func listTagsForResource(arn: String) async throws -> [ResourceTag] {
        try await control.listTagsForResource(arn: arn)
    }

    public func tagResource(arn: String, tags: [ResourceTag]) async throws {
        try await control.tagResource(arn: arn, tags: tags)
    }

    // MARK: - Data plane

    public func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> {
        let op = "ListImages"
        _ = try await requireRepository(op, repositoryName)
        let ids = try await allDetails(op, repositoryName).flatMap { detail in
            detail.tags.isEmpty ? [ImageIdentifier(digest: detail.digest)] : detail.tags.map { ImageIdentifier(digest: detail.digest, tag: $0) }
        }
        return try page(ids, op: op, listing: "\(op)\t\(repositoryName)", maxResults: maxResults, nextToken: nextToken)
    }

    public func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        let op = "DescribeImages"
        _ = try await requireRepository(op, repositoryName)
        let details = try await allDetails(op, repositoryName)
        guard let imageIds else {
            return try page(details, op: op, listing: "\(op)\t\(repositoryName)", maxResults: maxResults, nextToken: nextToken)
        }
        if maxResults != nil || nextToken != nil {
            throw RegistryError(.invalidParameter, operation: op, message: "imageIds cannot be combined with maxResults or nextToken")
        }
        var seen: Set<String> = []
        var items: [ImageDetail] = []
        for id in imageIds {
            guard id.digest != nil || id.tag != nil else {
                throw RegistryError(.invalidParameter, operation: op, message: "each image id must have an imageDigest or an imageTag")
            }
            guard let detail = details.first(where: { (id.digest == nil || $0.digest == id.digest) && (id.tag == nil || $0.tags.contains(id.tag!)) }) else {
                throw RegistryError(.imageNotFound, operation: op,
                                    message: "The image with imageId {imageDigest:'\(id.digest ?? "null")', imageTag:'\(id.tag ?? "null")'} does not exist within the repository with name '\(repositoryName)' in the registry with id '\(control.accountId)'")
            }
            if seen.insert(detail.digest).inserted { items.append(detail) }
        }
        return Page(items: items, nextToken: nil)
    }

    public func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        let op = "PutImage"
        _ = try await requireRepository(op, repositoryName)
        guard let document = JSONValue.parse(manifest), document.objectValue != nil else {
            throw RegistryError(.invalidParameter, operation: op, message: "Invalid JSON syntax")
        }
        if let existing = try? await images.manifestDigest(repository: repositoryName, reference: tag),
           existing == ECRRules.sha256Digest(of: manifest) {
            throw RegistryError(.imageAlreadyExists, operation: op,
                                message: "Image with digest '\(existing)' and tag '\(tag)' already exists in the repository with name '\(repositoryName)'")
        }
        let mediaType = document["mediaType"]?.stringValue ?? "application/vnd.oci.image.manifest.v1+json"
        do {
            let digest = try await images.putManifest(repository: repositoryName, tag: tag, mediaType: mediaType, text: manifest)
            return ImageIdentifier(digest: digest ?? ECRRules.sha256Digest(of: manifest), tag: tag)
        } catch {
            if error.code == "MANIFEST_BLOB_UNKNOWN" || error.code == "BLOB_UNKNOWN" {
                throw RegistryError(.invalidParameter, operation: op,
                                    message: "\(images.endpoint.baseURL) holds real images only: the manifest names blobs it does not have (\(error)); a simulated build cannot record an image there")
            }
            throw Self.registryError(op, error)
        }
    }

    // MARK: - Helpers

    /// Every image of a repository: tags grouped by the digest a HEAD gives each (tags/list and one HEAD per tag).
    func allDetails(_ op: String, _ repository: String) async throws -> [ImageDetail] {
        let tags: [String]
        do { tags = try await images.tags(repository: repository) } catch { throw Self.registryError(op, error) }
        var byDigest: [String: [String]] = [:]
        var order: [String] = []
        for tag in tags.sorted() {
            let digest: String?
            do { digest = try await images.manifestDigest(repository: repository, reference: tag) } catch { throw Self.registryError(op, error) }
            guard let digest else { continue }  // deleted between the two calls
            if byDigest[digest] == nil { order.append(digest) }
            byDigest[digest, default: []].append(tag)
        }
        return order.map { ImageDetail(digest: $0, tags: byDigest[$0]!.sorted()) }
    }

    func requireRepository(_ op: String, _ name: String) async throws -> RepositoryDescription {
        do {
            guard let found = try await control.describeRepositories(names: [name], maxResults: nil, nextToken: nil).items.first else {
                throw RegistryError(.repositoryNotFound, operation: op, message: "The repository with name '\(name)' does not exist in the registry with id '\(control.accountId)'")
            }
            return found
        } catch let error as RegistryError where error.code == .repositoryNotFound {
            throw RegistryError(.repositoryNotFound, operation: op, message: error.message)
        }
    }

    /// Pages a computed list: the token is the index of the next item, bound to the listing.
    func page<T: Sendable>(_ items: [T], op: String, listing: String, maxResults: Int?, nextToken: String?) throws -> Page<T> {
        let limit = maxResults ?? 100
        guard (1...1000).contains(limit) else {
            throw RegistryError(.invalidParameter, operation: op, message: "maxResults must be between 1 and 1000")
        }
        var start = 0
        if let nextToken {
            guard let decoded = PageToken.decode(nextToken, listing: listing), let index = Int(decoded.position), index >= 0 else {
                throw RegistryError(.invalidParameter, operation: op, message: "Invalid pagination token")
            }
            start = min(index, items.count)
        }
        let end = min(start + limit, items.count)
        let token = end < items.count ? PageToken(listing: listing, position: String(end)).encoded : nil
        return Page(items: Array(items[start..<end]), nextToken: token)
    }

    static func registryError(_ op: String, _ error: OCIRegistryError) -> RegistryError {
        switch error.status {
        case 401?, 403?: return RegistryError(.accessDenied, operation: op, message: error.description)
        case 429?: return RegistryError(.throttling, operation: op, message: error.description)
        default: return RegistryError(.server, operation: op, message: error.description)
        }
    }
}
