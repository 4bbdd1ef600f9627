import Foundation
import Testing
@testable import MirLocalRegistry
import MirRegistry

@Suite struct ImageTests {
    @Test func digestIsTheSHA256OfTheManifestBytes() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "img", tags: [])
        let id = try await registry.putImage(repositoryName: "img", manifest: "{}", tag: "empty")
        // sha256("{}")
        #expect(id == ImageIdentifier(digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", tag: "empty"))
        // Same layers, different config → different digests (moto gives them the same one).
        let a = try await registry.putImage(repositoryName: "img", manifest: manifest(1), tag: "a")
        let b = try await registry.putImage(repositoryName: "img", manifest: manifest(2), tag: "b")
        #expect(a.digest != b.digest)
    }

    @Test func detailsCarryTagsSizeAndPushTime() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "img", tags: [])
        let before = Date()
        let id = try await registry.putImage(repositoryName: "img", manifest: manifest(1, layers: [100, 250]), tag: "v1")
        _ = try await registry.putImage(repositoryName: "img", manifest: manifest(1, layers: [100, 250]), tag: "latest")
        let page = try await registry.describeImages(repositoryName: "img", imageIds: [ImageIdentifier(tag: "v1")], maxResults: nil, nextToken: nil)
        let detail = try #require(page.items.first)
        #expect(page.items.count == 1)
        #expect(detail.digest == id.digest)
        #expect(detail.tags == ["latest", "v1"])
        #expect(detail.sizeInBytes == 350)
        #expect(detail.pushedAt.map { $0 >= before.addingTimeInterval(-1) } == true)
    }

    @Test func sameManifestAndTagIsImageAlreadyExists() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "img", tags: [])
        let id = try await registry.putImage(repositoryName: "img", manifest: manifest(1), tag: "v1")
        await expectRegistryError(.imageAlreadyExists, operation: "PutImage",
                                  message: "Image with digest '\(id.digest!)' and tag 'v1' already exists in the repository with name 'img' in registry with id '000000000000'") {
            try await registry.putImage(repositoryName: "img", manifest: manifest(1), tag: "v1")
        }
    }

    @Test func movingATagLeavesTheOldImageUntagged() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "img", tags: [])
        let old = try await registry.putImage(repositoryName: "img", manifest: manifest(1), tag: "latest")
        let new = try await registry.putImage(repositoryName: "img", manifest: manifest(2), tag: "latest")
        let listed = try await registry.listImages(repositoryName: "img", maxResults: nil, nextToken: nil)
        #expect(listed.items == [ImageIdentifier(digest: old.digest), ImageIdentifier(digest: new.digest, tag: "latest")])
        let details = try await registry.describeImages(repositoryName: "img", imageIds: nil, maxResults: nil, nextToken: nil)
        #expect(details.items.map(\.tags) == [[], ["latest"]])
        let byDigest = try await registry.describeImages(repositoryName: "img", imageIds: [ImageIdentifier(digest: old.digest)], maxResults: nil, nextToken: nil)
        #expect(byDigest.items.first?.tags == [])
    }

    @Test func invalidInputsAreInvalidParameter() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "img", tags: [])
        await expectRegistryError(.invalidParameter, operation: "PutImage",
                                  message: "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Invalid JSON syntax'") {
            try await registry.putImage(repositoryName: "img", manifest: "{\"schemaVersion\":", tag: "v1")
        }
        for tag in ["bad tag!", ".dot", "-dash", "", String(repeating: "t", count: 301)] {
            await expectRegistryError(.invalidParameter, operation: "PutImage") {
                try await registry.putImage(repositoryName: "img", manifest: manifest(1), tag: tag)
            }
        }
        _ = try await registry.putImage(repositoryName: "img", manifest: manifest(1), tag: "_ok.tag-" + String(repeating: "t", count: 292))
        await expectRegistryError(.repositoryNotFound, operation: "PutImage") {
            try await registry.putImage(repositoryName: "nope", manifest: manifest(1), tag: "v1")
        }
        await expectRegistryError(.repositoryNotFound, operation: "ListImages") {
            try await registry.listImages(repositoryName: "nope", maxResults: nil, nextToken: nil)
        }
    }

    @Test func describeImagesByIds() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "img", tags: [])
        let one = try await registry.putImage(repositoryName: "img", manifest: manifest(1), tag: "v1")
        await expectRegistryError(.imageNotFound, operation: "DescribeImages",
                                  message: "The image with imageId {imageDigest:'null', imageTag:'v9'} does not exist within the repository with name 'img' in the registry with id '000000000000'") {
            try await registry.describeImages(repositoryName: "img", imageIds: [ImageIdentifier(tag: "v1"), ImageIdentifier(tag: "v9")], maxResults: nil, nextToken: nil)
        }
        await expectRegistryError(.imageNotFound, operation: "DescribeImages") {
            try await registry.describeImages(repositoryName: "img", imageIds: [ImageIdentifier(digest: one.digest, tag: "v2")], maxResults: nil, nextToken: nil)
        }
        await expectRegistryError(.invalidParameter, operation: "DescribeImages") {
            try await registry.describeImages(repositoryName: "img", imageIds: [], maxResults: nil, nextToken: nil)
        }
        await expectRegistryError(.invalidParameter, operation: "DescribeImages") {
            try await registry.describeImages(repositoryName: "img", imageIds: Array(repeating: ImageIdentifier(tag: "v1"), count: 101), maxResults: nil, nextToken: nil)
        }
        await expectRegistryError(.invalidParameter, operation: "DescribeImages") {
            try await registry.describeImages(repositoryName: "img", imageIds: [ImageIdentifier(tag: "v1")], maxResults: 5, nextToken: nil)
        }
        await expectRegistryError(.invalidParameter, operation: "DescribeImages") {
            try await registry.describeImages(repositoryName: "img", imageIds: [ImageIdentifier()], maxResults: nil, nextToken: nil)
        }
        let both = try await registry.describeImages(repositoryName: "img", imageIds: [ImageIdentifier(tag: "v1"), ImageIdentifier(digest: one.digest)], maxResults: nil, nextToken: nil)
        #expect(both.items.map(\.digest) == [one.digest])
    }

    @Test func describeImagesPages() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "img", tags: [])
        var digests: [String] = []
        for i in 0..<7 { digests.append(try await registry.putImage(repositoryName: "img", manifest: manifest(i), tag: "v\(i)").digest!) }
        var seen: [String] = []
        var token: String?
        repeat {
            let page = try await registry.describeImages(repositoryName: "img", imageIds: nil, maxResults: 3, nextToken: token)
            #expect(page.items.count <= 3)
            seen += page.items.map(\.digest)
            token = page.nextToken
        } while token != nil
        #expect(seen == digests)
    }
}
