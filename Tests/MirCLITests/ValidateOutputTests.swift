import Foundation
import Testing

/// `mir validate -o json|github`, `mir crd` and the pre-commit hook, through the real binary.
@Suite struct ValidateOutputTests {
    static let corpus = MirRunner.packageRoot.appendingPathComponent("Tests/MirSpecTests/Corpus")

    @Test func jsonReportsEveryDiagnosticWithItsCodeAndPlace() async throws {
        let r = try await MirRunner.run(["validate", "--config", "config.yaml", "-o", "json", "bad/46-yaml-duplicate-key.yaml", "good"],
                                        in: Self.corpus)
        #expect(r.status == 1, "\(r.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        #expect(report["valid"] as? Bool == false)
        #expect(report["errors"] as? Int == 1)
        let diagnostics = try #require(report["diagnostics"] as? [[String: Any]])
        let error = try #require(diagnostics.first { $0["severity"] as? String == "error" })
        #expect(error["code"] as? String == "duplicateKey")
        #expect(error["file"] as? String == "bad/46-yaml-duplicate-key.yaml")
        #expect(error["line"] as? Int == 6 && error["column"] as? Int == 3)
        let note = try #require((error["notes"] as? [[String: Any]])?.first)
        #expect(note["line"] as? Int == 5 && note["severity"] as? String == "note")
        #expect((report["images"] as? [String])?.contains("ml-base") == true)
        #expect(diagnostics.contains { $0["code"] as? String == "skippedDocument" })

        let valid = try await MirRunner.run(["validate", "--config", "config.yaml", "-o", "json", "good"], in: Self.corpus)
        #expect(valid.status == 0, "\(valid.output)")
        let validReport = try #require(try JSONSerialization.jsonObject(with: Data(valid.stdout.utf8)) as? [String: Any])
        #expect(validReport["valid"] as? Bool == true && validReport["errors"] as? Int == 0)
    }

    @Test func githubPrintsWorkflowAnnotations() async throws {
        let r = try await MirRunner.run(["validate", "--config", "config.yaml", "-o", "github", "bad/66-python-unquoted-number.yaml"],
                                        in: Self.corpus)
        #expect(r.status == 1)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines == [
            "::error file=bad/66-python-unquoted-number.yaml,line=9,col=18,title=mir validate%3A notAString::pythonVersion must be a string; unquoted 3.10 is the number 3.1 in YAML, write \"3.10\" (at spec.pythonVersion)",
        ], "\(r.stdout)")
        let duplicate = try await MirRunner.run(["validate", "--config", "config.yaml", "-o", "github", "bad/46-yaml-duplicate-key.yaml"],
                                                in: Self.corpus)
        let annotations = duplicate.stdout.split(separator: "\n")
        #expect(annotations.count == 2)
        #expect(annotations.first?.hasPrefix("::error file=bad/46-yaml-duplicate-key.yaml,line=6,col=3,") == true)
        #expect(annotations.last?.hasPrefix("::notice file=bad/46-yaml-duplicate-key.yaml,line=5,col=3,") == true)
    }

    @Test func crdSubcommandPrintsTheCommittedCRD() async throws {
        let root = MirRunner.packageRoot
        let r = try await MirRunner.run(["crd"], in: root)
        #expect(r.status == 0, "\(r.output)")
        let committed = try String(contentsOf: root.appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml"), encoding: .utf8)
        #expect(r.stdout == committed)
        let check = try await MirRunner.run(["crd", "--check", "-o", "Manifests/crd/mir.dev_managedimages.yaml"], in: root)
        #expect(check.status == 0, "\(check.output)")
        let dir = try TempDir()
        try "stale\n".write(to: dir.url.appendingPathComponent("crd.yaml"), atomically: true, encoding: .utf8)
        let stale = try await MirRunner.run(["crd", "--check", "-o", "crd.yaml"], in: dir.url)
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("is not the generated CRD"))
    }

    @Test func admissionSubcommandPrintsTheCommittedPolicyForTheShippedConfig() async throws {
        let root = MirRunner.packageRoot
        let r = try await MirRunner.run(["admission", "--config", "Manifests/controller/mir.yaml"], in: root)
        #expect(r.status == 0, "\(r.output)")
        let committed = try String(contentsOf: root.appendingPathComponent("Manifests/admission/mir-catalog.yaml"), encoding: .utf8)
        #expect(r.stdout == committed)
        let check = try await MirRunner.run(["admission", "--config", "Manifests/controller/mir.yaml", "--check", "-o", "Manifests/admission/mir-catalog.yaml"], in: root)
        #expect(check.status == 0, "\(check.output)")
        // The params follow the config: another catalog, external bases allowed.
        let dir = try TempDir()
        try """
            allowExternalBaseImages: true
            baseImages:
              slim: {packageType: apt, pythonVersions: {"3.13": "docker.io/library/python:3.13-slim", "3.9": "docker.io/library/python:3.9-slim"}}
            """.write(to: dir.url.appendingPathComponent("mir.yaml"), atomically: true, encoding: .utf8)
        let other = try await MirRunner.run(["admission", "--config", "mir.yaml"], in: dir.url)
        #expect(other.status == 0, "\(other.output)")
        #expect(other.stdout.contains("  allowExternalBaseImages: 'true'\n  imageTypes: slim\n  pythonVersions.slim: '3.9,3.13'\n"), "\(other.stdout)")
        let stale = try await MirRunner.run(["admission", "--config", "mir.yaml", "--check", "-o", root.appendingPathComponent("Manifests/admission/mir-catalog.yaml").path], in: dir.url)
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("is not the generated admission policy"))
        // A config that does not load is reported as such.
        try "allowExternalBaseImages: maybe\n".write(to: dir.url.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let bad = try await MirRunner.run(["admission", "--config", "bad.yaml"], in: dir.url)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("bad.yaml:1:"), "\(bad.output)")
    }

    @Test func preCommitHookRunsMirValidate() throws {
        let text = try String(contentsOf: MirRunner.packageRoot.appendingPathComponent(".pre-commit-hooks.yaml"), encoding: .utf8)
        #expect(text.contains("id: mir-validate"))
        #expect(text.contains("entry: mir validate"))
        #expect(text.contains("language: swift"))
    }
}
