import Foundation
import MirBuild
import MirBuildEngine
import MirModel
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ContainerEngineTests {
    let buildah = ContainerEngine(kind: .buildah, executable: "/usr/bin/buildah")

    @Test func buildahCommandLines() {
        #expect(buildah.buildArguments(dockerfile: "/b/Dockerfile", context: "/p/context", tag: "127.0.0.1:5000/mir/a:py3.11-x",
                                       baseImage: "public.ecr.aws/docker/library/python:3.11", authFile: "/p/config.json")
            == ["bud", "--isolation", "chroot", "--tls-verify=true", "--authfile", "/p/config.json",
                "--file", "/b/Dockerfile", "--tag", "127.0.0.1:5000/mir/a:py3.11-x", "/p/context"])
        // A base on a loopback registry is pulled over plain HTTP; nothing else ever is.
        #expect(buildah.buildArguments(dockerfile: "D", context: "C", tag: "T", baseImage: "127.0.0.1:5000/library/python:3.11", authFile: nil)
            .contains("--tls-verify=false"))
        #expect(buildah.pushArguments(tag: "127.0.0.1:5000/mir/a:t", digestFile: "/p/digest", authFile: nil)
            == ["push", "--tls-verify=false", "--digestfile", "/p/digest", "127.0.0.1:5000/mir/a:t", "docker://127.0.0.1:5000/mir/a:t"])
        #expect(buildah.pushArguments(tag: "1.dkr.ecr.us-east-1.amazonaws.com/mir/a:t", digestFile: "/d", authFile: "/p/config.json")
            .contains("--tls-verify=true"))
        #expect(buildah.environment(authFile: "/p/config.json").isEmpty)
    }

    @Test func podmanAndDockerHaveTheSameShape() {
        let podman = ContainerEngine(kind: .podman, executable: "/usr/bin/podman")
        let docker = ContainerEngine(kind: .docker, executable: "/usr/bin/docker")
        #expect(podman.buildArguments(dockerfile: "D", context: "C", tag: "T", baseImage: "b/c:d", authFile: "/p/config.json")
            == ["build", "--tls-verify=true", "--authfile", "/p/config.json", "--file", "D", "--tag", "T", "C"])
        #expect(docker.buildArguments(dockerfile: "D", context: "C", tag: "T", baseImage: "b/c:d", authFile: "/p/config.json")
            == ["build", "--file", "D", "--tag", "T", "C"])
        // docker reads the auth file's folder from DOCKER_CONFIG, never from its command line.
        #expect(docker.environment(authFile: "/p/config.json") == ["DOCKER_CONFIG": "/p"])
        #expect(docker.pushArguments(tag: "T", digestFile: "/d", authFile: "/p/config.json") == ["push", "T"])
        let run = podman.runReportArguments(image: "I", environment: [("HOME", "/tmp")], command: ["python", "-c", "S", "/dev/stdout"])
        #expect(run == ["run", "--rm", "--read-only", "--user", "65534:65534", "--tmpfs", "/tmp:rw,size=64m,mode=1777",
                        "--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                        "--env", "HOME=/tmp", "--entrypoint", "python", "I", "-c", "S", "/dev/stdout"])
    }

    @Test func loopbackRegistriesOnly() {
        for reference in ["127.0.0.1:5000/a/b:c", "localhost:5000/a", "localhost/a", "[::1]:5000/a:b", "127.9.9.9/x"] {
            #expect(ContainerEngine.isLoopbackRegistry(reference), "\(reference)")
        }
        for reference in ["python:3.11", "library/python", "docker.io/library/python", "127.0.0.1.nip.io/a", "10.0.0.1:5000/a",
                          "1.dkr.ecr.us-east-1.amazonaws.com/mir/a:t", "localhost.example.com/a", "127.0.0.1"] {
            #expect(!ContainerEngine.isLoopbackRegistry(reference), "\(reference)")
        }
        #expect(ContainerEngine.registryHost(of: "python:3.11") == "docker.io")
        #expect(ContainerEngine.registryHost(of: "127.0.0.1:5000/mir/a:t") == "127.0.0.1:5000")
    }

    @Test func locatesEnginesInDetectionOrder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mir-engines-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func install(_ name: String) throws {
            let path = folder.appendingPathComponent(name).path
            _ = FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        }
        try install("docker")
        #expect(try ContainerEngine.locate(nil, searchPath: folder.path).kind == .docker)
        try install("podman")
        #expect(try ContainerEngine.locate(nil, searchPath: folder.path).kind == .podman)
        #expect(try ContainerEngine.locate(.docker, searchPath: folder.path).executable == folder.appendingPathComponent("docker").path)
        let error = #expect(throws: EngineUnavailable.self) { try ContainerEngine.locate(.buildah, searchPath: folder.path + "-missing") }
        #expect(error?.description.contains("buildah") == true)
    }
}

