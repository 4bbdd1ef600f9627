import Foundation
import MirModel
import MirRegistry

/// The embedded registry (`--registry local[:DIR]`): an ECR-faithful registry kept on disk, so mir's main
/// job needs no AWS. Durable (fsynced journal and atomic snapshots: a crash mid-write loses nothing that was
/// acknowledged) and safe for several processes at once (`flock(2)` on `DIR/lock`).
///
/// Faithful to ECR's documented behaviour where moto is not: repository names (2–256, ECR's pattern),
/// pagination (1–1000, opaque tokens), 50 tags per repository with ECR's key/value rules, lifecycle policy
/// validation, real content digests, tags moved off an image leave it untagged, quotas, and ECR's error codes
/// and messages.
public final class LocalRegistry: ImageRegistry {
    /// The directory used by `--registry local` without a directory.
    public static let defaultDirectory = ".mir/registry"

    public let directory: String
    public let accountId: String
    public let region: String
    /// Registered repositories allowed (ECR's default quota: 100,000).
    public let repositoryQuota: Int
    /// Images per repository allowed (ECR's default quota: 100,000).
    public let imagesPerRepositoryQuota: Int
    private let store: FileStore
    /// The file I/O this registry did so far (in this process).
    public var storageStatistics: StorageStatistics { store.io }

    /// Opens (creating it when missing) the registry kept in `directory`.
    public convenience init(directory: String, accountId: String = "000000000000", region: String = "local",
                            repositoryQuota: Int = 100_000, imagesPerRepositoryQuota: Int = 100_000) throws {
        try self.init(directory: directory, accountId: accountId, region: region, repositoryQuota: repositoryQuota,
                      imagesPerRepositoryQuota: imagesPerRepositoryQuota, compactionThreshold: 1 << 20)
    }

    /// `compactionThreshold`: journal bytes after which it is folded into a snapshot (small in tests).
    init(directory: String, accountId: String, region: String, repositoryQuota: Int, imagesPerRepositoryQuota: Int,
         compactionThreshold: Int) throws {
        self.directory = directory
        self.accountId = accountId
        self.region = region
        self.repositoryQuota = repositoryQuota
        self.imagesPerRepositoryQuota = imagesPerRepositoryQuota
        do {
            store = try FileStore(directory: directory, compactionThreshold: compactionThreshold)
        } catch let failure as StorageFailure {
            throw RegistryError(.server, operation: "OpenLocalRegistry", message: "local registry: \(failure.description)")
        }
    }

    public var displayName: String { "local:\(directory)" }

    // MARK: - Repositories

