import AsyncHTTPClient
import Foundation
import MirBuild
import MirModel
import MirTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `mir dev` running build Jobs for real (buildah, and a docker-registry it starts), `mir run` as the controller,
/// the real kubectl. Part of the RealBuild suite (serialized with it; the same cached Python base).
extension RealBuildTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    @Test(.timeLimit(.minutes(8))) func devRunsBuildJobsForRealAndKubectlShowsTheirLogs() async throws {
        let w = try await Workspace(prefix: "rb3/")
        defer { w.remove() }
        guard let kubectlPath = Kubectl.executable else { Issue.record("kubectl is not installed; run scripts/setup"); return }
        _ = kubectlPath
        _ = try await ToolLocator.require("docker-registry")
        // One attempt per build: a failing requirement fails the Job at once.
        let config = try String(contentsOf: w.folder.appendingPathComponent("mir.yaml"), encoding: .utf8)
        try w.write("mir.yaml", config + "\nbuilder:\n  backoffLimit: 0\n")
        try w.write("specs/00-namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mir-builds\n")
        try w.spec("tools", base: "imageType: standard", pip: ["six==1.16.0"])
        try w.spec("kid", base: "managedImage: tools", pip: ["packaging"])

        let environment = ProcessInfo.processInfo.environment.merging(["MIR_EXIT_WITH_PARENT": "1"]) { $1 }
        let dev = try BackgroundProcess(RealBuildTests.mir, [
            "dev", "--port", "0", "--state", w.path("dev"), "--kubeconfig", w.path("kubeconfig"), "--registry", "local:" + w.path("registry"),
            "--crd", RealBuildTests.packageRoot.appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml").path,
        ], in: w.folder, environment: environment, outputDirectory: w.folder)
        var run: BackgroundProcess?
        defer {
            run?.send(SIGKILL)
            dev.send(SIGKILL)
        }
        guard await dev.waitForOutput(containing: "serving on", timeout: .seconds(90)) else {
            throw Failure(description: "mir dev did not start: \(dev.stdout)\(dev.stderr)")
        }
        // The default is real jobs (buildah is installed), pushing to a docker-registry mir dev started on loopback.
        let registryValue = try #require(await dev.waitForMatch(#"--registry (local:\S+,oci=http://127\.0\.0\.1:\d+)"#), "\(dev.stdout)")
        #expect(dev.stdout.contains("build jobs: real, built with buildah and pushed to docker-registry on 127.0.0.1:"), "\(dev.stdout)")
        let ociBase = String(registryValue[registryValue.range(of: "oci=")!.upperBound...])
        #expect(registryValue.hasPrefix("local:" + URL(fileURLWithPath: w.path("registry")).resolvingSymlinksInPath().path + ","))

        let kubectl = Kubectl(kubeconfig: w.folder.appendingPathComponent("kubeconfig"), home: w.folder)
        run = try BackgroundProcess(RealBuildTests.mir, [
            "run", "--kubeconfig", w.path("kubeconfig"), "--config", w.path("mir.yaml"), "--registry", registryValue,
            "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0", "--lease-namespace", "default",
        ], in: w.folder, environment: environment, outputDirectory: w.folder)
        guard await run?.waitForOutput(containing: "probes on", timeout: .seconds(90)) == true else {
            throw Failure(description: "mir run did not start: \(run?.stdout ?? "")\(run?.stderr ?? "")")
        }
        func diagnostics() -> String { "\n--- mir run:\n\(run?.stdout ?? "")\(run?.stderr.suffix(3000) ?? "")\n--- mir dev:\n\(dev.stdout)\(dev.stderr.suffix(3000))" }

        // Parent and child: Ready, with real pip lists (the child's has its parent's libraries).
        let applied = try await kubectl.run("apply", "-f", w.path("specs"))
        #expect(applied.status == 0, "\(applied.output)")
        let waited = try await kubectl.run("wait", "--for=condition=Ready", "mi/tools", "mi/kid", "--timeout=240s")
        guard waited.status == 0 else { throw Failure(description: "not Ready: \(waited.output)\(diagnostics())") }
        func status(_ image: String, _ path: String) async throws -> String {
            try await kubectl.run("get", "mi", image, "-o", "jsonpath={\(path)}").stdout
        }
        func libraries(_ image: String) async throws -> [String: String] {
            let text = try await kubectl.run("get", "mi", image, "-o", #"jsonpath={range .status.pipLibraries[*]}{.name}={.version}{"\n"}{end}"#).stdout
            return Dictionary(text.split(separator: "\n").map { line in
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                return (parts[0].lowercased(), parts.count > 1 ? parts[1] : "")
            }, uniquingKeysWith: { a, _ in a })
        }
        let tools = try await libraries("tools"), kid = try await libraries("kid")
        #expect(tools["six"] == "1.16.0" && tools["pip"] != nil && tools["packaging"] == nil, "\(tools)")
        #expect(kid["six"] == "1.16.0" && kid["packaging"] != nil, "\(kid)")
        // The images are in mir dev's registry with the digests the status shows; `mir images` (same registry) sees them.
        for image in ["tools", "kid"] {
            let tag = try await status(image, ".status.imageTag"), digest = try await status(image, ".status.imageDigest")
            let head = try await Self.registryDigest(ociBase, "rb3/\(image)", tag: tag)
            #expect(head != nil && head == digest, "\(image): \(head ?? "none") vs \(digest)")
        }
        let listed = try await w.mir(["images", "list", "--config", w.path("mir.yaml"), "--registry", registryValue])
        #expect(listed.status == 0, "\(listed.output)")
        #expect(Set(listed.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.map(String.init) })
            .isSuperset(of: ["tools", "kid"]), "\(listed.output)")

