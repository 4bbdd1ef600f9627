import Foundation
import MirTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `mir dev --jobs real|simulated`: what it chooses, says and refuses.
@Suite struct DevJobsFlagTests {
    static let crd = MirRunner.packageRoot.appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml").path

    func devArguments(_ dir: TempDir, _ extra: [String]) -> [String] {
        ["dev", "--port", "0", "--state", dir.path("dev"), "--kubeconfig", dir.path("kubeconfig"), "--crd", Self.crd] + extra
    }

    @Test func realJobsWithoutARegistryAndSimulatedJobsWithOneAreRefused() async throws {
        let dir = try TempDir()
        let noRegistry = try await MirRunner.run(devArguments(dir, ["--jobs", "real", "--no-oci-registry"]), in: dir.url)
        #expect(noRegistry.status != 0)
        #expect(noRegistry.stderr.contains("--jobs real pushes to an OCI registry: install docker-registry"), "\(noRegistry.output)")
        let simulatedOCI = try await MirRunner.run(devArguments(dir, ["--jobs", "simulated", "--registry", "local,oci=http://127.0.0.1:5999"]), in: dir.url)
        #expect(simulatedOCI.status != 0)
        #expect(simulatedOCI.stderr.contains("simulated build jobs push nothing to an OCI registry"), "\(simulatedOCI.output)")
        let bad = try await MirRunner.run(devArguments(dir, ["--jobs", "maybe"]), in: dir.url)
        #expect(bad.status != 0 && bad.stderr.contains("maybe"), "\(bad.output)")
    }

    @Test func withoutABuildEngineTheDefaultIsASimulationAndSaysSo() async throws {
        let dir = try TempDir()
        // No engine on PATH (mir also looks in the sbin folders, where none is installed).
        let environment = ProcessInfo.processInfo.environment.merging(["PATH": dir.path("empty-bin"), "MIR_EXIT_WITH_PARENT": "1"]) { $1 }
        let dev = try BackgroundProcess(MirRunner.binary, devArguments(dir, ["--registry", "local:" + dir.path("registry")]),
                                        in: dir.url, environment: environment, outputDirectory: dir.url)
        defer { dev.send(SIGKILL) }
        guard await dev.waitForOutput(containing: "run the controller against it", timeout: .seconds(60)) else {
            Issue.record("mir dev did not start: \(dev.stdout)\(dev.stderr)"); return
        }
        #expect(dev.stdout.contains("build jobs: SIMULATION, no image is built — no build engine found on PATH"), "\(dev.stdout)")
        #expect(dev.stderr.contains("job runner: SIMULATION"), "\(dev.stderr)")
        dev.send(SIGTERM)
        #expect(await dev.finish(timeout: .seconds(30)).status == 0)
    }
}