    public func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        let op = "DescribeRepositories"
        if let names {
            if maxResults != nil || nextToken != nil {
                throw invalidParameter(op, "repositoryNames", "repositoryNames cannot be combined with maxResults or nextToken")
            }
            try checkListSize(op, "repositoryNames", names.count)
            for name in names { try checkRepositoryName(op, name) }
            return try await read(op) { [self] state in
                var seen: Set<String> = []
                var items: [RepositoryDescription] = []
                for name in names where seen.insert(name).inserted {
                    items.append(describe(try repository(op, name, in: state)))
                }
                return Page(items: items, nextToken: nil)
            }
        }
        let limit = try pageSize(op, maxResults)
        let after = try tokenPosition(op, nextToken, listing: op).map { position -> Int in
            guard let seq = Int(position) else { throw badToken(op) }
            return seq
        } ?? 0
        return try await read(op) { [self] state in
            let start = state.orderIndex(after: after)
            let end = min(start + limit, state.order.count)
            let items = state.order[start..<end].map { describe(state.repositories[$0.name]!) }
            let token = end < state.order.count ? PageToken(listing: op, position: String(state.order[end - 1].seq)).encoded : nil
            return Page(items: items, nextToken: token)
        }
    }

    public func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription {
        let op = "CreateRepository"
        try checkRepositoryName(op, name)
        let merged = try mergeTags(op, adding: tags, to: [])
        return try await write(op) { [self] state in
            if state.repositories[name] != nil {
                throw RegistryError(.repositoryAlreadyExists, operation: op,
                                    message: "The repository with name '\(name)' already exists in the registry with id '\(accountId)'")
            }
            if state.count >= repositoryQuota {
                throw RegistryError(.limitExceeded, operation: op,
                                    message: "The maximum number of repositories (\(repositoryQuota)) has been reached in the registry with id '\(accountId)'")
            }
            let record = RepositoryRecord(seq: state.nextSeq, name: name, createdAt: Date(), tags: merged,
                                          lifecyclePolicyText: nil, images: [], nextImageSeq: 1, imageTagMutability: imageTagMutability)
            return (describe(record), .put(record))
        }
    }

    public func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription {
        let op = "DeleteRepository"
        try checkRepositoryName(op, name)
        return try await write(op) { [self] state in
            let record = try repository(op, name, in: state)
            if !record.images.isEmpty, !force {
                throw RegistryError(.repositoryNotEmpty, operation: op,
                                    message: "The repository with name '\(name)' in registry with id '\(accountId)' cannot be deleted because it still contains images")
            }
            return (describe(record), .delete(name))
        }
    }

    // MARK: - Lifecycle policies

    public func getLifecyclePolicy(repositoryName: String) async throws -> String {
        let op = "GetLifecyclePolicy"
        try checkRepositoryName(op, repositoryName)
        return try await read(op) { [self] state in
            let record = try repository(op, repositoryName, in: state)
            guard let text = record.lifecyclePolicyText else { throw policyNotFound(op, repositoryName) }
            return text
        }
    }

    public func putLifecyclePolicy(repositoryName: String, policyText: String) async throws {
        let op = "PutLifecyclePolicy"
        try checkRepositoryName(op, repositoryName)
        let violations = LifecyclePolicyRules.violations(ofText: policyText)
        if !violations.isEmpty {
            throw invalidParameter(op, "LifecyclePolicyText",
                                   "Lifecycle policy validation failure: " + violations.map(\.description).joined(separator: "; "))
        }
        try await write(op) { [self] state in
            var record = try repository(op, repositoryName, in: state)
            record.lifecyclePolicyText = policyText
            return ((), .put(record))
        }
    }

    public func deleteLifecyclePolicy(repositoryName: String) async throws {
        let op = "DeleteLifecyclePolicy"
        try checkRepositoryName(op, repositoryName)
        try await write(op) { [self] state in
            var record = try repository(op, repositoryName, in: state)
            guard record.lifecyclePolicyText != nil else { throw policyNotFound(op, repositoryName) }
            record.lifecyclePolicyText = nil
            return ((), .put(record))
        }
    }

    // MARK: - Images

    public func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> {
        let op = "ListImages"
        try checkRepositoryName(op, repositoryName)
        let limit = try pageSize(op, maxResults)
        let listing = "\(op)\t\(repositoryName)"
        let after = try tokenPosition(op, nextToken, listing: listing).map { position -> (Int, String) in
            let parts = position.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let seq = Int(parts[0]) else { throw badToken(op) }
            return (seq, String(parts[1]))
        } ?? (0, "")
        return try await read(op) { [self] state in
            let record = try repository(op, repositoryName, in: state)
            var items: [(seq: Int, key: String, id: ImageIdentifier)] = []
            var index = Self.firstImageIndex(in: record.images, atLeast: after.0)
            outer: while index < record.images.count {
                let image = record.images[index]
                for key in image.tags.isEmpty ? [""] : image.tags where (image.seq, key) > after {
                    items.append((image.seq, key, ImageIdentifier(digest: image.digest, tag: key.isEmpty ? nil : key)))
                    if items.count > limit { break outer }
                }
                index += 1
            }
            var token: String?
            if items.count > limit {
                items.removeLast()
                token = PageToken(listing: listing, position: "\(items[limit - 1].seq)\t\(items[limit - 1].key)").encoded
            }
            return Page(items: items.map(\.id), nextToken: token)
        }
    }

    public func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        let op = "DescribeImages"
        try checkRepositoryName(op, repositoryName)
        if let imageIds {
            if maxResults != nil || nextToken != nil {
                throw invalidParameter(op, "imageIds", "imageIds cannot be combined with maxResults or nextToken")
            }
            try checkListSize(op, "imageIds", imageIds.count)
            for id in imageIds where id.digest == nil && id.tag == nil {
                throw invalidParameter(op, "imageIds", "each image id must have an imageDigest or an imageTag")
            }
            return try await read(op) { [self] state in
                let record = try repository(op, repositoryName, in: state)
                var seen: Set<String> = []
                var items: [ImageDetail] = []
                for id in imageIds {
                    let image = record.images.first { image in
                        (id.digest == nil || image.digest == id.digest) && (id.tag == nil || image.tags.contains(id.tag!))
                    }
                    guard let image else { throw imageNotFound(op, id, repositoryName) }
                    if seen.insert(image.digest).inserted { items.append(Self.detail(image)) }
                }
                return Page(items: items, nextToken: nil)
            }
        }
        let limit = try pageSize(op, maxResults)
        let listing = "\(op)\t\(repositoryName)"
        let after = try tokenPosition(op, nextToken, listing: listing).map { position -> Int in
            guard let seq = Int(position) else { throw badToken(op) }
            return seq
        } ?? 0
        return try await read(op) { [self] state in
            let record = try repository(op, repositoryName, in: state)
            let start = Self.firstImageIndex(in: record.images, atLeast: after + 1)
            let end = min(start + limit, record.images.count)
            let items = record.images[start..<end].map(Self.detail)
            let token = end < record.images.count ? PageToken(listing: listing, position: String(record.images[end - 1].seq)).encoded : nil
            return Page(items: items, nextToken: token)
        }
    }

    public func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        let op = "PutImage"
        try checkRepositoryName(op, repositoryName)
        guard ECRRules.imageTagLength.contains(tag.unicodeScalars.count) else {
            throw invalidParameter(op, "imageTag", "Member must have length between 1 and 300")
        }
        guard ECRRules.isValidImageTag(tag) else {
            throw invalidParameter(op, "imageTag", "must satisfy regular expression '^[A-Za-z0-9_][A-Za-z0-9._-]*$'")
        }
        guard ECRRules.manifestLength.contains(manifest.unicodeScalars.count) else {
            throw invalidParameter(op, "imageManifest", "Member must have length between 1 and 4194304")
        }
        guard let document = JSONValue.parse(manifest), document.objectValue != nil else {
            throw invalidParameter(op, "imageManifest", "Invalid JSON syntax")
        }
        let digest = ECRRules.sha256Digest(of: manifest)
        let size = Self.layerSize(of: document)
        return try await write(op) { [self] state in
            var record = try repository(op, repositoryName, in: state)
            if let existing = record.images.first(where: { $0.digest == digest }), existing.tags.contains(tag) {
                throw RegistryError(.imageAlreadyExists, operation: op,
                                    message: "Image with digest '\(digest)' and tag '\(tag)' already exists in the repository with name '\(repositoryName)' in registry with id '\(accountId)'")
            }
            if record.imageTagMutability == .immutable,
               record.images.contains(where: { $0.digest != digest && $0.tags.contains(tag) }) {
                throw RegistryError(.imageTagAlreadyExists, operation: op,
                                    message: "The image tag '\(tag)' already exists in the '\(repositoryName)' repository and cannot be overwritten because the repository is immutable.")
            }
            if !record.images.contains(where: { $0.digest == digest }) {
                guard record.images.count < imagesPerRepositoryQuota else {
                    throw RegistryError(.limitExceeded, operation: op,
                                        message: "The maximum number of images (\(imagesPerRepositoryQuota)) has been reached for the repository with name '\(repositoryName)' in registry with id '\(accountId)'")
                }
                record.images.append(ImageRecord(seq: record.nextImageSeq, digest: digest, tags: [], manifest: manifest,
                                                 sizeInBytes: size, pushedAt: Date()))
                record.nextImageSeq += 1
            }
            // A tag names one image: moving it leaves the previous image in place, untagged if that was its last tag.
            for i in record.images.indices {
                if record.images[i].digest == digest {
                    record.images[i].tags = (record.images[i].tags + [tag]).sorted()
                } else {
                    record.images[i].tags.removeAll { $0 == tag }
                }
            }
            return (ImageIdentifier(digest: digest, tag: tag), .put(record))
        }
    }

    // MARK: - Tags

    public func listTagsForResource(arn: String) async throws -> [ResourceTag] {
        let op = "ListTagsForResource"
        let name = try repositoryName(op, fromARN: arn)
        return try await read(op) { [self] state in try repository(op, name, in: state).tags }
    }

    public func tagResource(arn: String, tags: [ResourceTag]) async throws {
        let op = "TagResource"
        let name = try repositoryName(op, fromARN: arn)
        try await write(op) { [self] state in
            var record = try repository(op, name, in: state)
            record.tags = try mergeTags(op, adding: tags, to: record.tags)
            return ((), .put(record))
        }
    }

    // MARK: - Helpers

    /// File operations block (on `flock` while another process holds the lock, on `fsync`), so they run on
    /// a dispatch queue rather than on Swift concurrency's cooperative threads.
    private static let fileQueue = DispatchQueue(label: "mir.local-registry.files", attributes: .concurrent)

    private func read<T: Sendable>(_ op: String, _ body: @escaping @Sendable (RegistryState) throws -> T) async throws -> T {
        try await onFileQueue(op) { try self.store.read(body) }
    }

    private func write<T: Sendable>(_ op: String, _ body: @escaping @Sendable (RegistryState) throws -> (T, JournalEntry?)) async throws -> T {
        try await onFileQueue(op) { try self.store.write(body) }
    }

    private func onFileQueue<T: Sendable>(_ op: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let directory = directory
        return try await withCheckedThrowingContinuation { continuation in
            Self.fileQueue.async {
                do {
                    continuation.resume(returning: try work())
                } catch let failure as StorageFailure {
                    continuation.resume(throwing: RegistryError(.server, operation: op, message: "local registry '\(directory)': \(failure.description)"))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private func describe(_ record: RepositoryRecord) -> RepositoryDescription {
        RepositoryDescription(name: record.name, arn: arn(of: record.name),
                              uri: "\(accountId).dkr.ecr.\(region).localhost/\(record.name)",
                              registryId: accountId, createdAt: record.createdAt,
                              imageTagMutability: record.imageTagMutability ?? .mutable)
    }

    /// `arn:aws:ecr:<region>:<accountId>:repository/<name>`.
    public func arn(of repositoryName: String) -> String {
        "arn:aws:ecr:\(region):\(accountId):repository/\(repositoryName)"
    }

    private func repository(_ op: String, _ name: String, in state: RegistryState) throws -> RepositoryRecord {
        guard let record = state.repositories[name] else {
            throw RegistryError(.repositoryNotFound, operation: op,
                                message: "The repository with name '\(name)' does not exist in the registry with id '\(accountId)'")
        }
        return record
    }

    private func policyNotFound(_ op: String, _ name: String) -> RegistryError {
        RegistryError(.lifecyclePolicyNotFound, operation: op,
                      message: "Lifecycle policy does not exist for the repository with name '\(name)' in the registry with id '\(accountId)'")
    }

    private func imageNotFound(_ op: String, _ id: ImageIdentifier, _ name: String) -> RegistryError {
        RegistryError(.imageNotFound, operation: op,
                      message: "The image with imageId {imageDigest:'\(id.digest ?? "null")', imageTag:'\(id.tag ?? "null")'} does not exist within the repository with name '\(name)' in the registry with id '\(accountId)'")
    }

    private func badToken(_ op: String) -> RegistryError {
        invalidParameter(op, "nextToken", "Invalid pagination token")
    }

    private func checkRepositoryName(_ op: String, _ name: String, parameter: String = "repositoryName") throws {
        let length = name.unicodeScalars.count
        if length < ECRRules.repositoryNameLength.lowerBound {
            throw invalidParameter(op, parameter, "Member must have length greater than or equal to \(ECRRules.repositoryNameLength.lowerBound)")
        }
        if length > ECRRules.repositoryNameLength.upperBound {
            throw invalidParameter(op, parameter, "Member must have length less than or equal to \(ECRRules.repositoryNameLength.upperBound)")
        }
        guard ECRRules.isValidRepositoryName(name) else {
            throw invalidParameter(op, parameter, "must satisfy regular expression '\(ECRRules.modelRepositoryNamePattern)'")
        }
    }

    private func checkListSize(_ op: String, _ parameter: String, _ count: Int) throws {
        if count < ECRRules.idListRange.lowerBound {
            throw invalidParameter(op, parameter, "Member must have length greater than or equal to \(ECRRules.idListRange.lowerBound)")
        }
        if count > ECRRules.idListRange.upperBound {
            throw invalidParameter(op, parameter, "Member must have length less than or equal to \(ECRRules.idListRange.upperBound)")
        }
    }

    private func pageSize(_ op: String, _ maxResults: Int?) throws -> Int {
        guard let maxResults else { return ECRRules.defaultPageSize }
        if maxResults < ECRRules.maxResultsRange.lowerBound {
            throw invalidParameter(op, "maxResults", "Member must have value greater than or equal to \(ECRRules.maxResultsRange.lowerBound)")
        }
        if maxResults > ECRRules.maxResultsRange.upperBound {
            throw invalidParameter(op, "maxResults", "Member must have value less than or equal to \(ECRRules.maxResultsRange.upperBound)")
        }
        return maxResults
    }

    private func tokenPosition(_ op: String, _ token: String?, listing: String) throws -> String? {
        guard let token else { return nil }
        guard let decoded = PageToken.decode(token, listing: listing) else { throw badToken(op) }
        return decoded.position
    }

    /// The repository an ARN names, when it is one of this registry's (account and region).
    private func repositoryName(_ op: String, fromARN arn: String) throws -> String {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", !parts[1].isEmpty, parts[2] == "ecr",
              parts[5].hasPrefix("repository/") else {
            throw invalidParameter(op, "resourceArn", "Invalid ARN")
        }
        let name = String(parts[5].dropFirst("repository/".count))
        guard ECRRules.isValidRepositoryName(name) else { throw invalidParameter(op, "resourceArn", "Invalid ARN") }
        guard parts[1] == "aws", parts[3] == region, parts[4] == accountId else {
            throw RegistryError(.repositoryNotFound, operation: op,
                                message: "The repository with name '\(name)' does not exist in the registry with id '\(parts[4])'")
        }
        return name
    }

    /// Validates tags as ECR does and merges them into `existing` (a key written again takes the new value).
    private func mergeTags(_ op: String, adding tags: [ResourceTag], to existing: [ResourceTag]) throws -> [ResourceTag] {
        var seen: Set<String> = []
        for tag in tags {
            let keyLength = tag.key.unicodeScalars.count, valueLength = tag.value.unicodeScalars.count
            if !ECRRules.tagKeyLength.contains(keyLength) {
                throw RegistryError(.invalidTagParameter, operation: op,
                                    message: "Tag key must have between 1 and 128 characters; '\(tag.key)' has \(keyLength)")
            }
            if !ECRRules.tagValueLength.contains(valueLength) {
                throw RegistryError(.invalidTagParameter, operation: op,
                                    message: "Tag value must have at most 256 characters; the value of '\(tag.key)' has \(valueLength)")
            }
            if tag.key.lowercased().hasPrefix("aws:") {
                throw RegistryError(.invalidTagParameter, operation: op,
                                    message: "Tag key '\(tag.key)' uses the prefix 'aws:', which is reserved for AWS use")
            }
            if !ECRRules.isAllowedTagText(tag.key) || !ECRRules.isAllowedTagText(tag.value) {
                throw RegistryError(.invalidTagParameter, operation: op,
                                    message: "Tag '\(tag.key)' may contain only letters, digits, spaces and + - = . _ : / @")
            }
            if !seen.insert(tag.key).inserted {
                throw RegistryError(.invalidTagParameter, operation: op, message: "Tag key '\(tag.key)' is given more than once")
            }
        }
        var merged = existing
        for tag in tags {
            if let i = merged.firstIndex(where: { $0.key == tag.key }) { merged[i].value = tag.value } else { merged.append(tag) }
        }
        if merged.count > ECRRules.maxTagsPerRepository {
            throw RegistryError(.tooManyTags, operation: op,
                                message: "The list of tags on the repository is over the limit. The maximum number of tags that can be applied to a repository is \(ECRRules.maxTagsPerRepository).")
        }
        return merged
    }

    private static func firstImageIndex(in images: [ImageRecord], atLeast seq: Int) -> Int {
        var low = 0, high = images.count
        while low < high {
            let mid = (low + high) / 2
            if images[mid].seq < seq { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func detail(_ image: ImageRecord) -> ImageDetail {
        ImageDetail(digest: image.digest, tags: image.tags, sizeInBytes: image.sizeInBytes, pushedAt: image.pushedAt)
    }

    /// The sum of the layer sizes a manifest declares (ECR's imageSizeInBytes), nil when it lists none.
    private static func layerSize(of manifest: JSONValue) -> Int? {
        guard let layers = manifest["layers"]?.arrayValue else { return nil }
        return layers.reduce(0) { $0 + ($1["size"]?.intValue ?? 0) }
    }
}