        // kubectl logs job/<build>: the build's output (kaniko's container, pip's lines among it); -c report works too.
        let toolsJob = try await status("tools", ".status.build.jobName")
        let jobLogs = try await kubectl.run("logs", "-n", "mir-builds", "job/\(toolsJob)")
        #expect(jobLogs.status == 0, "\(jobLogs.output)")
        #expect(jobLogs.stdout.contains("Successfully installed six-1.16.0"), "\(jobLogs.output)")
        #expect(!jobLogs.stdout.contains("SIMULATION"))
        let pod = try await kubectl.run("get", "pods", "-n", "mir-builds", "-l", "batch.kubernetes.io/job-name=\(toolsJob)", "-o", "jsonpath={.items[0].metadata.name}").stdout
        let kaniko = try await kubectl.run("logs", "-n", "mir-builds", pod, "-c", "kaniko")
        #expect(kaniko.status == 0 && kaniko.stdout == jobLogs.stdout, "\(kaniko.output)")
        let report = try await kubectl.run("logs", "-n", "mir-builds", pod, "-c", "report")
        #expect(report.status == 0, "\(report.output)")

        // A spec change: the parent is rebuilt for real, then the child FROM the new parent.
        let oldKidTag = try await status("kid", ".status.imageTag")
        try w.spec("tools", base: "imageType: standard", pip: ["six==1.16.0", "idna"])
        #expect(try await kubectl.run("apply", "-f", w.path("specs/tools.yaml")).status == 0)
        var rebuilt = false
        for _ in 0..<600 {
            let newKid = try await status("kid", ".status.imageTag")
            let ready = try await status("kid", #".status.conditions[?(@.type=="Ready")].status"#)
            let kidLibraries = try await libraries("kid")
            if newKid != oldKidTag && ready == "True" && kidLibraries["idna"] != nil { rebuilt = true; break }
            try await Task.sleep(for: .milliseconds(500))
        }
        guard rebuilt else { throw Failure(description: "the child was not rebuilt\(diagnostics())") }
        #expect(try await libraries("tools")["idna"] != nil)
        // The child's new Job came after the parent's and names the parent's new tag (its FROM, pushed by then).
        let toolsJobNow = try await status("tools", ".status.build.jobName"), kidJobNow = try await status("kid", ".status.build.jobName")
        let toolsStarted = try await kubectl.run("get", "job", "-n", "mir-builds", toolsJobNow, "-o", "jsonpath={.status.startTime}").stdout
        let kidCreated = try await kubectl.run("get", "job", "-n", "mir-builds", kidJobNow, "-o", "jsonpath={.metadata.creationTimestamp}").stdout
        #expect(!toolsStarted.isEmpty && kidCreated >= toolsStarted, "parent started \(toolsStarted), child created \(kidCreated)")
        let parentTag = try await kubectl.run("get", "job", "-n", "mir-builds", kidJobNow, "-o", #"jsonpath={.metadata.annotations.mir\.dev/parent-tag}"#).stdout
        #expect(parentTag == (try await status("tools", ".status.imageTag")))

        // A requirement that cannot be satisfied: the kaniko container fails, the Job fails, the image shows BuildFailed.
        try w.spec("broken", base: "imageType: standard", pip: ["six===0.0.0-nope"])
        #expect(try await kubectl.run("apply", "-f", w.path("specs/broken.yaml")).status == 0)
        var reason = ""
        for _ in 0..<600 {
            reason = try await status("broken", ".status.build.reason")
            if reason == "BuildFailed" { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(reason == "BuildFailed", "\(diagnostics())")
        let brokenJob = try await status("broken", ".status.build.jobName")
        let failed = try await kubectl.run("get", "job", "-n", "mir-builds", brokenJob, "-o", #"jsonpath={.status.conditions[?(@.type=="Failed")].reason}"#)
        #expect(failed.stdout == "BackoffLimitExceeded", "\(failed.output)")
        #expect(try await status("broken", ".status.build.message").contains("kubectl logs -n mir-builds job/\(brokenJob) -c kaniko"))
        let brokenLogs = try await kubectl.run("logs", "-n", "mir-builds", "job/\(brokenJob)", "-c", "kaniko")
        #expect(brokenLogs.stdout.contains("No matching distribution found for six===0.0.0-nope"), "\(brokenLogs.output)")
        #expect(try await Self.registryTags(ociBase, "rb3/broken").isEmpty)

        // mir dev stops its registry with itself.
        run?.send(SIGTERM)
        _ = await run?.finish(timeout: .seconds(30))
        dev.send(SIGTERM)
        let ended = await dev.finish(timeout: .seconds(30))
        #expect(ended.status == 0, "\(ended.stdout)\(ended.stderr)")
        let afterStop = try? await Self.registryTags(ociBase, "rb3/tools")
        #expect(afterStop == nil, "the registry still answers after mir dev stopped")
    }

    static func registryDigest(_ base: String, _ repository: String, tag: String) async throws -> String? {
        var request = HTTPClientRequest(url: "\(base)/v2/\(repository)/manifests/\(tag)")
        request.method = .HEAD
        request.headers.add(name: "Accept", value: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return response.status == .ok ? response.headers.first(name: "Docker-Content-Digest") : nil
    }

    static func registryTags(_ base: String, _ repository: String) async throws -> [String] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(base)/v2/\(repository)/tags/list"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { return [] }
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        return object?["tags"] as? [String] ?? []
    }
}
