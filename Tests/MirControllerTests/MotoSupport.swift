import Foundation
import Logging
import MirECR
import MirModel
import MirTestSupport
import Testing

/// Where a harness's repositories live: the embedded registry, or moto's ECR through mir's real ECR adapter.
enum RegistryUnderTest: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case embedded
    case moto

    var testDescription: String { self == .embedded ? "embedded registry" : "moto (ECR)" }
}

/// Runs `body` with a harness on `registry` and always stops it (and moto) afterwards.
func withHarness<T: Sendable>(on registry: RegistryUnderTest, buildDelay: Duration = .milliseconds(50), forceDelete: Bool = false,
                              _ body: (ControllerHarness) async throws -> T) async throws -> T {
    switch registry {
    case .embedded:
        return try await runAndStop(ControllerHarness(buildDelay: buildDelay, forceDelete: forceDelete), body)
    case .moto:
        return try await withMotoHarness(buildDelay: buildDelay, forceDelete: forceDelete) { h, _ in try await body(h) }
    }
}

/// Starts moto, then runs `body` with a harness whose registry — for the controller and for the simulated job
/// runner's builder alike — is mir's ECR adapter as `mir run --registry ecr --endpoint-url …` makes it: the default
/// credential chain (moto's test keys in the environment), SigV4 over HTTP to 127.0.0.1.
func withMotoHarness<T: Sendable>(buildDelay: Duration = .milliseconds(50), forceDelete: Bool = false,
                                  _ body: (ControllerHarness, MotoServer) async throws -> T) async throws -> T {
    try await MotoServer.with { moto in
        var logger = Logger(label: "mir.ecr.test")
        logger.logLevel = .error
        let environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
                           "HOME": "/nonexistent"]
        let ecr = try await ECRRegistry.make(region: "us-east-1", endpointURL: moto.url.absoluteString, profile: nil,
                                             environment: environment, logger: logger)
        let result: Result<T, any Error>
        do {
            let harness = try await ControllerHarness(registry: ecr, buildDelay: buildDelay, forceDelete: forceDelete)
            result = .success(try await runAndStop(harness) { try await body($0, moto) })
        } catch {
            result = .failure(error)
        }
        try? await ecr.shutdown()
        return try result.get()
    }
}

/// Runs `body`, then stops the harness whether or not `body` threw.
func runAndStop<T: Sendable>(_ harness: ControllerHarness, _ body: (ControllerHarness) async throws -> T) async throws -> T {
    let result: Result<T, any Error>
    do { result = .success(try await body(harness)) } catch { result = .failure(error) }
    await harness.stop()
    return try result.get()
}

/// A repository as boto3 sees it in moto (Tests/Oracles/ecr_boto3.py): a reading independent of mir's ECR adapter.
struct Boto3Repository: Decodable, Sendable {
    var exists: Bool
    var uri: String?
    var tags: [String: String]?
    var lifecyclePolicy: String?
    var imageTags: [String]?
}

/// moto's ECR through boto3, run with `python3` (or `$MIR_PYTHON`) off the cooperative pool.
struct Boto3ECR: Sendable {
    let endpoint: URL

    struct Failure: Error, CustomStringConvertible { var description: String }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Oracles/ecr_boto3.py")

    func describe(_ repository: String) async throws -> Boto3Repository {
        try JSONDecoder().decode(Boto3Repository.self, from: Data(try await run(["describe", repository]).utf8))
    }

    /// Puts a lifecycle policy behind mir's back.
    func putLifecyclePolicy(_ repository: String, _ text: String) async throws {
        _ = try await run(["put-lifecycle-policy", repository, text])
    }

    private func run(_ arguments: [String]) async throws -> String {
        let python = ProcessInfo.processInfo.environment["MIR_PYTHON"] ?? "python3"
        let result = try await ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"),
                                                 [python, Self.script.path, endpoint.absoluteString] + arguments)
        guard result.status == 0 else {
            throw Failure(description: "ecr_boto3.py \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr.suffix(800))")
        }
        return result.stdout
    }
}

/// Whether a lifecycle policy text means the same as `expected` (compared as ECR compares rules).
func samePolicy(_ text: String?, _ expected: JSONValue) -> Bool {
    guard let text, let value = JSONValue.parse(text) else { return false }
    return LifecyclePolicyRules.normalized(value) == LifecyclePolicyRules.normalized(expected)
}
