import Foundation
import Testing
import MirModel
import MirRegistry
import MirLocalRegistry

/// End-to-end tests of the `mir` binary on temporary directories, with the embedded registry.
@Suite struct CLITests {
    /// A working directory holding a copy of the Examples (specs + config).
    func examplesDir() throws -> TempDir {
        let dir = try TempDir()
        try dir.copy(fromPackage: "Examples/specs", to: "specs")
        try dir.copy(fromPackage: "Examples/mir.yaml", to: "mir.yaml")
        return dir
    }

    func mir(_ args: [String], _ dir: TempDir) async throws -> MirRunner.Result {
        try await MirRunner.run(args, in: dir.url)
    }

    let common = ["--config", "mir.yaml", "--registry", "local:reg", "--state", "state"]

    @Test func validateExamples() async throws {
        let dir = try examplesDir()
        let r = try await mir(["validate", "--config", "mir.yaml", "specs"], dir)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("7 image(s) valid"))
        #expect(r.stderr.contains("note:") && r.stderr.contains("Namespace"))
    }

    /// The config the Manifests deploy (Manifests/controller/mir.yaml) parses and serves the examples.
    @Test func theDeployedConfigIsValid() async throws {
        let dir = try examplesDir()
        try dir.copy(fromPackage: "Manifests/controller/mir.yaml", to: "deployed.yaml")
        let r = try await mir(["validate", "--config", "deployed.yaml", "specs"], dir)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("7 image(s) valid"))
    }

    @Test func applyTwiceThenPlanIsEmpty() async throws {
        let dir = try examplesDir()
        let first = try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes", "--stats"], dir)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.stdout.contains("Plan: 7 to create, 7 to update, 7 to build, 0 to delete."), "\(first.stdout)")
        #expect(first.stdout.contains("SIMULATION"))
        // Observing an empty registry costs one listing call; each of the 7 builds checks its repository right before
        // its push (DescribeRepositories by name, ListTagsForResource).
        #expect(first.stdout.contains("DescribeRepositories: 8"), "\(first.stdout)")
        #expect(first.stdout.contains("ListTagsForResource: 7"), "\(first.stdout)")

        let second = try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes", "--stats"], dir)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.stdout.contains("No changes."), "\(second.stdout)")
        #expect(!second.stdout.contains("CreateRepository"), "no writes on a converged registry: \(second.stdout)")

        let plan = try await mir(["plan"] + common + ["--specs", "specs", "-o", "json"], dir)
        #expect(plan.status == 0)
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(plan.stdout.utf8))
        #expect(json["actions"]?.arrayValue?.isEmpty == true, "\(plan.stdout)")

        let list = try await mir(["images", "list"] + common + ["--specs", "specs"], dir)
        #expect(list.status == 0)
        #expect(list.stdout.components(separatedBy: "\n").filter { $0.contains("Ready") }.count == 7, "\(list.stdout)")
        #expect(list.stdout.contains("(simulated)"))
    }

    @Test func renderBuilderWritesBuildContextsAndDoesNotDuplicate() async throws {
        let dir = try examplesDir()
        let first = try await mir(["apply"] + common + ["--specs", "specs", "--yes", "--builds-dir", "builds"], dir)
        #expect(first.status == 0, "\(first.output)")
        let builds = try FileManager.default.contentsOfDirectory(atPath: dir.path("builds")).sorted()
        #expect(builds == ["geo", "latex-reports", "ml-base", "nlp", "torch-cpu", "xgboost-cpu", "xgboost102-tf"])
        let tags = try FileManager.default.contentsOfDirectory(atPath: dir.path("builds/ml-base"))
        #expect(tags.count == 1)
        let dockerfile = try String(contentsOfFile: dir.path("builds/ml-base/\(tags[0])/Dockerfile"), encoding: .utf8)
        #expect(dockerfile.contains("FROM public.ecr.aws/docker/library/python:3.11-slim-bookworm"))
        #expect(FileManager.default.fileExists(atPath: dir.path("builds/ml-base/\(tags[0])/job.yaml")))
        // Submitted builds are not started again.
        let second = try await mir(["plan"] + common + ["--specs", "specs"], dir)
        #expect(second.stdout.contains("No changes."), "\(second.stdout)")
        let list = try await mir(["images", "list"] + common + ["--specs", "specs"], dir)
        #expect(list.stdout.contains("BuildingFirstTime"))
    }

    @Test func removingSpecsDeletesOnlyOwnedPrefixedDeleteRepositories() async throws {
        let dir = try examplesDir()
        // The simulated images make repositories non-empty: allow force deletion for this test.
        try dir.write("mir.yaml", try String(contentsOfFile: dir.path("mir.yaml"), encoding: .utf8) + "forceDeleteRepositories: true\n")
        #expect(try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir).status == 0)
        // Someone else's repositories: one under the prefix without mir's tags, one outside the prefix with them.
        let registry = try LocalRegistry(directory: dir.path("reg"))
        _ = try await registry.createRepository(name: "mir/stranger", tags: [ResourceTag(key: "team", value: "x")])
        _ = try await registry.createRepository(name: "other/geo", tags: [
            ResourceTag(key: "mir.dev/managed-by", value: "mir"), ResourceTag(key: "mir.dev/deletion-policy", value: "Delete")])
        try FileManager.default.removeItem(atPath: dir.path("specs/geo.yaml"))   // Delete policy → deleted
        try FileManager.default.removeItem(atPath: dir.path("specs/nlp.yaml"))   // Retain → kept

        let r = try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("- delete repository mir/geo (spec removed, deletionPolicy Delete, force)"), "\(r.stdout)")
        #expect(r.stdout.contains("Plan: 0 to create, 0 to update, 0 to build, 1 to delete."), "\(r.stdout)")
        let names = Set(try await registry.describeRepositories(names: nil, maxResults: 1000, nextToken: nil).items.map(\.name))
        #expect(!names.contains("mir/geo"))
        #expect(names.isSuperset(of: ["mir/nlp", "mir/stranger", "other/geo", "mir/ml-base"]))
    }

    @Test func aRemovedSpecDeletesItsRepositoryWithTheImagesMirBuiltWithoutForce() async throws {
        let dir = try examplesDir()
        #expect(try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir).status == 0)
        try FileManager.default.removeItem(atPath: dir.path("specs/geo.yaml"))
        let r = try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("deleted with the 1 image(s) mir built in it"), "\(r.stdout)")
        let registry = try LocalRegistry(directory: dir.path("reg"))
        await #expect(throws: RegistryError.self) { _ = try await registry.describeRepositories(names: ["mir/geo"], maxResults: nil, nextToken: nil) }
    }

    @Test func anImageMirDidNotBuildBlocksDeletionVisibly() async throws {
        let dir = try examplesDir()
        #expect(try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir).status == 0)
        let registry = try LocalRegistry(directory: dir.path("reg"))
        _ = try await registry.putImage(repositoryName: "mir/geo", manifest: #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"by":"hand"}}"#, tag: "hand-pushed")
        try FileManager.default.removeItem(atPath: dir.path("specs/geo.yaml"))
        let r = try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir)
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stdout.contains("holds 1 image(s) mir did not build (hand-pushed)"), "\(r.stdout)")
        #expect(r.stdout.contains("forceDeleteRepositories"), "\(r.stdout)")
        #expect(try await registry.describeRepositories(names: ["mir/geo"], maxResults: nil, nextToken: nil).items.count == 1)
    }

    @Test func anEmptySpecsDirectoryDeletesNothingUnlessAllowed() async throws {
        let dir = try examplesDir()
        #expect(try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir).status == 0)
        try FileManager.default.removeItem(atPath: dir.path("specs"))
        try FileManager.default.createDirectory(atPath: dir.path("specs"), withIntermediateDirectories: true)
        let r = try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("the desired state is empty"), "\(r.stdout)")
        #expect(r.stdout.contains("0 to delete"), "\(r.stdout)")
        let registry = try LocalRegistry(directory: dir.path("reg"))
        #expect(try await registry.describeRepositories(names: nil, maxResults: 1000, nextToken: nil).items.count == 7)
    }

    @Test func aSpecThatFailsToParseBlocksAllDeletions() async throws {
        let dir = try examplesDir()
        #expect(try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir).status == 0)
        try FileManager.default.removeItem(atPath: dir.path("specs/geo.yaml"))
        try dir.write("specs/broken.yaml", "apiVersion: mir.dev/v1alpha1\nkind: ManagedImage\nmetadata: {name: broken\nspec: {}\n")
        let before = dir.snapshot("reg")
        let r = try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir)
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains("specs/broken.yaml:"), "\(r.stderr)")
        #expect(dir.snapshot("reg") == before, "the registry must be unchanged")
        let registry = try LocalRegistry(directory: dir.path("reg"))
        #expect(try await registry.describeRepositories(names: ["mir/geo"], maxResults: nil, nextToken: nil).items.count == 1)
    }

    @Test func pipFilterWorksLikeTheSeedSDK() async throws {
        let dir = try examplesDir()
        #expect(try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir).status == 0)
        func names(_ filters: [String]) async throws -> [String] {
            let r = try await mir(["images", "list"] + common + ["--specs", "specs", "-o", "json"] + filters.flatMap { ["--pip", $0] }, dir)
            #expect(r.status == 0, "\(r.output)")
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(r.stdout.utf8))
            return (json.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted()
        }
        #expect(try await names(["xgboost==2.1.1"]) == ["xgboost-cpu"])
        #expect(try await names(["xgboost"]) == ["xgboost-cpu", "xgboost102-tf"])
        // Children carry their parent's libraries; all filters must match.
        #expect(try await names(["scikit-learn==1.5.2", "torch"]) == ["torch-cpu"])
        #expect(try await names(["xgboost==9.9.9"]) == [])
        // Without specs, status comes from the registry and build records alone.
        let bare = try await mir(["images", "list"] + common + ["--pip", "xgboost", "-o", "json"], dir)
        let bareNames = (try JSONDecoder().decode(JSONValue.self, from: Data(bare.stdout.utf8)).arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        #expect(bareNames.sorted() == ["xgboost-cpu", "xgboost102-tf"], "\(bare.output)")
        let get = try await mir(["images", "get", "xgboost-cpu"] + common + ["--specs", "specs"], dir)
        #expect(get.stdout.contains("xgboost==2.1.1") && get.stdout.contains("numpy=="), "\(get.stdout)")
    }

    @Test func changingTheSpecOrPlatformRebuildsWithTheRightReason() async throws {
        let dir = try examplesDir()
        #expect(try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir).status == 0)
        // Platform upgrade: everything is Outdated, then rebuilt.
        let config = try String(contentsOfFile: dir.path("mir.yaml"), encoding: .utf8)
        try dir.write("mir.yaml", config.replacingOccurrences(of: "platformVersion: \"2026.11\"", with: "platformVersion: \"2026.12\""))
        let list = try await mir(["images", "list"] + common + ["--specs", "specs"], dir)
        #expect(list.stdout.components(separatedBy: "\n").filter { $0.contains("Outdated") && $0.contains("PlatformUpgraded") }.count == 7, "\(list.stdout)")
        let plan = try await mir(["plan"] + common + ["--specs", "specs"], dir)
        #expect(plan.stdout.contains("* build ml-base:") && plan.stdout.contains("(platform upgraded)"), "\(plan.stdout)")
        // Children of a rebuilt parent: their tag changes with the parent's.
        #expect(plan.stdout.contains("Plan: 0 to create, 0 to update, 7 to build, 0 to delete."), "\(plan.stdout)")
        #expect(try await mir(["apply"] + common + ["--specs", "specs", "--builder", "simulate", "--yes"], dir).status == 0)
        // A spec change in the parent rebuilds it (spec changed) and its children (parent rebuilt).
        let base = try String(contentsOfFile: dir.path("specs/ml-base.yaml"), encoding: .utf8)
        try dir.write("specs/ml-base.yaml", base.replacingOccurrences(of: "\"==1.5.2\"", with: "\"==1.5.1\""))
        let plan2 = try await mir(["plan"] + common + ["--specs", "specs"], dir)
        #expect(plan2.stdout.contains("(spec changed)") && plan2.stdout.contains("xgboost-cpu:") && plan2.stdout.contains("(parent rebuilt)"), "\(plan2.stdout)")
        #expect(plan2.stdout.contains("3 to build"), "\(plan2.stdout)")
    }

    @Test func usageErrorsExitTwo() async throws {
        let dir = try TempDir()
        #expect(try await mir(["apply", "--no-such-flag"], dir).status == 2)
        let examples = try examplesDir()
        let unknown = try await mir(["plan", "--config", "mir.yaml", "--registry", "nope", "--specs", "specs"], examples)
        #expect(unknown.status == 2, "\(unknown.output)")
        #expect(unknown.stderr.contains("unknown registry 'nope'"), "\(unknown.stderr)")
        let badPrefix = try await mir(["plan", "--config", "mir.yaml", "--prefix", "Bad/", "--specs", "specs"], examples)
        #expect(badPrefix.status == 2 && badPrefix.stderr.contains("--prefix"), "\(badPrefix.output)")
        let v = try await mir(["version"], dir)
        #expect(v.status == 0 && v.stdout.hasPrefix("mir "))
        // mir run's flags are checked before anything connects.
        for (arguments, message) in [
            (["run", "--metrics-bind-address", "nonsense"], "invalid bind address 'nonsense': expected host:port"),
            (["run", "--health-probe-bind-address", "[::1:80"], "invalid bind address"),
            (["run", "--leader-elect-lease-duration", "1s"], "leader election lease duration (1s) must be greater than the renew deadline (10s)"),
            // Issue 8, problem 9: a sub-second lease (written as leaseDurationSeconds: 0) is refused.
            (["run", "--leader-elect-lease-duration", "900ms", "--leader-elect-renew-deadline", "600ms", "--leader-elect-retry-period", "200ms"],
             "leader election lease duration must be at least 1s (got 900ms)"),
            (["run", "--leader-elect-lease-duration", "5s", "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "2s"],
             "renew deadline (2s) must be greater than 1.2 × the retry period (2s)"),
            (["run", "--leader-elect-retry-period", "soon"], "'soon' is invalid for '--leader-elect-retry-period"),
            (["run", "--source", "git:repo"], "--source must be cluster or files:DIR"),
        ] {
            let refused = try await mir(arguments, dir)
            #expect(refused.status == 2 && refused.stderr.contains(message), "\(arguments): \(refused.output)")
        }
    }

    @Test func applyWithoutYesRefusesNonInteractively() async throws {
        let dir = try examplesDir()
        let r = try await mir(["apply"] + common + ["--specs", "specs"], dir)
        #expect(r.status == 1)
        #expect(r.stderr.contains("--yes"))
        let registry = try LocalRegistry(directory: dir.path("reg"))
        #expect(try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil).items.isEmpty)
    }
}
