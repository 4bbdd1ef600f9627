import Foundation
import Testing

/// The bad-input corpus (Tests/MirSpecTests/Corpus, format in its README) through the real binary: each case
/// must fail `mir validate` and `mir apply` with its exact `file:line:column: error:` and leave the registry
/// unchanged.
@Suite struct BadInputCorpusTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        /// Path (relative to the corpus directory) given to mir.
        var target: String
        /// `relative/file.yaml:LINE:COL: error: substring` expected in stderr (file relative to the corpus dir).
        var expectedLocation: String
        var expectedMessage: String
        var testDescription: String { name }
    }

    static let corpus = MirRunner.packageRoot.appendingPathComponent("Tests/MirSpecTests/Corpus")

    static func cases(in folder: String) -> [Case] {
        let dir = corpus.appendingPathComponent(folder)
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
        return entries.compactMap { entry -> Case? in
            let url = dir.appendingPathComponent(entry)
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
            let expectLine: String
            let fileForLine: String
            if isDir.boolValue {
                guard let text = try? String(contentsOf: url.appendingPathComponent("EXPECT"), encoding: .utf8) else { return nil }
                expectLine = text.split(separator: "\n").first.map(String.init) ?? ""
                fileForLine = ""
            } else {
                guard entry.hasSuffix(".yaml") || entry.hasSuffix(".yml"),
                      let data = FileManager.default.contents(atPath: url.path) else { return nil }
                let first = String(decoding: data.prefix(while: { $0 != 10 }), as: UTF8.self)
                guard first.hasPrefix("# expect: ") else { return nil }
                expectLine = String(first.dropFirst("# expect: ".count))
                fileForLine = "\(folder)/\(entry):"
            }
            // expectLine: [file:]LINE:COL: error: message
            guard let range = expectLine.range(of: ": error: ") else { return nil }
            let location = String(expectLine[..<range.lowerBound])
            let message = String(expectLine[range.upperBound...])
            let fullLocation = isDir.boolValue ? "\(folder)/\(entry)/\(location)" : fileForLine + location
            return Case(name: "\(folder)/\(entry)", target: "\(folder)/\(entry)", expectedLocation: fullLocation, expectedMessage: message)
        }
    }

    @Test func theCorpusHasAtLeastThirtyCases() {
        #expect(Self.cases(in: "bad").count >= 30)
    }

    @Test(arguments: cases(in: "bad") + cases(in: "bad-lifecycle"))
    func badInputIsRefusedWithItsLocationAndChangesNothing(_ c: Case) async throws {
        let dir = try TempDir()
        let corpus = Self.corpus.path
        let validate = try await MirRunner.run(["validate", "--config", "\(corpus)/config.yaml", c.target], in: Self.corpus)
        #expect(validate.status == 1, "\(validate.output)")
        #expect(validate.stderr.contains("\(c.expectedLocation): error: "), "expected \(c.expectedLocation): error: in\n\(validate.stderr)")
        #expect(validate.stderr.contains(c.expectedMessage), "expected message '\(c.expectedMessage)' in\n\(validate.stderr)")

        // The same input through apply, against a registry that already holds an owned repository.
        let registryDir = dir.path("reg")
        let good = Self.corpus.appendingPathComponent("good").path
        let seed = try await MirRunner.run(["apply", "--config", "\(corpus)/config.yaml", "--registry", "local:\(registryDir)", "--state", dir.path("state"),
                                      "--specs", good, "--builder", "simulate", "--yes"], in: Self.corpus)
        #expect(seed.status == 0, "\(seed.output)")
        let before = dir.snapshot("reg")
        let apply = try await MirRunner.run(["apply", "--config", "\(corpus)/config.yaml", "--registry", "local:\(registryDir)", "--state", dir.path("state"),
                                       "--specs", c.target, "--builder", "simulate", "--yes"], in: Self.corpus)
        #expect(apply.status == 1, "\(apply.output)")
        #expect(apply.stderr.contains("\(c.expectedLocation): error: "), "\(apply.stderr)")
        #expect(dir.snapshot("reg") == before, "registry changed for \(c.name)")
    }
}