@Suite struct BuildOutputAnalysisTests {
    // Lines as buildah 1.28 prints them (captured from real builds on this project's machines).
    let failedRun = [
        #"STEP 1/4: FROM 127.0.0.1:5077/library/python:3.11-slim-bookworm"#,
        #"STEP 2/4: LABEL dev.mir.image="t""#,
        #"STEP 3/4: RUN ["python","-m","pip","install","--no-cache-dir","--disable-pip-version-check","--","six==0.0.0-nope"]"#,
        "ERROR: Could not find a version that satisfies the requirement six==0.0.0-nope (from versions: 1.16.0, 1.17.0)",
        "ERROR: No matching distribution found for six==0.0.0-nope",
        "subprocess exited with status 1",
        #"Error: building at STEP "RUN python -m pip install --no-cache-dir --disable-pip-version-check -- six==0.0.0-nope": exit status 1"#,
    ]
    let failedFrom = [
        "STEP 1/4: FROM 127.0.0.1:5077/library/python:3.99-slim-bookworm",
        "Trying to pull 127.0.0.1:5077/library/python:3.99-slim-bookworm...",
        "Error: creating build container: initializing source docker://127.0.0.1:5077/library/python:3.99-slim-bookworm: reading manifest 3.99-slim-bookworm in 127.0.0.1:5077/library/python: manifest unknown: manifest unknown",
    ]

    func lastStep(_ lines: [String]) -> BuildOutputAnalysis.Step? { lines.compactMap(BuildOutputAnalysis.step(in:)).last }

    @Test func stepLines() {
        let step = BuildOutputAnalysis.step(in: failedRun[2])
        #expect(step?.index == 3 && step?.count == 4 && step?.instruction == "RUN")
        #expect(BuildOutputAnalysis.step(in: "Step 2/5 : RUN apt-get update")?.instruction == "RUN")
        #expect(BuildOutputAnalysis.step(in: "STEP 1/4: FROM x")?.instruction == "FROM")
        for line in ["STEPS 1/2: x", "STEP x/2: RUN", "STEP 1/: RUN", "Successfully tagged x", "STEP 1/2 RUN"] {
            #expect(BuildOutputAnalysis.step(in: line) == nil, "\(line)")
        }
    }

    @Test func aFailingRunIsBuildFailedWithItsStepAndExitCode() {
        let failure = BuildOutputAnalysis.buildFailure(lastStep: lastStep(failedRun), tail: failedRun, exitCode: 1, logPath: ".mir/builds/a/t/build.log")
        #expect(failure.reason == .buildFailed)
        #expect(failure.step?.hasPrefix("STEP 3/4: RUN") == true)
        #expect(failure.exitCode == 1)
        #expect(failure.cause?.contains("pip could not find") == true)
        let message = BuildOutputAnalysis.message(failure)
        #expect(message.hasPrefix("BuildFailed at STEP 3/4: RUN"))
        #expect(message.hasSuffix("; full log: .mir/builds/a/t/build.log"))
    }

