import Foundation
import MirTestSupport
import Testing
import Yams
#if canImport(Glibc)
import Glibc
#endif

/// The controller image: `scripts/image` builds it with buildah from the top-level Containerfile (its runtime stage,
/// on a Debian base made with debootstrap) around the `mir` binary this test run built — linked with
/// `--static-swift-stdlib` as the Containerfile's build stage links the release binary (scripts/test relinks it so;
/// a release build takes ~15 minutes here, which the test budget cannot afford). Then the image runs: `mir version`,
/// and `mir run` inside it (buildah run, chroot isolation, the host's network) reconciles against `mir dev` until an
/// image is Ready — the binary, its libraries and its CA bundle work in the image we ship.
@Suite(.serialized) struct ImageTests {
    struct Built {
        var name: String
        var output: String
    }

    static func buildah(_ arguments: [String]) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run(URL(fileURLWithPath: try #require(ProcessRunner.which("buildah"), "buildah is not installed; run scripts/setup")), arguments)
    }

    /// The test binary must carry its Swift runtime, as the shipped one does.
    static func staticBinary() async throws -> URL {
        let binary = Install.mirBinary
        let ldd = try await ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/ldd"), [binary.path])
        guard !ldd.stdout.contains("libswiftCore") else {
            throw Install.Failure("\(binary.path) links the Swift runtime dynamically: run `swift build --product mir --static-swift-stdlib` after `swift build --build-tests` (scripts/test does)")
        }
        return binary
    }

    @Test(.timeLimit(.minutes(15)))
    func imageBuildsAndRunsMir() async throws {
        guard getuid() == 0 else { Issue.record("building images with buildah --isolation chroot needs root (CI runs as root)"); return }
        let binary = try await Self.staticBinary()
        let name: String = "localhost/mir-test:" + String(UUID().uuidString.prefix(8)).lowercased()
        let built = try await ProcessRunner.run(Install.packageRoot.appendingPathComponent("scripts/image"), ["--binary", binary.path, "--name", name])
        #expect(built.status == 0, "scripts/image: \(built.output)")
        guard built.status == 0 else { return }
        defer { Install.runAndWait("buildah", ["rmi", name]) }
        #expect(built.stdout.contains(name) && built.stdout.range(of: #"size: .* uncompressed, \d+ MB compressed"#, options: .regularExpression) != nil, "\(built.stdout)")

        // The image's configuration: non-root numeric user, the entrypoint, OCI labels matching the binary.
        let hostVersion = try await ProcessRunner.run(binary, ["version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let inspected = try await Self.buildah(["inspect", "--type", "image", name])
        let config = try #require(((try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any])?["OCIv1"] as? [String: Any])?["config"] as? [String: Any])
        #expect(config["User"] as? String == "65532:65532")
        #expect(config["Entrypoint"] as? [String] == ["/usr/local/bin/mir"])
        let labels = config["Labels"] as? [String: String] ?? [:]
        let chart = try #require(try Yams.load(yaml: String(contentsOf: Install.chart.appendingPathComponent("Chart.yaml"), encoding: .utf8)) as? [String: Any])
        #expect(labels["org.opencontainers.image.version"] == chart["appVersion"] as? String)
        #expect(labels["org.opencontainers.image.source"] == chart["home"] as? String)
        #expect(labels["org.opencontainers.image.revision"].map { hostVersion.contains("revision \($0),") } == true, "\(labels) vs \(hostVersion)")
        #expect(labels["org.opencontainers.image.licenses"] != nil)

        let container = try await Self.buildah(["from", "--pull-never", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!container.isEmpty)
        defer { Install.runAndWait("buildah", ["rm", container]) }
        let version = try await Self.buildah(["run", "--isolation", "chroot", container, "--", "/usr/local/bin/mir", "version"])
        #expect(version.status == 0 && version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == hostVersion, "\(version.output)")
        #expect(version.stdout.hasPrefix("mir \(chart["appVersion"] as? String ?? "?") "))
        let identity = try await Self.buildah(["run", "--isolation", "chroot", container, "--", "sh", "-c",
                                               "id -u; test -s /etc/ssl/certs/ca-certificates.crt && echo ca-bundle"])
        #expect(identity.stdout == "65532\nca-bundle\n", "\(identity.output)")

        try await runAgainstDev(container: container)
    }

    /// `mir run` inside the image against a `mir dev` on the host's loopback, until a ManagedImage is Ready.
    func runAgainstDev(container: String) async throws {
        guard Kubectl.executable != nil else { Issue.record("kubectl is not installed; run scripts/setup"); return }
        let directory = try Install.temporaryDirectory("image-run")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The image's user (65532) shares the embedded registry with mir dev (root): everything stays writable.
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
        let rendered = try await Install.render()
        let configText = try #require((rendered.find("ConfigMap", "mir-config")?["data"] as? [String: String])?["mir.yaml"])
        try configText.write(to: directory.appendingPathComponent("mir.yaml"), atomically: true, encoding: .utf8)
        let registry = directory.appendingPathComponent("registry").path
        let environment = ProcessInfo.processInfo.environment.merging(["MIR_EXIT_WITH_PARENT": "1"]) { $1 }
        let dev = try BackgroundProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "umask 000 && exec \"$0\" \"$@\"", Install.mirBinary.path,
            "dev", "--port", "0", "--state", directory.appendingPathComponent("dev").path,
            "--kubeconfig", directory.appendingPathComponent("kubeconfig").path, "--registry", "local:" + registry, "--jobs", "simulated",
            "--crd", Install.packageRoot.appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml").path,
        ], in: directory, environment: environment, outputDirectory: directory)
        defer { dev.send(SIGKILL) }
        guard await dev.waitForOutput(containing: "serving on", timeout: .seconds(60)) else {
            Issue.record("mir dev did not start: \(dev.stdout)\(dev.stderr)"); return
        }
        let kubeconfig = directory.appendingPathComponent("kubeconfig-for-image")
        try FileManager.default.copyItem(at: directory.appendingPathComponent("kubeconfig"), to: kubeconfig)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: kubeconfig.path)
        let kubectl = Kubectl(kubeconfig: directory.appendingPathComponent("kubeconfig"), home: directory)
        // A fresh mir dev has the build namespace, as a fresh cluster with the Manifests applied does.
        let namespace = try await kubectl.run("get", "namespace", "mir-builds")
        #expect(namespace.status == 0, "\(namespace.output)")

        let buildah = try #require(ProcessRunner.which("buildah"))
        let run = try BackgroundProcess(URL(fileURLWithPath: buildah), [
            "run", "--isolation", "chroot", "--env", "MIR_EXIT_WITH_PARENT=1", "-v", "\(directory.path):\(directory.path)", container, "--",
            "/usr/local/bin/mir", "run", "--kubeconfig", kubeconfig.path, "--config", directory.appendingPathComponent("mir.yaml").path,
            "--registry", "local:" + registry, "--state", directory.appendingPathComponent("state").path, "--no-leader-elect",
            "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
        ], in: directory, environment: environment, outputDirectory: directory)
        defer { run.send(SIGTERM) }
        let applied = try await kubectl.run("apply", "-f", Install.packageRoot.appendingPathComponent("Examples/specs/ml-base.yaml").path)
        #expect(applied.status == 0, "\(applied.output)")
        let waited = try await kubectl.run("wait", "--for=condition=Ready", "mi/ml-base", "--timeout=180s")
        #expect(waited.status == 0, "\(waited.output)\n--- mir run in the image:\n\(run.stdout)\(String(run.stderr.suffix(3000)))")
        let phase = try await kubectl.run("get", "mi", "ml-base", "-o", "jsonpath={.status.phase} {.status.imageTag}")
        #expect(phase.stdout.hasPrefix("Ready py3.11-"), "\(phase.output)")
        // Nothing else reconciles here: the only controller is the one in the image.
        #expect(run.isRunning, "mir run in the image stopped early: \(run.stderr.suffix(2000))")
        // SIGTERM to mir itself (buildah run would SIGKILL it): it stops gracefully and `buildah run` exits 0.
        let mirProcesses = Self.descendants(of: run.process.processIdentifier).filter { Self.command(of: $0) == "mir" }
        #expect(mirProcesses.count == 1, "\(mirProcesses)")
        for pid in mirProcesses { kill(pid, SIGTERM) }
        let exit = await run.finish(timeout: .seconds(30))
        #expect(exit.status == 0 && !exit.bySignal, "mir run in the image did not stop gracefully: \(exit.stderr.suffix(2000))")
    }

    /// The processes below `pid` (from /proc).
    static func descendants(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var parents: [pid_t: pid_t] = [:]
        for entry in entries {
            guard let child = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { parents[child] = parent }
        }
        var result: [pid_t] = [], frontier: Set<pid_t> = [pid]
        while !frontier.isEmpty {
            let next = parents.filter { frontier.contains($0.value) }.map(\.key)
            result += next
            frontier = Set(next)
        }
        return result
    }

    static func command(of pid: pid_t) -> String {
        ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
