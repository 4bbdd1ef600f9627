import AsyncHTTPClient
import Foundation
import Logging
import MirBuild
import MirBuildEngine
import MirECR
import MirModel
import MirTestSupport
import Testing

/// Real builds: buildah builds mir's Dockerfiles FROM a Python base made from Debian's packages, pushes them to a
/// CNCF distribution registry on loopback and runs the report step in them; pip inside the builds reaches PyPI.
/// Nothing here skips: a missing tool is installed by scripts/setup, and if it still is missing the test fails.
/// One registry (with the base images) serves the whole suite and dies with the test process.
@Suite("RealBuild", .serialized) struct RealBuildTests {
    static let packageRoot = MotoServer.packageRoot
    static let mir = ProcessRunner.mirBinary(packageRoot: packageRoot)

    /// A scratch folder with a config whose catalog points at the suite's registry.
    struct Workspace {
        let folder: URL
        let registry: DistributionRegistry
        let bases: PythonBaseImage.Names

        init(prefix: String) async throws {
            (registry, bases) = try await SuiteRegistry.shared.get()
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("mir-realbuild-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("specs"), withIntermediateDirectories: true)
            try write("mir.yaml", """
                repositoryPrefix: \(prefix)
                maxConcurrentBuilds: 2
                baseImages:
                  standard:
                    packageType: apt
                    pythonVersions:
                      "3.11": \(bases.base)
                  nonroot:
                    packageType: apt
                    user: "\(PythonBaseImage.nonRootUser)"
                    pythonVersions:
                      "3.11": \(bases.nonRoot)
                  distro:
                    packageType: apt
                    pythonVersions:
                      "3.11": \(bases.externallyManaged)
                """)
        }

        func write(_ path: String, _ text: String) throws {
            try Data(text.utf8).write(to: folder.appendingPathComponent(path))
        }

        func spec(_ name: String, base: String, pip: [String], apt: [String] = []) throws {
            var text = "apiVersion: mir.dev/v1alpha1\nkind: ManagedImage\nmetadata:\n  name: \(name)\nspec:\n  base:\n    \(base)\n"
            if base.hasPrefix("imageType") { text += "  pythonVersion: \"3.11\"\n" }
            text += "  pipRequirements:\n" + pip.map { requirement -> String in
                let parts = requirement.split(separator: "=", maxSplits: 1)
                return parts.count == 2 ? "    - name: \(parts[0])\n      versionSpecifier: \"=\(parts[1])\"\n" : "    - name: \(requirement)\n"
            }.joined()
            if !apt.isEmpty { text += "  packageRequirements:\n" + apt.map { "    - name: \($0)\n" }.joined() }
            try write("specs/\(name).yaml", text)
        }

        var common: [String] {
            ["--config", path("mir.yaml"), "--registry", "local:\(path("registry")),oci=\(registry.url.absoluteString)", "--state", path("state")]
        }

        func path(_ p: String) -> String { folder.appendingPathComponent(p).path }

        func mir(_ arguments: [String]) async throws -> ProcessRunner.Result {
            try await ProcessRunner.run(RealBuildTests.mir, arguments, in: folder)
        }

        func apply() async throws -> ProcessRunner.Result {
            try await mir(["apply", "--specs", path("specs"), "--builder", "buildah", "--builds-dir", path("builds"), "--yes"] + common)
        }

        func records() async throws -> [String: BuildRecord] {
            let all = try await FileBuildRecordStore(directory: path("state/builds")).allRecords()
            return Dictionary(all.map { ($0.image, $0) }, uniquingKeysWith: { a, b in a.startedAt > b.startedAt ? a : b })
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }
    }