    @Test func aFailingFromIsBaseImagePullFailed() {
        let failure = BuildOutputAnalysis.buildFailure(lastStep: lastStep(failedFrom), tail: failedFrom, exitCode: 125, logPath: "L")
        #expect(failure.reason == .baseImagePullFailed)
        #expect(failure.step == failedFrom[0])
        #expect(failure.cause == "the base image does not exist in its registry")
        // No step at all (the engine stopped before FROM) is a pull failure too.
        #expect(BuildOutputAnalysis.buildFailure(lastStep: nil, tail: ["Error: connection refused"], exitCode: 1, logPath: "L").reason == .baseImagePullFailed)
    }

    @Test func pep668IsNamed() {
        let lines = ["STEP 3/4: RUN [\"python\",\"-m\",\"pip\",\"install\",\"six\"]", "error: externally-managed-environment", "",
                     "× This environment is externally managed", "Error: building at STEP \"RUN python -m pip install six\": exit status 1"]
        let failure = BuildOutputAnalysis.buildFailure(lastStep: lastStep(lines), tail: lines, exitCode: 1, logPath: "L")
        #expect(failure.reason == .buildFailed)
        #expect(failure.cause?.contains("PEP 668") == true)
        #expect(BuildOutputAnalysis.exitStatus(in: ["The command '/bin/sh -c x' returned a non-zero code: 100"]) == 100)
    }

    @Test func pushDenial() {
        #expect(BuildOutputAnalysis.isPushDenied(["Error: pushing image: unauthorized: authentication required"]))
        #expect(BuildOutputAnalysis.isPushDenied(["denied: requested access to the resource is denied"]))
        #expect(!BuildOutputAnalysis.isPushDenied(["Error: pushing: dial tcp 127.0.0.1:5000: connect: connection refused"]))
    }
}

@Suite struct PrivateBuildFolderTests {
    @Test func authFileIsPrivateAndGoesAway() throws {
        let folder = try PrivateBuildFolder()
        var info = stat()
        #expect(stat(folder.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        let credentials = RegistryCredentials(username: "AWS", password: "s3cr3t-password")
        let file = try folder.writeAuthFile(["127.0.0.1:5000": credentials])
        #expect(stat(file, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: [String: [String: String]]]
        let auth = try #require(json?["auths"]?["127.0.0.1:5000"]?["auth"])
        #expect(Data(base64Encoded: auth).map { String(decoding: $0, as: UTF8.self) } == "AWS:s3cr3t-password")
        // Written once: a second write never reuses (or follows) an existing file.
        #expect(throws: CommandError.self) { try folder.writeAuthFile(["x": credentials]) }
        #expect(!"\(credentials)".contains("s3cr3t"))
        folder.remove()
        #expect(!FileManager.default.fileExists(atPath: folder.path))
    }

    @Test func tokenSourceCachesUntilNearExpiry() async throws {
        let source = TokenCredentialSource(accepting: TokenCredentialSource.isECRHost) {
            (RegistryCredentials(username: "AWS", password: "p"), Date().addingTimeInterval(3600))
        }
        #expect(try await source.credentials(forHost: "127.0.0.1:5000") == nil)
        #expect(try await source.credentials(forHost: "123456789012.dkr.ecr.eu-west-1.amazonaws.com")?.username == "AWS")
        _ = try await source.credentials(forHost: "123456789012.dkr.ecr.eu-west-1.amazonaws.com")
        #expect(await source.fetches == 1)
        let expiring = TokenCredentialSource(hosts: ["h"]) { (RegistryCredentials(username: "AWS", password: "p"), Date().addingTimeInterval(60)) }
        _ = try await expiring.credentials(forHost: "h")
        _ = try await expiring.credentials(forHost: "h")
        #expect(await expiring.fetches == 2)
    }
}

