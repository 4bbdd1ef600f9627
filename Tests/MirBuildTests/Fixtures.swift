import Crypto
import Foundation
import MirBuild
import MirModel
import MirRegistry
import MirTestSupport
import Synchronization

/// Builders of test inputs.
enum Fixture {
    static func image(_ name: String, base: BaseImage = .imageType("standard"), python: String? = "3.11",
                      pip: [PipRequirement] = [], packages: [PackageRequirement] = [],
                      lifecycle: JSONValue? = nil) -> ManagedImage {
        ManagedImage(name: name, spec: ManagedImageSpec(base: base, pythonVersion: python, pipRequirements: pip,
                                                        packageRequirements: packages, lifecyclePolicy: lifecycle))
    }

    static func child(_ name: String, of parent: String, pip: [PipRequirement] = []) -> ManagedImage {
        image(name, base: .managedImage(parent), python: nil, pip: pip)
    }

    static func resolved(_ image: ManagedImage, config: MirConfig = MirConfig()) throws -> ResolvedImage {
        try DesiredStateResolver.resolve([image], config: config)[0]
    }

    static let registryHost = "123456789012.dkr.ecr.us-east-1.amazonaws.com"

    static func request(_ resolved: ResolvedImage, reason: BuildReason = .new, platformVersion: String = "0.1.0") -> BuildRequest {
        let base: String
        switch resolved.base {
        case .reference(let reference): base = reference
        case .managed(_, let tag, let repositoryName): base = "\(registryHost)/\(repositoryName):\(tag)"
        }
        return BuildRequest(image: resolved, reason: reason, repositoryURI: "\(registryHost)/\(resolved.repositoryName)",
                            baseImageReference: base, platformVersion: platformVersion)
    }

    /// A request whose image is built directly from a (possibly hostile) spec, bypassing validation and resolution.
    static func rawRequest(pip: [PipRequirement] = [], packages: [PackageRequirement] = [], packageType: PackageType = .apt,
                           name: String = "demo", base: String = "docker.io/library/python:3.11-slim", platformVersion: String = "0.1.0",
                           tag: String = "py3.11-0123456789abcdef0123") -> BuildRequest {
        let image = ManagedImage(name: name, spec: ManagedImageSpec(base: .external(base), pythonVersion: "3.11",
                                                                    pipRequirements: pip, packageRequirements: packages))
        let resolved = ResolvedImage(image: image, repositoryName: "mir/" + name, pythonVersion: "3.11", packageType: packageType,
                                     base: .reference(base), specDigest: "sha256:00", tag: tag,
                                     lifecyclePolicy: MirConfig.defaultLifecyclePolicy)
        return BuildRequest(image: resolved, reason: .new, repositoryURI: "\(registryHost)/mir/\(name)",
                            baseImageReference: base, platformVersion: platformVersion)
    }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mir-build-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// An in-memory registry with just enough ECR behaviour for builders: repositories and tagged manifests.
final class FakeRegistry: ImageRegistry {
    struct State {
        var images: [String: [String: String]] = [:]   // repository → tag → manifest
        var putCalls = 0
    }

    let state = Mutex(State())

    init(repositories: [String]) {
        state.withLock { s in for r in repositories { s.images[r] = [:] } }
    }

    var displayName: String { "fake" }
    var putCalls: Int { state.withLock { $0.putCalls } }
    func manifest(repository: String, tag: String) -> String? { state.withLock { $0.images[repository]?[tag] } }

    func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        try state.withLock { s in
            s.putCalls += 1
            guard s.images[repositoryName] != nil else {
                throw RegistryError(.repositoryNotFound, operation: "PutImage", message: "no repository \(repositoryName)")
            }
            if s.images[repositoryName]![tag] == manifest {
                throw RegistryError(.imageAlreadyExists, operation: "PutImage", message: "already exists")
            }
            s.images[repositoryName]![tag] = manifest
            let digest = "sha256:" + SHA256.hash(data: Data(manifest.utf8)).map { String(format: "%02x", $0) }.joined()
            return ImageIdentifier(digest: digest, tag: tag)
        }
    }

    func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> { throw unused() }
    func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription { throw unused() }
    func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription { throw unused() }
    func getLifecyclePolicy(repositoryName: String) async throws -> String { throw unused() }
    func putLifecyclePolicy(repositoryName: String, policyText: String) async throws { throw unused() }
    func deleteLifecyclePolicy(repositoryName: String) async throws { throw unused() }
    func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> { throw unused() }
    func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        try state.withLock { s in
            guard let images = s.images[repositoryName] else {
                throw RegistryError(.repositoryNotFound, operation: "DescribeImages", message: "no repository \(repositoryName)")
            }
            var details: [ImageDetail] = []
            for id in imageIds ?? images.keys.map({ ImageIdentifier(tag: $0) }) {
                guard let tag = id.tag, images[tag] != nil else {
                    throw RegistryError(.imageNotFound, operation: "DescribeImages", message: "no image \(id)")
                }
                details.append(ImageDetail(digest: "sha256:" + String(repeating: "0", count: 64), tags: [tag]))
            }
            return Page(items: details, nextToken: nil)
        }
    }
    private func unused(_ operation: String = #function) -> RegistryError {
        RegistryError(.server, operation: operation, message: "not used by builders")
    }
    func listTagsForResource(arn: String) async throws -> [ResourceTag] { throw unused() }
    func tagResource(arn: String, tags: [ResourceTag]) async throws { throw unused() }
}

/// Runs a program and returns its exit status and standard output.
func runProcess(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The first `python3` on PATH, if any.
let python3Path: String? = ProcessRunner.which("python3")
