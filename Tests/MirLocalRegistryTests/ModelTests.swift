import Foundation
import Testing
import PropertyBased
@testable import MirLocalRegistry
import MirRegistry

/// What ECR should hold after a sequence of operations: a plain in-memory model.
private struct RegistryModel {
    struct Image { var manifest: Int; var tags: Set<String> }
    var order: [String] = []
    var images: [String: [Image]] = [:]

    /// Applies an operation; returns the error code ECR would give, nil on success.
    mutating func create(_ name: String) -> RegistryError.Code? {
        if images[name] != nil { return .repositoryAlreadyExists }
        order.append(name)
        images[name] = []
        return nil
    }

    mutating func delete(_ name: String, force: Bool) -> RegistryError.Code? {
        guard let held = images[name] else { return .repositoryNotFound }
        if !held.isEmpty, !force { return .repositoryNotEmpty }
        order.removeAll { $0 == name }
        images[name] = nil
        return nil
    }

    mutating func put(_ name: String, manifest: Int, tag: String) -> RegistryError.Code? {
        guard var held = images[name] else { return .repositoryNotFound }
        if held.contains(where: { $0.manifest == manifest && $0.tags.contains(tag) }) { return .imageAlreadyExists }
        if !held.contains(where: { $0.manifest == manifest }) { held.append(Image(manifest: manifest, tags: [])) }
        for i in held.indices {
            if held[i].manifest == manifest { held[i].tags.insert(tag) } else { held[i].tags.remove(tag) }
        }
        images[name] = held
        return nil
    }
}

@Suite struct ModelTests {
    /// Random operations through two registries on one directory (with frequent compaction) agree with the
    /// model at every step, and a freshly opened registry reads back the same state.
    @Test func randomOperationsMatchTheModel() async throws {
        await propertyCheck(count: 12, input: Gen.int(in: 0...Int.max)) { seed in
            var rng = SeededGenerator(seed: UInt64(seed))
            let dir = TemporaryDirectory()
            let registries = [try dir.registry(compactionThreshold: 1_500), try dir.registry(compactionThreshold: 1_500)]
            var model = RegistryModel()
            let names = ["aa", "bb", "cc/dd", "ee-ff"]
            for _ in 0..<80 {
                let registry = registries.randomElement(using: &rng)!
                let name = names.randomElement(using: &rng)!
                let expected: RegistryError.Code?
                let actual: RegistryError.Code?
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<3:
                    expected = model.create(name)
                    actual = await code { try await registry.createRepository(name: name, tags: []) }
                case 3:
                    let force = Bool.random(using: &rng)
                    expected = model.delete(name, force: force)
                    actual = await code { try await registry.deleteRepository(name: name, force: force) }
                default:
                    let m = Int.random(in: 0..<4, using: &rng), tag = "t\(Int.random(in: 0..<3, using: &rng))"
                    expected = model.put(name, manifest: m, tag: tag)
                    actual = await code { try await registry.putImage(repositoryName: name, manifest: manifest(m), tag: tag) }
                }
                #expect(actual == expected)
            }
            for registry in registries + [try dir.registry()] {
                let listed = try await registry.describeRepositories(names: nil, maxResults: 1000, nextToken: nil).items.map(\.name)
                #expect(listed == model.order)
                for name in model.order {
                    let details = try await registry.describeImages(repositoryName: name, imageIds: nil, maxResults: 1000, nextToken: nil).items
                    #expect(details.map(\.tags) == model.images[name]!.map { $0.tags.sorted() })
                }
            }
        }
    }

    private func code(_ body: () async throws -> some Any) async -> RegistryError.Code? {
        do {
            _ = try await body()
            return nil
        } catch let error as RegistryError {
            return error.code
        } catch {
            return RegistryError.Code("unexpected \(error)")
        }
    }
}

/// SplitMix64, so that a failing seed reproduces.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