    @Test func applyBuildsParentsAndChildrenForReal() async throws {
        let w = try await Workspace(prefix: "rb1/")
        defer { w.remove() }
        try w.spec("tools", base: "imageType: standard", pip: ["six==1.16.0", "idna"])
        try w.spec("kid", base: "managedImage: tools", pip: ["packaging"], apt: ["jq"])
        try w.spec("lonely", base: "imageType: standard", pip: ["packaging"])
        try w.spec("broken", base: "imageType: standard", pip: ["six===0.0.0-nope"])

        let first = try await w.apply()
        #expect(first.status == 1, "\(first.output)")  // one build failed
        #expect(first.stdout.contains("Building with buildah"))
        #expect(first.stdout.contains("STEP 3/4: RUN [\"python\",\"-m\",\"pip\",\"install\""), "progress lines per step")

        let records = try await w.records()
        let tools = try #require(records["tools"]), kid = try #require(records["kid"]), lonely = try #require(records["lonely"])
        let broken = try #require(records["broken"])
        for record in [tools, kid, lonely] {
            #expect(record.state == .succeeded, "\(record.image): \(record.message ?? "")")
            #expect(record.builder == "buildah" && !record.simulated)
            // The image is in the registry, under its tag, with the digest the build recorded.
            let digest = try await w.registry.digest("rb1/\(record.image)", tag: record.tag)
            #expect(digest != nil && digest == record.imageDigest, "\(record.image)")
        }
        // Real pip lists: the child has its parent's libraries and its own.
        func versions(_ r: BuildRecord) -> [String: String] { Dictionary(r.pipLibraries.map { ($0.name.lowercased(), $0.version) }, uniquingKeysWith: { a, _ in a }) }
        #expect(versions(tools)["six"] == "1.16.0")
        #expect(versions(tools)["idna"] != nil && versions(tools)["pip"] != nil)
        #expect(Set(tools.pipLibraries).isSubset(of: Set(kid.pipLibraries)))
        #expect(versions(kid)["packaging"] != nil && versions(tools)["packaging"] == nil)
        #expect(kid.parentTag == tools.tag)

        // The failed build: typed, with the failing step and exit code, the log path last; nothing pushed.
        #expect(broken.state == .failed)
        let failure = try #require(broken.failure)
        #expect(failure.reason == .buildFailed)
        #expect(failure.step?.contains("six===0.0.0-nope") == true && failure.step?.hasPrefix("STEP 3/4: RUN") == true)
        #expect(failure.exitCode == 1)
        let logPath = w.path("builds/broken/\(broken.tag)/build.log")
        #expect(broken.message?.hasSuffix("full log: \(logPath)") == true, "\(broken.message ?? "")")
        #expect(try String(contentsOfFile: logPath, encoding: .utf8).contains("No matching distribution found for six===0.0.0-nope"))
        #expect(try await w.registry.tags("rb1/broken").isEmpty)
        #expect(first.stdout.contains("FAILED: build broken:\(broken.tag) failed: BuildFailed at STEP 3/4"))

        // The apt package is installed and apt's lists are gone from the image.
        let inKid = try await BuildahProbe.run(image: "\(w.registry.host)/rb1/kid:\(kid.tag)", ["sh", "-c", "jq --version && ls -A /var/lib/apt/lists | wc -l"])
        #expect(inKid.hasPrefix("jq-1.6"), "\(inKid)")
        #expect(inKid.hasSuffix("\n0\n"), "\(inKid)")

        // Found by library, from the real pip lists.
        let listed = try await w.mir(["images", "list", "--pip", "six==1.16.0"] + w.common)
        #expect(listed.status == 0, "\(listed.output)")
        let names = Set(listed.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.map(String.init) })
        #expect(names == ["tools", "kid"])
        let failedRow = try await w.mir(["images", "list"] + w.common)
        #expect(failedRow.stdout.split(separator: "\n").contains { $0.hasPrefix("broken ") && $0.contains("Failed") && $0.contains("BuildFailed") })

        // A second apply builds nothing and changes nothing.
        let second = try await w.apply()
        #expect(second.status == 0, "\(second.output)")
        #expect(second.stdout.contains("Plan: 0 to create, 0 to update, 0 to build, 0 to delete."))
        #expect(!second.stdout.contains("STEP "))
        for record in [tools, kid, lonely] {
            #expect(try await w.registry.digest("rb1/\(record.image)", tag: record.tag) == record.imageDigest)
        }
    }

