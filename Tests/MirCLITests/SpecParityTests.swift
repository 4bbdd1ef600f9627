import Foundation
import MirTestSupport
import Testing

/// One truth for a spec: every case of the spec corpus (Tests/MirSpecTests/Corpus) through `mir validate` and through
/// `kubectl apply` to `mir dev` (the generated CRD) with `mir run` reconciling. The verdicts must agree: both reject,
/// or — for checks that need other objects or mir's config — the controller reports it on the object with a
/// Ready=False condition and a Warning Event within seconds.
@Suite(.serialized) struct SpecParityTests {
    static let corpus = MirRunner.packageRoot.appendingPathComponent("Tests/MirSpecTests/Corpus")

    /// Codes whose check needs other objects (the controller), or the catalog's package type for an untyped package
    /// (checked by the controller: the grammars differ per type).
    static let controllerCodes: Set<String> = ["duplicateName", "parentMissing", "parentInvalid", "cycle", "inheritedMismatch",
                                               "catalogPackageType"]

    /// Codes the ValidatingAdmissionPolicy `mir admission` generates from the config refuses at `kubectl apply`.
    static let admissionPolicyCodes: Set<String> = ["unknownImageType", "pythonVersionNotOffered", "externalBaseNotAllowed"]

    /// What kubectl changes on its way to the API server, so the cluster never sees the problem: these are caught
    /// before merge by `mir validate` (pre-commit, CI). Each entry says why; the test fails if kubectl starts refusing
    /// one (the entry would then be stale).
    static let lostByKubectl: [String: String] = [
        "bad/02-status-is-written-by-mir.yaml": "status is a subresource: the API server ignores it in an apply",
        "bad/45-metadata-unknown-field.yaml": "the API server clears metadata.namespace of a cluster-scoped object",
        "bad/46-yaml-duplicate-key.yaml": "kubectl's YAML reader keeps the last value of a duplicate key",
        "bad/57-duplicate-name-across-files": "two documents with one name are one object to kubectl (the second applies over the first)",
        "bad/48-unsupported-yaml-tag.yaml": "kubectl decodes the !!binary tag, so the API server sees the decoded text, not what the file shows",
        "bad/49-yaml-merge-key.yaml": "kubectl expands YAML merge keys before sending; mir refuses them so a spec reads the same everywhere",
    ]

    struct Case: CustomTestStringConvertible, Sendable {
        var path: String
        var testDescription: String { path }
    }

    static func cases() -> [Case] {
        let fm = FileManager.default
        var result: [Case] = []
        for folder in ["bad", "bad-lifecycle"] {
            let names = ((try? fm.contentsOfDirectory(atPath: corpus.appendingPathComponent(folder).path)) ?? []).sorted()
            result += names.filter { !$0.hasPrefix(".") }.map { Case(path: "\(folder)/\($0)") }
        }
        return result
    }

    /// What `mir validate -o json` says about a path.
    struct Verdict {
        var valid: Bool
        var codes: Set<String>
        var images: Set<String>
    }

