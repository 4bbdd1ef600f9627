import Foundation
import MirModel
import MirRegistry
import MirBuild
@testable import MirCore

let prefix = "mir/"

func resolved(_ name: String, tag: String = "py3.11-aaaa", parent: String? = nil, parentTag: String? = nil,
              deletionPolicy: DeletionPolicy = .delete, lifecycle: JSONValue = MirConfig.defaultLifecyclePolicy,
              specDigest: String = "spec-1", repositoryPrefix: String = prefix) -> ResolvedImage {
    let base: BaseImage = parent.map { .managedImage($0) } ?? .imageType("standard")
    let spec = ManagedImageSpec(base: base, pythonVersion: "3.11", pipRequirements: [PipRequirement(name: "numpy")],
                                deletionPolicy: deletionPolicy)
    let resolvedBase: ResolvedBase = parent.map { .managed(name: $0, tag: parentTag ?? "py3.11-pppp", repositoryName: repositoryPrefix + $0) }
        ?? .reference("docker.io/library/python:3.11-slim")
    return ResolvedImage(image: ManagedImage(name: name, spec: spec), repositoryName: repositoryPrefix + name, pythonVersion: "3.11",
                         packageType: .apt, base: resolvedBase, specDigest: specDigest, tag: tag, lifecyclePolicy: lifecycle)
}

func desired(_ images: [ResolvedImage], complete: Bool = true, platform: String = "1.0",
             identity: OwnershipIdentity = filesIdentity, repositoryPrefix: String = prefix) -> DesiredState {
    DesiredState(images: images, isComplete: complete, repositoryPrefix: repositoryPrefix, platformVersion: platform, ownership: identity)
}

func description(_ name: String) -> RepositoryDescription {
    RepositoryDescription(name: name, arn: "arn:aws:ecr:local:000000000000:repository/\(name)",
                          uri: "000000000000.dkr.ecr.local.localhost/\(name)", registryId: "000000000000", createdAt: Date(timeIntervalSince1970: 0))
}

/// The file source of the default installation (prefix `mir/`): what `desired(_:)` plans as.
let filesIdentity = OwnershipIdentity(installation: prefix, owner: OwnershipIdentity.filesOwner, claimsLegacy: true)

func ownedTags(_ image: String, _ policy: DeletionPolicy = .delete, _ identity: OwnershipIdentity = filesIdentity) -> [ResourceTag] {
    OwnershipTags.tags(image: image, deletionPolicy: policy, ownership: identity)
}

/// A repository as the observer would see it.
func observedRepo(_ name: String, tags: [ResourceTag]?, policy: JSONValue?? = .some(MirConfig.defaultLifecyclePolicy),
                  images: Set<String> = []) -> ObservedRepository {
    ObservedRepository(name: name, description: description(name),
                       tags: tags.map { .known($0) } ?? .unknown,
                       lifecyclePolicy: policy.map { .known($0) } ?? .unknown,
                       imageTags: .known(images))
}

func record(_ image: String, tag: String, state: BuildRecord.State = .succeeded, specDigest: String = "spec-1",
            platform: String = "1.0", parentTag: String? = nil, at seconds: Double = 0) -> BuildRecord {
    BuildRecord(image: image, tag: tag, state: state, reason: "new", specDigest: specDigest, platformVersion: platform,
                parentTag: parentTag, pythonVersion: "3.11", pipLibraries: [PipLibrary(name: "numpy", version: "2.0.0")],
                builder: "simulate", simulated: true, startedAt: Date(timeIntervalSince1970: seconds),
                finishedAt: Date(timeIntervalSince1970: seconds + 1))
}