    @Test func nonRootBasesPEP668AndTheReportStepAsTheJobRunsIt() async throws {
        let w = try await Workspace(prefix: "rb2/")
        defer { w.remove() }
        try w.spec("app", base: "imageType: nonroot", pip: ["six==1.16.0"], apt: ["jq"])
        try w.spec("distro", base: "imageType: distro", pip: ["six==1.16.0"])
        let result = try await w.apply()
        #expect(result.status == 1, "\(result.output)")
        let records = try await w.records()

        // A base that runs as uid 1001: apt ran as root, pip into the user's environment, the user is restored.
        let app = try #require(records["app"])
        #expect(app.state == .succeeded, "\(app.message ?? "")")
        #expect(app.pipLibraries.contains(PipLibrary(name: "six", version: "1.16.0")))
        let image = "\(w.registry.host)/rb2/app:\(app.tag)"
        #expect(try await BuildahProbe.config(image: image, "User") == PythonBaseImage.nonRootUser)
        let probe = try await BuildahProbe.run(image: image, ["sh", "-c", "id -u; command -v python; jq --version"])
        #expect(probe.hasPrefix("1001\n/opt/venv/bin/python\njq-"), "\(probe)")

        // A Python that refuses pip installs: BuildFailed naming PEP 668, nothing pushed.
        let distro = try #require(records["distro"])
        #expect(distro.state == .failed)
        #expect(distro.failure?.reason == .buildFailed)
        #expect(distro.failure?.cause?.contains("PEP 668") == true)
        #expect(distro.message?.contains("externally-managed-environment") == true)
        #expect(try await w.registry.tags("rb2/distro").isEmpty)
    }

    @Test func reportStepRunsAsNobodyOnAReadOnlyRoot() async throws {
        let (registry, bases) = try await SuiteRegistry.shared.get()
        _ = registry
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mir-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let probe = """
            import json,os,sys
            def attempt(path):
                try:
                    open(path,'w').write('x'); return 'ok'
                except OSError as e:
                    return e.strerror
            doc={'uid':os.getuid(),'gid':os.getgid(),'root':attempt('/probe'),'usr':attempt('/usr/probe'),'tmp':attempt('/tmp/probe'),
                 'home':os.environ.get('HOME'),'nobytecode':os.environ.get('PYTHONDONTWRITEBYTECODE'),'path':os.environ.get('PATH')}
            open(sys.argv[1],'w').write(json.dumps(doc))
            """
        let engine = try ContainerEngine.locate(.buildah)
        let outcome = try await ReportStep.run(engine: engine, image: bases.nonRoot, log: BuildLog(path: folder.appendingPathComponent("log").path),
                                               program: probe)
        #expect(outcome.exitCode == 0, "\(outcome.logTail)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(outcome.terminationMessage.utf8)) as? [String: Any])
        #expect(doc["uid"] as? Int == 65534 && doc["gid"] as? Int == 65534)
        #expect(doc["root"] as? String == "Read-only file system" && doc["usr"] as? String == "Read-only file system")
        #expect(doc["tmp"] as? String == "ok")
        #expect(doc["home"] as? String == "/tmp" && doc["nobytecode"] as? String == "1")
        // The image's own environment (its venv first on PATH) is kept, as a container runtime keeps it.
        #expect((doc["path"] as? String)?.hasPrefix("/opt/venv/bin:") == true)
    }

    @Test func pushesWithECRCredentialsThroughThePrivateAuthFile() async throws {
        let (open, bases) = try await SuiteRegistry.shared.get()
        _ = open
        try await MotoServer.with { moto in
            var logger = Logger(label: "mir.ecr.test")
            logger.logLevel = .error
            let ecr = try await ECRRegistry.make(region: "us-east-1", endpointURL: moto.url.absoluteString, profile: nil,
                                                 environment: ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                                               "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"], logger: logger)
            defer { Task { try? await ecr.shutdown() } }
            let token = try await ecr.getAuthorizationToken()
            #expect(token.username == "AWS" && !token.password.isEmpty)
            try await DistributionRegistry.with(htpasswd: (token.username, token.password)) { secured in
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mir-secure-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: folder) }
                let records = FileBuildRecordStore(directory: folder.appendingPathComponent("records").path)
                let privateFoldersBefore = Self.privateFolders()
                let source = TokenCredentialSource(hosts: [secured.host]) {
                    let fresh = try await ecr.getAuthorizationToken()
                    return (RegistryCredentials(username: fresh.username, password: fresh.password), fresh.expiresAt)
                }
                let builder = EngineBuilder(engine: try ContainerEngine.locate(.buildah), buildsDirectory: folder.appendingPathComponent("builds").path,
                                            records: records, credentials: source)
                let request = try Self.request(name: "secure", pip: ["six==1.16.0"], base: bases.base, repositoryURI: "\(secured.host)/mir/secure")
                let record = try await builder.build(request)
                #expect(record.state == .succeeded, "\(record.message ?? "")")
                #expect(try await secured.tags("mir/secure", credentials: (token.username, token.password)) == [request.image.tag])
                #expect(try await secured.digest("mir/secure", tag: request.image.tag, credentials: (token.username, token.password)) == record.imageDigest)
                #expect(try await secured.get("/v2/mir/secure/tags/list").0 == 401)
                // The secret is in no log and no command line, and the private folder is gone.
                let log = try String(contentsOfFile: folder.appendingPathComponent("builds/secure/\(request.image.tag)/build.log").path, encoding: .utf8)
                #expect(!log.contains(token.password))
                #expect(!log.contains(Data("AWS:\(token.password)".utf8).base64EncodedString()))
                #expect(log.contains("--authfile"))
                #expect(Self.privateFolders() == privateFoldersBefore)