    static func validate(_ path: String) async throws -> Verdict {
        let r = try await MirRunner.run(["validate", "--config", "config.yaml", "-o", "json", path], in: corpus)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.output)")
        let diagnostics = (report["diagnostics"] as? [[String: Any]]) ?? []
        let errors = diagnostics.filter { $0["severity"] as? String == "error" }
        return Verdict(valid: report["valid"] as? Bool == true, codes: Set(errors.compactMap { $0["code"] as? String }),
                       images: Set(errors.compactMap { $0["image"] as? String }))
    }

    @Test(.timeLimit(.minutes(15))) func everyCorpusCaseIsJudgedTheSameWay() async throws {
        try await RunCommandTests.withDevCluster { cluster in
            try cluster.dir.write("mir.yaml", String(contentsOf: Self.corpus.appendingPathComponent("config.yaml"), encoding: .utf8))
            _ = try cluster.startRun()
            let kubectl = cluster.kubectl
            // The catalog checks at admission: the policy generated from the same config, with its params.
            let policy = try await MirRunner.run(["admission", "--config", "config.yaml"], in: Self.corpus)
            #expect(policy.status == 0, "\(policy.output)")
            try cluster.dir.write("admission.yaml", policy.stdout)
            for manifest in [MirRunner.packageRoot.appendingPathComponent("Manifests/namespace.yaml").path, cluster.dir.path("admission.yaml")] {
                let installed = try await kubectl.run("apply", "-f", manifest)
                #expect(installed.status == 0, "\(installed.output)")
            }
            var refusedByPolicy = 0
            var summary: [String: Int] = [:]
            for c in Self.cases() {
                let target = Self.corpus.appendingPathComponent(c.path).path
                let verdict = try await Self.validate(c.path)
                #expect(!verdict.valid, "\(c.path): mir validate accepted a bad case")
                let applied = try await kubectl.run("apply", "-R", "-f", target)
                defer { summary[applied.status == 0 ? "admitted" : "rejected", default: 0] += 1 }
                if applied.status != 0 {
                    // Both reject. Objects applied before a broken later document are removed below.
                    if !verdict.codes.isDisjoint(with: Self.admissionPolicyCodes) {
                        #expect(applied.output.contains("ValidatingAdmissionPolicy 'mir-catalog' with binding 'mir-catalog' denied request: ")
                                || verdict.codes.subtracting(Self.admissionPolicyCodes).subtracting(Self.controllerCodes).count > 0,
                                "\(c.path): \(applied.output)")
                        if applied.output.contains("ValidatingAdmissionPolicy 'mir-catalog'") { refusedByPolicy += 1 }
                    }
                } else if let why = Self.lostByKubectl[c.path] {
                    _ = why
                } else if !verdict.codes.isEmpty, verdict.codes.isSubset(of: Self.controllerCodes) {
                    for image in verdict.images.sorted() {
                        let reported = try await Self.waitForReport(kubectl, image: image)
                        #expect(reported, "\(c.path): the controller did not report \(image) with Ready=False and an Event")
                    }
                } else {
                    Issue.record("\(c.path): mir validate rejects it (\(verdict.codes.sorted())) but kubectl apply admitted it: \(applied.output)")
                }
                if applied.status != 0, Self.lostByKubectl[c.path] != nil {
                    Issue.record("\(c.path) is listed as lost by kubectl, but kubectl refused it: \(applied.output)")
                }
                let deleted = try await kubectl.run("delete", "managedimages", "--all", "--timeout=60s")
                #expect(deleted.status == 0, "\(c.path): \(deleted.output)")
                _ = try await kubectl.run("delete", "events", "--all", "-n", "default")
            }
            // Both ways, and the controller: most cases are refused at admission, the rest reported by the controller.
            #expect(summary["rejected", default: 0] >= 65, "\(summary)")
            #expect(summary["admitted", default: 0] >= 10, "\(summary)")
            #expect(refusedByPolicy >= 3, "cases refused by the admission policy: \(refusedByPolicy)")
            print("parity: \(summary), refused by the admission policy: \(refusedByPolicy)")
            // The good corpus is admitted: its ManagedImage documents (mir dev serves no Deployments).
            #expect(try await Self.validate("good").valid)
            var documents: [String] = []
            for file in FileManager.default.subpaths(atPath: Self.corpus.appendingPathComponent("good").path) ?? []
            where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                let text = try String(contentsOf: Self.corpus.appendingPathComponent("good").appendingPathComponent(file), encoding: .utf8)
                documents += text.components(separatedBy: "\n---").filter { $0.contains("kind: ManagedImage") }
            }
            #expect(documents.count == 5)
            try cluster.dir.write("good.yaml", documents.joined(separator: "\n---\n"))
            let good = try await kubectl.run("apply", "-f", cluster.dir.path("good.yaml"))
            #expect(good.status == 0, "\(good.output)")
        }
    }

    /// Polls until `image` has Ready=False with a reason and a Warning Event about it.
    static func waitForReport(_ kubectl: Kubectl, image: String) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let ready = try await kubectl.run("get", "managedimage", image, "-o",
                                              #"jsonpath={.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}"#)
            let events = try await kubectl.run("get", "events", "-n", "default", "-o",
                                               #"jsonpath={range .items[*]}{.involvedObject.name}/{.type}{"\n"}{end}"#)
            let warned = events.stdout.split(separator: "\n").contains { $0 == "\(image)/Warning" }
            let parts = ready.stdout.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 2, parts[0] == "False", !parts[1].isEmpty, warned { return true }
            try await Task.sleep(for: .milliseconds(300))
        }
        return false
    }
}
