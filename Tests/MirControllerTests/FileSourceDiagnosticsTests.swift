import Foundation
import MirBuild
import MirLocalRegistry
import MirModel
import Testing
@testable import MirController

/// The file-source controller leaves out exactly the images whose diagnostics concern them (typed, by object), never
/// an image whose name merely appears, quoted, in another image's message.
@Suite struct FileSourceDiagnosticsTests {
    @Test func aChildsErrorNamingItsParentDoesNotHoldBackTheParent() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mir-files-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let specs = dir.appendingPathComponent("specs")
        try FileManager.default.createDirectory(at: specs, withIntermediateDirectories: true)
        try """
        apiVersion: mir.dev/v1alpha1
        kind: ManagedImage
        metadata:
          name: base
        spec:
          base:
            imageType: standard
          pythonVersion: "3.12"
        ---
        apiVersion: mir.dev/v1alpha1
        kind: ManagedImage
        metadata:
          name: kid
        spec:
          base:
            managedImage: base
          pythonVersion: "3.11"
        """.write(to: specs.appendingPathComponent("images.yaml"), atomically: true, encoding: .utf8)
        let registry = try LocalRegistry(directory: dir.appendingPathComponent("registry").path)
        let records = FileBuildRecordStore(directory: dir.appendingPathComponent("state").path)
        let controller = FileSourceController(paths: [specs.path], config: MirConfig(), registry: registry,
                                              builder: SimulateBuilder(registry: registry, records: records, delay: .zero),
                                              records: records, interval: .seconds(3600), pollInterval: .milliseconds(50))
        _ = try await controller.pass()
        let names = try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil).items.map(\.name)
        // kid's error message quotes "base" (its parent's Python version), but only kid is left out.
        #expect(names == ["mir/base"])
    }
}
