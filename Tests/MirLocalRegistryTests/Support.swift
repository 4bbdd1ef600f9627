import Foundation
import Testing
@testable import MirLocalRegistry
import MirRegistry

/// A fresh directory under the system temp dir, removed when the scope ends.
final class TemporaryDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "mir-local-registry-\(UUID().uuidString)"
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func registry(repositoryQuota: Int = 100_000, compactionThreshold: Int = 1 << 20) throws -> LocalRegistry {
        try LocalRegistry(directory: path, accountId: "000000000000", region: "local", repositoryQuota: repositoryQuota,
                          imagesPerRepositoryQuota: 100_000, compactionThreshold: compactionThreshold)
    }

    func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

/// Runs `body` and returns the RegistryError it throws; records an issue when it throws nothing or something else.
@discardableResult
func registryError(_ body: () async throws -> some Any, sourceLocation: SourceLocation = #_sourceLocation) async -> RegistryError? {
    do {
        _ = try await body()
        Issue.record("expected a RegistryError, but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as RegistryError {
        return error
    } catch {
        Issue.record("expected a RegistryError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Checks code, operation and (when given) the exact message of the error `body` throws.
func expectRegistryError(_ code: RegistryError.Code, operation: String, message: String? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> some Any) async {
    let error = await registryError(body, sourceLocation: sourceLocation)
    #expect(error?.code == code, "code", sourceLocation: sourceLocation)
    #expect(error?.operation == operation, "operation", sourceLocation: sourceLocation)
    if let message {
        #expect(error?.message == message, sourceLocation: sourceLocation)
    }
}

func manifest(_ n: Int, layers: [Int] = [100]) -> String {
    let layerList = layers.enumerated().map { i, size in
        "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":\(size),\"digest\":\"sha256:\(String(repeating: String(i % 10), count: 64))\"}"
    }.joined(separator: ",")
    return "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"annotations\":{\"n\":\"\(n)\"},\"layers\":[\(layerList)]}"
}

let validPolicyText = """
{"rules":[{"rulePriority":1,"description":"Expire untagged images after 7 days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}
"""
