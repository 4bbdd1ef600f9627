import Foundation
import MirBuild
import MirController
import MirCore
import MirLocalRegistry
import MirModel
import MirRegistry
import Testing

/// Issue 8 §6: `mir run --source files:` over a specs directory that goes empty, is swapped for a moment (git-sync),
/// or is half-written, with a short interval. Invariant: nothing is deleted. Prints
/// `CHAOS case=empty-specs-dir runs=<N> violations=<M>` (more runs with MIR_CHAOS_FULL=1).
@Suite("Chaos: an empty specs directory under mir run --source files:", .serialized)
struct ChaosEmptySpecsTests {
    static var full: Bool { ProcessInfo.processInfo.environment["MIR_CHAOS_FULL"] == "1" }

    static func spec(_ name: String) -> String {
        """
        apiVersion: mir.dev/v1alpha1
        kind: ManagedImage
        metadata:
          name: \(name)
        spec:
          base:
            imageType: standard
          pythonVersion: "3.12"
          pipRequirements:
            - name: requests
          deletionPolicy: Delete

        """
    }

    enum Attack: String, CaseIterable {
        /// Every spec removed (or only other kinds left): an empty desired state.
        case emptied
        /// The directory is empty for a moment and comes back (a git-sync swap), with `allowEmpty` on.
        case swapped
        /// Only some specs are there for a while (a half-written checkout).
        case halfWritten
    }

    @Test func emptySpecsDirectoryDeletesNothing() async throws {
        let count = Self.full ? 50 : 12
        let rounds = Self.full ? 3 : 1
        var violations: [String] = []
        var runs = 0
        for round in 0..<rounds {
            for attack in Attack.allCases {
                runs += 1
                let box = FileManager.default.temporaryDirectory.appendingPathComponent("mir-chaos-files-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: box) }
                let specs = box.appendingPathComponent("specs")
                try FileManager.default.createDirectory(at: specs, withIntermediateDirectories: true)
                let names = (0..<count).map { "img\($0)" }
                for name in names { try Self.spec(name).write(to: specs.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8) }
                try "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n".write(to: specs.appendingPathComponent("ns.yaml"), atomically: true, encoding: .utf8)
                let local = try LocalRegistry(directory: box.appendingPathComponent("registry").path)
                let counted = CountingRegistry(local)
                let records = FileBuildRecordStore(directory: box.appendingPathComponent("records").path)
                var config = MirConfig()
                if attack == .swapped {
                    // Every other guard off: only the two-reads rule stands between a swap and a wiped registry.
                    config.allowEmpty = true
                    config.maxDeletionFraction = 1
                }
                let interval: Duration = attack == .swapped ? .seconds(3) : .seconds(1)
                let controller = FileSourceController(paths: [specs.path], config: config, registry: counted,
                                                      builder: SimulateBuilder(registry: counted, records: records, delay: .zero),
                                                      records: records, interval: interval, pollInterval: .milliseconds(50))
                let first = try await controller.pass()
                if !first.failures.isEmpty { violations.append("\(attack) \(round): first pass failed: \(first.failures.map(\.message))") }
                let loop = Task { await controller.runUntilCancelled() }
                switch attack {
                case .emptied:
                    for name in names { try FileManager.default.removeItem(at: specs.appendingPathComponent("\(name).yaml")) }
                    try await Task.sleep(for: Self.full ? .seconds(8) : .seconds(4))
                case .swapped:
                    let aside = box.appendingPathComponent("aside")
                    try FileManager.default.moveItem(at: specs, to: aside)
                    try FileManager.default.createDirectory(at: specs, withIntermediateDirectories: true)
                    try await Task.sleep(for: .milliseconds(300))
                    try FileManager.default.removeItem(at: specs)
                    try FileManager.default.moveItem(at: aside, to: specs)
                    try await Task.sleep(for: Self.full ? .seconds(8) : .seconds(4))
                case .halfWritten:
                    for name in names.dropFirst(count / 3) { try FileManager.default.removeItem(at: specs.appendingPathComponent("\(name).yaml")) }
                    try await Task.sleep(for: Self.full ? .seconds(8) : .seconds(4))
                }
                loop.cancel()
                await loop.value
                let deletes = counted.counter.calls["DeleteRepository"] ?? 0
                if deletes > 0 { violations.append("\(attack) round \(round): \(deletes) DeleteRepository call(s)") }
                let left = try await local.describeRepositories(names: nil, maxResults: 1000, nextToken: nil).items.count
                if left != count { violations.append("\(attack) round \(round): \(count - left) repositories gone") }
                let passes = counted.counter.calls["DescribeRepositories"] ?? 0
                if passes < 3 { violations.append("\(attack) round \(round): only \(passes) pass(es) ran: the attack was not exercised") }
            }
        }
        print("CHAOS case=empty-specs-dir runs=\(runs) violations=\(violations.count)")
        for v in violations { print("CHAOS-VIOLATION case=empty-specs-dir \(v)") }
        #expect(violations.isEmpty, "\(violations)")
    }

    @Test("the file source deletes a removed spec's repository after two reads an interval apart")
    func removedSpecIsDeletedAfterTheSecondRead() async throws {
        let box = FileManager.default.temporaryDirectory.appendingPathComponent("mir-files-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: box) }
        let specs = box.appendingPathComponent("specs")
        try FileManager.default.createDirectory(at: specs, withIntermediateDirectories: true)
        for name in ["a", "b"] { try Self.spec("img-" + name).write(to: specs.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8) }
        let local = try LocalRegistry(directory: box.appendingPathComponent("registry").path)
        let records = FileBuildRecordStore(directory: box.appendingPathComponent("records").path)
        let controller = FileSourceController(paths: [specs.path], config: MirConfig(), registry: local,
                                              builder: SimulateBuilder(registry: local, records: records, delay: .zero),
                                              records: records, interval: .milliseconds(300), pollInterval: .milliseconds(20))
        _ = try await controller.pass()
        try FileManager.default.removeItem(at: specs.appendingPathComponent("b.yaml"))
        let first = try await controller.pass()
        #expect(!first.outcomes.contains { if case .deleteRepository = $0.action { return true }; return false })
        #expect(try await local.describeRepositories(names: ["mir/img-b"], maxResults: nil, nextToken: nil).items.count == 1)
        try await Task.sleep(for: .milliseconds(400))
        let second = try await controller.pass()
        // The image built by mir goes with its repository (no forceDeleteRepositories needed).
        #expect(second.outcomes.contains { if case .deleteRepository("mir/img-b", _) = $0.action, case .succeeded = $0.outcome { return true }; return false },
                "\(second.outcomes)")
        await #expect(throws: RegistryError.self) { _ = try await local.describeRepositories(names: ["mir/img-b"], maxResults: nil, nextToken: nil) }
    }
}