                // Wrong credentials: PushDenied, and nothing is in the registry under that tag.
                let wrong = EngineBuilder(engine: try ContainerEngine.locate(.buildah), buildsDirectory: folder.appendingPathComponent("builds").path,
                                          records: records, credentials: TokenCredentialSource(hosts: [secured.host]) {
                                              (RegistryCredentials(username: "AWS", password: "not-the-password"), nil)
                                          })
                let denied = try await wrong.build(try Self.request(name: "denied", pip: ["six==1.16.0"], base: bases.base, repositoryURI: "\(secured.host)/mir/denied"))
                #expect(denied.state == .failed)
                #expect(denied.failure?.reason == .pushDenied, "\(denied.message ?? "")")
                #expect(try await secured.tags("mir/denied", credentials: (token.username, token.password)).isEmpty)
            }
        }
    }

    static func privateFolders() -> Set<String> {
        Set(((try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? []).filter { $0.hasPrefix("mir-engine-") })
    }

    static func request(name: String, pip: [String], base: String, repositoryURI: String) throws -> BuildRequest {
        let image = ManagedImage(name: name, spec: ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.11",
                                                                    pipRequirements: pip.map { text in
            let parts = text.components(separatedBy: "==")
            return PipRequirement(name: parts[0], versionSpecifier: parts.count > 1 ? "==" + parts[1] : nil)
        }))
        let config = MirConfig(baseImages: ["standard": BaseImageCatalogEntry(packageType: .apt, pythonVersions: ["3.11": base])])
        let resolved = try DesiredStateResolver.resolve([image], config: config)[0]
        return BuildRequest(image: resolved, reason: .new, repositoryURI: repositoryURI, baseImageReference: base, platformVersion: config.platformVersion)
    }
}

/// The suite's registry: started once, with the Python base images pushed; it dies with the test process.
actor SuiteRegistry {
    static let shared = SuiteRegistry()
    private var started: Task<(DistributionRegistry, PythonBaseImage.Names), Error>?

    func get() async throws -> (DistributionRegistry, PythonBaseImage.Names) {
        if let started { return try await started.value }
        let task = Task {
            _ = try await ToolLocator.require("buildah")
            let registry = try await DistributionRegistry.start()
            return (registry, try await PythonBaseImage.push(to: registry))
        }
        started = task
        return try await task.value
    }
}

/// Runs a command in an image with buildah, for looking inside built images.
enum BuildahProbe {
    static func run(image: String, _ command: [String]) async throws -> String {
        let buildah = URL(fileURLWithPath: try await ToolLocator.require("buildah"))
        let from = try await ProcessRunner.run(buildah, ["from", "--tls-verify=false", "--quiet", image])
        let container = from.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard from.status == 0, !container.isEmpty else { throw ProbeError(message: from.output) }
        defer { Task { _ = try? await ProcessRunner.run(buildah, ["rm", container]) } }
        let result = try await ProcessRunner.run(buildah, ["run", "--isolation", "chroot", container, "--"] + command)
        guard result.status == 0 else { throw ProbeError(message: result.output) }
        return result.stdout
    }

    static func config(image: String, _ key: String) async throws -> String? {
        let buildah = URL(fileURLWithPath: try await ToolLocator.require("buildah"))
        let result = try await ProcessRunner.run(buildah, ["inspect", "--type", "image", image])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return ((object?["OCIv1"] as? [String: Any])?["config"] as? [String: Any])?[key] as? String
    }

    struct ProbeError: Error { var message: String }
}
