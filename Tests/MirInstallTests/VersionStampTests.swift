import Foundation
import MirTestSupport
import Testing

/// scripts/stamp-version writes the revision and build date `mir version` prints into a copy of the sources.
@Suite("mir version's build stamp")
struct VersionStampTests {
    /// A scratch tree with the script and the file it stamps.
    static func scratchTree() throws -> URL {
        let root = try Install.temporaryDirectory("stamp")
        for path in ["scripts/stamp-version", "Sources/mir/BuildInfo.swift"] {
            let target = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Install.packageRoot.appendingPathComponent(path), to: target)
        }
        return root
    }

    @Test("the checked-in sources say unknown; the stamp replaces exactly the revision and the date")
    func stamps() async throws {
        let original = try String(contentsOf: Install.packageRoot.appendingPathComponent("Sources/mir/BuildInfo.swift"), encoding: .utf8)
        #expect(original.contains(#"static let revision = "unknown""#) && original.contains(#"static let date = "unknown""#),
                "commit BuildInfo.swift unstamped")
        let root = try Self.scratchTree()
        defer { try? FileManager.default.removeItem(at: root) }
        let stamped = try await ProcessRunner.run(root.appendingPathComponent("scripts/stamp-version"), ["0123456789ab", "2026-12-03T10:00:00Z"])
        #expect(stamped.status == 0, "\(stamped.output)")
        let text = try String(contentsOf: root.appendingPathComponent("Sources/mir/BuildInfo.swift"), encoding: .utf8)
        #expect(text.contains(#"static let revision = "0123456789ab""#) && text.contains(#"static let date = "2026-12-03T10:00:00Z""#))
        #expect(text.components(separatedBy: "\n").count == original.components(separatedBy: "\n").count)
        // The binary of this test run is unstamped: it says so rather than invent a revision.
        let version = try await ProcessRunner.run(Install.mirBinary, ["version"])
        #expect(version.stdout.range(of: #"^mir \d+\.\d+\.\d+ \(revision [A-Za-z0-9._:+-]+, built [A-Za-z0-9._:+-]+\)\n$"#, options: .regularExpression) != nil, "\(version.stdout)")
    }

    @Test("values that could inject Swift source are refused", arguments: [#"abc"; exit(1); //"#, "a b", "rev\nx", "$(id)"])
    func refusesInjection(value: String) async throws {
        let root = try Self.scratchTree()
        defer { try? FileManager.default.removeItem(at: root) }
        let before = try String(contentsOf: root.appendingPathComponent("Sources/mir/BuildInfo.swift"), encoding: .utf8)
        for arguments in [[value, "2026-12-03T10:00:00Z"], ["0123456789ab", value]] {
            let result = try await ProcessRunner.run(root.appendingPathComponent("scripts/stamp-version"), arguments)
            #expect(result.status == 2 && result.stderr.contains("refusing"), "\(arguments): \(result.output)")
            #expect(try String(contentsOf: root.appendingPathComponent("Sources/mir/BuildInfo.swift"), encoding: .utf8) == before)
        }
    }
}
