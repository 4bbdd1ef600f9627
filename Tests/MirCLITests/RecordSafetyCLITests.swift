import Foundation
import Testing
import MirLocalRegistry

/// Issue 8, problems 7 and 8 through the CLI.
@Suite struct RecordSafetyCLITests {
    func examplesDir() throws -> TempDir {
        let dir = try TempDir()
        try dir.copy(fromPackage: "Examples/specs", to: "specs")
        try dir.copy(fromPackage: "Examples/mir.yaml", to: "mir.yaml")
        return dir
    }

    let common = ["--config", "mir.yaml", "--registry", "local:reg", "--state", "state"]

    /// Render-builder Submitted records older than their repository are Lost: after the registry lost its state, mir
    /// creates the repositories again and renders every build again (it used to say 0 to build).
    @Test func submittedRecordsOlderThanTheirRepositoryAreRenderedAgain() async throws {
        let dir = try examplesDir()
        let first = try await MirRunner.run(["apply"] + common + ["--specs", "specs", "--yes"], in: dir.url)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.stdout.contains("7 to build"), "\(first.stdout)")
        let again = try await MirRunner.run(["plan"] + common + ["--specs", "specs"], in: dir.url)
        #expect(again.stdout.contains("No changes."), "submitted builds are not submitted twice: \(again.stdout)")

        try FileManager.default.removeItem(atPath: dir.path("reg"))
        try await Task.sleep(for: .milliseconds(20))
        let recreated = try await MirRunner.run(["apply"] + common + ["--specs", "specs", "--yes"], in: dir.url)
        #expect(recreated.status == 0, "\(recreated.output)")
        #expect(recreated.stdout.contains("Plan: 7 to create, 7 to update, 7 to build, 0 to delete."), "\(recreated.stdout)")
    }

    /// Temporary files of a killed run are removed when the next apply starts.
    @Test func temporaryFilesOfKilledRunsAreRemovedOnStart() async throws {
        let dir = try examplesDir()
        #expect(try await MirRunner.run(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], in: dir.url).status == 0)
        let records = try FileManager.default.contentsOfDirectory(atPath: dir.path("state/builds"))
        let image = try #require(records.first { !$0.hasPrefix(".") })
        let leftover = dir.path("state/builds/\(image)/.x.json.\(UUID().uuidString).tmp")
        try Data("{".utf8).write(to: URL(fileURLWithPath: leftover))
        let r = try await MirRunner.run(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], in: dir.url)
        #expect(r.status == 0, "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: leftover))
    }
}