@Suite struct CommandRunnerTests {
    @Test func streamsLinesKeepsABoundedTailAndLogsEverything() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mir-runner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let log = BuildLog(path: folder.appendingPathComponent("build.log").path)
        let seen = Counter()
        let result = try await CommandRunner.run("/bin/sh", ["-c", "i=0; while [ $i -lt 500 ]; do echo line $i; i=$((i+1)); done; echo oops >&2; exit 3"],
                                                 log: log) { _ in seen.add() }
        #expect(result.exitCode == 3 && !result.succeeded)
        #expect(seen.value == 501)
        #expect(result.tail.count == CommandRunner.tailLines)
        #expect(result.tail.last == "oops")
        let text = try String(contentsOf: folder.appendingPathComponent("build.log"), encoding: .utf8)
        #expect(text.hasPrefix("$ /bin/sh -c "))
        #expect(text.contains("line 0\n") && text.contains("line 499\n") && text.hasSuffix("(exit code 3)\n"))
    }

    @Test func cutsHugeLines() async throws {
        let result = try await CommandRunner.run("/bin/sh", ["-c", "head -c 100000 /dev/zero | tr '\\0' x; echo; echo end"], keepOutput: true)
        #expect(result.succeeded)
        #expect(result.tail.first?.count == CommandRunner.maxLineBytes + 2)
        #expect(result.tail.last == "end")
    }

    @Test func cancellationKillsTheChildAndItsChildren() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mir-cancel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let pidFile = folder.appendingPathComponent("pid").path
        let task = Task {
            try await CommandRunner.run("/bin/sh", ["-c", "sleep 300 & echo $! > \"$0\"; wait", pidFile])
        }
        var grandchild: Int32?
        for _ in 0..<200 where grandchild == nil {
            try await Task.sleep(for: .milliseconds(50))
            grandchild = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let pid = try #require(grandchild)
        #expect(kill(pid, 0) == 0)
        task.cancel()
        _ = await task.result
        var gone = false
        for _ in 0..<200 where !gone {
            // Gone, or a zombie waiting for whoever adopted it.
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            gone = kill(pid, 0) != 0 || stat.split(separator: ")").last?.split(separator: " ").first == "Z"
            if !gone { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(gone, "the sleep started by the command outlived the cancelled build")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

/// Issue 8: the engine builder checks the repository right before its push; a refusal pushes nothing. The engine is a
/// script that logs each command it is given and succeeds (no image is built: what is tested is the order of steps).
@Suite struct EnginePushTargetTests {
    struct Refusing: PushTargetCheck {
        func verify(repositoryName: String) async throws {
            throw RepositoryNotOwned(repository: repositoryName, why: "it belongs to mir installation \"team-b\"")
        }
    }

    @Test func aRefusedPushTargetIsNeverPushedTo() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("engine-push-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = directory + "/engine"
        try "#!/bin/sh\necho \"$1\" >> \(directory)/calls\nexit 0\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let builder = EngineBuilder(engine: ContainerEngine(kind: .buildah, executable: script), buildsDirectory: directory + "/builds",
                                    records: FileBuildRecordStore(directory: directory + "/records"))
        let image = try DesiredStateResolver.resolve([ManagedImage(name: "web", spec: ManagedImageSpec(
            base: .imageType("standard"), pythonVersion: "3.11", pipRequirements: [PipRequirement(name: "six")]))], config: MirConfig())[0]
        let request = BuildRequest(image: image, reason: .new, repositoryURI: "127.0.0.1:5000/\(image.repositoryName)",
                                   baseImageReference: "127.0.0.1:5000/library/python:3.11", platformVersion: "0.1.0", pushTarget: Refusing())
        let record = try await builder.build(request)
        let calls = (try? String(contentsOfFile: directory + "/calls", encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        #expect(calls.first == "build" || calls.first == "bud", "the image was built: \(calls)")
        #expect(!calls.contains("push"), "pushed into a refused repository: \(calls)")
        #expect(record.state == .failed && record.failure?.reason == .repositoryNotOwned, "\(record)")
        #expect(record.message?.contains("team-b") == true, "\(record.message ?? "")")
    }
}
