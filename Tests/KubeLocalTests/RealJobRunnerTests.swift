import Foundation
@testable import KubeLocal
import MirBuild
import MirModel
import Testing

/// A scripted `JobBuildEngine` (the port the real job runner drives): records what it was asked, writes a log,
/// answers with the configured exit codes, and can hold a container until released (to observe states in between).
actor ScriptedEngineLog {
    var builds: [KanikoBuild] = []
    var runs: [(image: String, command: [String], environment: [(String, String)])] = []
    var gates: [String: CheckedContinuation<Void, Never>] = [:]
    var waiting: Set<String> = []
    var holds: Set<String> = []

    func add(_ b: KanikoBuild) { builds.append(b) }
    func add(image: String, command: [String], environment: [(String, String)]) { runs.append((image, command, environment)) }
    func hold(_ step: String) { holds.insert(step) }
    func pass(_ step: String) async {
        guard holds.contains(step) else { return }
        await withCheckedContinuation { c in
            gates[step] = c
            waiting.insert(step)
        }
    }
    func release(_ step: String) {
        holds.remove(step)
        waiting.remove(step)
        gates.removeValue(forKey: step)?.resume()
    }
    func isWaiting(_ step: String) -> Bool { waiting.contains(step) }
}

struct ScriptedEngine: JobBuildEngine {
    let name = "scripted"
    var buildExitCode = 0
    var runExitCode = 0
    var buildOutput = "STEP 1/2: FROM base\nSTEP 2/2: RUN pip install six\nSuccessfully installed six-1.16.0\n"
    let log = ScriptedEngineLog()
    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    func build(_ build: KanikoBuild, logPath: String) async throws -> ContainerRunResult {
        await log.add(build)
        await log.pass("build")
        try Data((buildOutput + (buildExitCode == 0 ? "" : "error building at STEP 2/2: exit status \(buildExitCode)\n")).utf8)
            .write(to: URL(fileURLWithPath: logPath))
        return ContainerRunResult(exitCode: buildExitCode, terminationMessage: buildExitCode == 0 ? Self.digest : "")
    }

    func run(image: String, command: [String], environment: [(String, String)], logPath: String) async throws -> ContainerRunResult {
        await log.add(image: image, command: command, environment: environment)
        await log.pass("run")
        try Data("report for \(image)\n".utf8).write(to: URL(fileURLWithPath: logPath))
        return ContainerRunResult(exitCode: runExitCode, terminationMessage: runExitCode == 0
            ? BuildReport.encode(libraries: [PipLibrary(name: "six", version: "1.16.0")], limit: BuildReport.maxMessageBytes) : "")
    }
}

@Suite struct RealJobRunnerTests {
    /// mir's own ConfigMap and Job (as the controller renders them) for an image with one pip requirement.
    static func buildObjects(name: String = "web", backoffLimit: Int = 0) throws -> (configMap: JSONValue, job: JSONValue, destination: String) {
        let image = ManagedImage(name: name, spec: ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.11",
                                                                    pipRequirements: [PipRequirement(name: "six", versionSpecifier: "==1.16.0")]))
        let config = MirConfig(baseImages: ["standard": BaseImageCatalogEntry(packageType: .apt, pythonVersions: ["3.11": "127.0.0.1:5000/library/python:3.11"])])
        let resolved = try DesiredStateResolver.resolve([image], config: config)[0]
        let request = BuildRequest(image: resolved, reason: .new, repositoryURI: "127.0.0.1:5001/\(name)",
                                   baseImageReference: "127.0.0.1:5000/library/python:3.11", platformVersion: config.platformVersion)
        let settings = BuilderSettings(buildNamespace: "mir-builds", backoffLimit: backoffLimit)
        let objects = try BuildJobManifest.objects(for: request, settings: settings)
        return (objects[0], objects[1], "127.0.0.1:5001/\(name):\(resolved.tag)")
    }

    static func submit(_ c: TestCluster, _ objects: (configMap: JSONValue, job: JSONValue, destination: String)) async throws -> String {
        _ = try await c.call(.POST, "/api/v1/namespaces", json: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "mir-builds"]])
        let cm = try await c.call(.POST, "/api/v1/namespaces/mir-builds/configmaps", json: objects.configMap.canonicalText)
        #expect(cm.status == 201, "\(cm.text)")
        let job = try await c.call(.POST, "/apis/batch/v1/namespaces/mir-builds/jobs", json: objects.job.canonicalText)
        #expect(job.status == 201, "\(job.text)")
        return objects.job["metadata"]?["name"]?.stringValue ?? ""
    }

    static func withRealCluster(_ engine: ScriptedEngine, _ body: (TestCluster) async throws -> Void) async throws {
        let cluster = try await TestCluster(jobEngine: engine)
        do { try await body(cluster) } catch { await cluster.stop(); throw error }
        await cluster.stop()
    }

    static func pods(_ c: TestCluster, job: String) async throws -> [[String: Any]] {
        let listed = try await c.call(.GET, "/api/v1/namespaces/mir-builds/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3D\(job)").json
        return listed["items"] as? [[String: Any]] ?? []
    }

    static func until<T>(_ what: String, _ probe: () async throws -> T?) async throws -> T {
        for _ in 0..<400 {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw Timeout(what: what)
    }

    struct Timeout: Error { var what: String }

    static func condition(_ c: TestCluster, _ job: String, _ type: String) async throws -> [String: Any] {
        try await until("condition \(type) on \(job)") {
            let j = try await c.call(.GET, "/apis/batch/v1/namespaces/mir-builds/jobs/\(job)").json
            let conditions = j.at("status", "conditions") as? [[String: Any]] ?? []
            return conditions.contains { $0["type"] as? String == type } ? j : nil
        }
    }

    @Test func aRealJobGoesThroughTheKubeletsStatesAndServesItsLogs() async throws {
        let engine = ScriptedEngine()
        await engine.log.hold("build")
        await engine.log.hold("run")
        try await Self.withRealCluster(engine) { c in
            let objects = try Self.buildObjects()
            let name = try await Self.submit(c, objects)

            // kaniko running, the report waiting for it: phase Pending (Init:0/1); no simulation label.
            _ = try await Self.until("build started") { await engine.log.isWaiting("build") ? true : nil }
            var pod = try #require(try await Self.pods(c, job: name).first)
            #expect(pod.at("status", "phase") as? String == "Pending")
            #expect(pod.at("status", "initContainerStatuses", "0", "state", "running") != nil)
            #expect(pod.at("status", "containerStatuses", "0", "state", "waiting", "reason") as? String == "PodInitializing")
            #expect(pod.at("metadata", "labels", "mir.dev/simulated") == nil)
            let podName = try #require(pod.at("metadata", "name") as? String)
            let early = try await c.call(.GET, "/api/v1/namespaces/mir-builds/pods/\(podName)/log?container=report")
            #expect(early.status == 400)
            #expect(early.json["message"] as? String == "container \"report\" in pod \"\(podName)\" is waiting to start: PodInitializing")

            // kaniko done (its digest is its termination message), the report running: phase Running.
            await engine.log.release("build")
            _ = try await Self.until("report started") { await engine.log.isWaiting("run") ? true : nil }
            pod = try #require(try await Self.pods(c, job: name).first)
            #expect(pod.at("status", "phase") as? String == "Running")
            #expect(pod.at("status", "initContainerStatuses", "0", "state", "terminated", "exitCode") as? Int == 0)
            #expect(pod.at("status", "initContainerStatuses", "0", "state", "terminated", "message") as? String == ScriptedEngine.digest)
            #expect(pod.at("status", "containerStatuses", "0", "state", "running") != nil)

            await engine.log.release("run")
            let job = try await Self.condition(c, name, "Complete")
            #expect((job.at("status", "conditions") as? [[String: Any]])?.compactMap { $0["type"] as? String } == ["SuccessCriteriaMet", "Complete"])
            pod = try #require(try await Self.pods(c, job: name).first)
            #expect(pod.at("status", "phase") as? String == "Succeeded")
            let report = try BuildReport.decode(terminationMessage: pod.at("status", "containerStatuses", "0", "state", "terminated", "message") as? String ?? "")
            #expect(report.libraries == [PipLibrary(name: "six", version: "1.16.0")])

            // The engine got the ConfigMap's Dockerfile, the destination, and the report container's command and env.
            let builds = await engine.log.builds
            #expect(builds.count == 1)
            #expect(builds.first?.destination == objects.destination)
            #expect(builds.first?.dockerfile == "Dockerfile")
            #expect(builds.first?.context["Dockerfile"].map { String(decoding: $0, as: UTF8.self) } == objects.configMap["data"]?["Dockerfile"]?.stringValue)
            let runs = await engine.log.runs
            #expect(runs.map(\.image) == [objects.destination])
            #expect(runs.first?.command == ["python", "-c", BuildReport.script])
            #expect(runs.first.map { $0.environment.map { "\($0.0)=\($0.1)" } } == BuildJobManifest.reportEnvironment.map { "\($0.0)=\($0.1)" })

            // Logs: by container; without one, the pod's only app container (the report).
            let kaniko = try await c.call(.GET, "/api/v1/namespaces/mir-builds/pods/\(podName)/log?container=kaniko")
            #expect(kaniko.status == 200 && kaniko.text == engine.buildOutput)
            #expect(try await c.call(.GET, "/api/v1/namespaces/mir-builds/pods/\(podName)/log").text == "report for \(objects.destination)\n")
            #expect(try await c.call(.GET, "/api/v1/namespaces/mir-builds/pods/\(podName)/log?container=kaniko&tailLines=1").text
                == "Successfully installed six-1.16.0\n")
            let unknown = try await c.call(.GET, "/api/v1/namespaces/mir-builds/pods/\(podName)/log?container=nope")
            #expect(unknown.status == 400 && unknown.json["message"] as? String == "container nope is not valid for pod \(podName)")
            #expect(try await c.call(.GET, "/api/v1/namespaces/mir-builds/pods/nope-abcde/log").status == 404)

            // Deleting the Job (background) removes its pods and their logs.
            _ = try await c.call(.DELETE, "/apis/batch/v1/namespaces/mir-builds/jobs/\(name)?propagationPolicy=Background")
            _ = try await Self.until("logs removed") {
                FileManager.default.fileExists(atPath: c.running.podLogDirectory.appendingPathComponent("mir-builds/\(podName)").path) ? nil : true
            }
        }
    }

    @Test func aFailingBuildCountsAgainstTheBackoffLimitWithTheLogAsItsMessage() async throws {
        try await Self.withRealCluster(ScriptedEngine(buildExitCode: 1)) { c in
            let name = try await Self.submit(c, try Self.buildObjects(backoffLimit: 1))
            let job = try await Self.condition(c, name, "Failed")
            let conditions = job.at("status", "conditions") as? [[String: Any]] ?? []
            #expect(conditions.compactMap { $0["type"] as? String } == ["FailureTarget", "Failed"])
            #expect(conditions.last?["reason"] as? String == "BackoffLimitExceeded")
            #expect(job.at("status", "failed") as? Int == 2)
            let pods = try await Self.pods(c, job: name)
            #expect(pods.count == 2)
            for pod in pods {
                #expect(pod.at("status", "phase") as? String == "Failed")
                let kaniko = pod.at("status", "initContainerStatuses", "0", "state", "terminated") as? [String: Any] ?? [:]
                #expect(kaniko["exitCode"] as? Int == 1 && kaniko["reason"] as? String == "Error")
                // FallbackToLogsOnError: the log's tail is the message.
                #expect((kaniko["message"] as? String)?.hasSuffix("error building at STEP 2/2: exit status 1") == true)
                #expect(pod.at("status", "containerStatuses", "0", "state", "waiting", "reason") as? String == "PodInitializing")
            }
        }
    }

    @Test func podFailurePolicyFailsTheJobAtOnce() async throws {
        // kaniko exit code 100 (apt-get): the policy's FailJob rule at index 2; no retry although backoffLimit is 3.
        try await Self.withRealCluster(ScriptedEngine(buildExitCode: 100)) { c in
            let name = try await Self.submit(c, try Self.buildObjects(backoffLimit: 3))
            let job = try await Self.condition(c, name, "Failed")
            let failed = (job.at("status", "conditions") as? [[String: Any]])?.last ?? [:]
            #expect(failed["reason"] as? String == "PodFailurePolicy")
            let podName = try #require(try await Self.pods(c, job: name).first?.at("metadata", "name") as? String)
            #expect(failed["message"] as? String == "Container kaniko for pod mir-builds/\(podName) failed with exit code 100 matching FailJob rule at index 2")
            #expect(try await Self.pods(c, job: name).count == 1)
        }
        // The report fails: rule 1 (report exit code NotIn [0]).
        try await Self.withRealCluster(ScriptedEngine(runExitCode: 1)) { c in
            let name = try await Self.submit(c, try Self.buildObjects(name: "rep", backoffLimit: 3))
            let job = try await Self.condition(c, name, "Failed")
            let failed = (job.at("status", "conditions") as? [[String: Any]])?.last ?? [:]
            #expect(failed["reason"] as? String == "PodFailurePolicy")
            #expect((failed["message"] as? String)?.hasPrefix("Container report for pod mir-builds/") == true)
            #expect((failed["message"] as? String)?.hasSuffix("failed with exit code 1 matching FailJob rule at index 1") == true)
        }
    }

    @Test func jobsGetTheGeneratedSelectorAndItsPodsOnlyMatchIt() async throws {
        try await withCluster(builder: FakeBuilder(), crd: false) { c in
            for name in ["one", "two"] {
                let body: [String: Any] = ["apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": name],
                                           "spec": ["template": ["spec": ["restartPolicy": "Never", "containers": [["name": "build", "image": "b:1"]]]]]]
                #expect(try await c.call(.POST, "/apis/batch/v1/namespaces/default/jobs", json: body).status == 201)
            }
            let one = try await c.call(.GET, "/apis/batch/v1/namespaces/default/jobs/one").json
            let uid = try #require(one.at("metadata", "uid") as? String)
            #expect(one.at("spec", "selector", "matchLabels") as? [String: String] == ["batch.kubernetes.io/controller-uid": uid])
            let labels = one.at("spec", "template", "metadata", "labels") as? [String: String] ?? [:]
            #expect(labels == ["batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                               "batch.kubernetes.io/job-name": "one", "job-name": "one"])
            // What `kubectl logs job/one` lists: exactly one's pod, and its log says SIMULATION.
            let pods = try await Self.until("one's pod") { () -> [[String: Any]]? in
                let listed = try await c.call(.GET, "/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fcontroller-uid%3D\(uid)").json
                let items = listed["items"] as? [[String: Any]] ?? []
                return items.isEmpty ? nil : items
            }
            #expect(pods.count == 1 && pods.first?.at("metadata", "labels", "job-name") as? String == "one")
            let podName = try #require(pods.first?.at("metadata", "name") as? String)
            _ = try await Self.until("simulated log") { () -> Bool? in
                let log = try await c.call(.GET, "/api/v1/namespaces/default/pods/\(podName)/log?container=build")
                return log.status == 200 && log.text.hasPrefix("SIMULATION: ") ? true : nil
            }
            // A manual selector is kept as given.
            let manual: [String: Any] = ["apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": "manual"],
                                         "spec": ["manualSelector": true, "selector": ["matchLabels": ["app": "x"]], "suspend": true,
                                                  "template": ["metadata": ["labels": ["app": "x"]],
                                                               "spec": ["restartPolicy": "Never", "containers": [["name": "b", "image": "b:1"]]]]]]
            let created = try await c.call(.POST, "/apis/batch/v1/namespaces/default/jobs", json: manual).json
            #expect(created.at("spec", "selector", "matchLabels") as? [String: String] == ["app": "x"])
        }
    }

    // MARK: Pure rules

    @Test func podFailurePolicyRules() throws {
        let job = try Self.buildObjects().job
        let policy = job["spec"]?["podFailurePolicy"]
        func pod(kaniko: Int?, report: Int?, conditions: [JSONValue] = []) -> JSONValue {
            func status(_ name: String, _ code: Int?) -> JSONValue {
                .object(["name": .string(name), "state": code.map { .object(["terminated": .object(["exitCode": .number(Double($0))])]) }
                         ?? .object(["waiting": .object(["reason": .string("PodInitializing")])])])
            }
            return .object(["metadata": .object(["name": .string("p"), "namespace": .string("ns")]),
                            "status": .object(["initContainerStatuses": .array([status("kaniko", kaniko)]),
                                               "containerStatuses": .array([status("report", report)]), "conditions": .array(conditions)])])
        }
        #expect(PodFailurePolicy.evaluate(policy, pod: pod(kaniko: 1, report: nil)) == .count)
        #expect(PodFailurePolicy.evaluate(policy, pod: pod(kaniko: 127, report: nil))
            == .failJob("Container kaniko for pod ns/p failed with exit code 127 matching FailJob rule at index 2"))
        #expect(PodFailurePolicy.evaluate(policy, pod: pod(kaniko: 0, report: 2))
            == .failJob("Container report for pod ns/p failed with exit code 2 matching FailJob rule at index 1"))
        #expect(PodFailurePolicy.evaluate(policy, pod: pod(kaniko: 137, report: nil,
                                                            conditions: [.object(["type": .string("DisruptionTarget"), "status": .string("True")])])) == .ignore)
        #expect(PodFailurePolicy.evaluate(nil, pod: pod(kaniko: 127, report: nil)) == .count)
    }

    @Test func kanikoArgumentsAndTerminationMessages() {
        let parsed = KanikoInvocation.parse(["--dockerfile=/workspace/Dockerfile", "--context=dir:///workspace/",
                                             "--destination=r/x:1", "--digest-file=/dev/termination-log"])
        #expect(parsed == KanikoInvocation(dockerfile: "/workspace/Dockerfile", contextDirectory: "/workspace", destination: "r/x:1",
                                           digestFile: "/dev/termination-log"))
        #expect(parsed?.relativeDockerfile == "Dockerfile")
        #expect(KanikoInvocation.parse(["-f", "sub/Containerfile", "--context", "dir:///ctx", "-d", "r/y:2"])?.dockerfile == "/ctx/sub/Containerfile")
        #expect(KanikoInvocation.parse(["--dockerfile=/elsewhere/Dockerfile", "--destination=r/x:1"])?.relativeDockerfile == nil)
        #expect(KanikoInvocation.parse(["python", "-c", "print(1)"]) == nil)

        let log = Data((1...100).map { "line \($0)" }.joined(separator: "\n").utf8)
        let fallback = TerminationMessage.make(written: "", exitCode: 1, policy: "FallbackToLogsOnError", log: log)
        #expect(fallback.hasPrefix("line 21\n") && fallback.hasSuffix("line 100"))
        #expect(TerminationMessage.make(written: "", exitCode: 0, policy: "FallbackToLogsOnError", log: log) == "")
        #expect(TerminationMessage.make(written: "", exitCode: 1, policy: "File", log: log) == "")
        #expect(TerminationMessage.make(written: String(repeating: "x", count: 5000), exitCode: 0, policy: nil, log: nil).utf8.count == 4096)
    }

    @Test func podLogContainerSelection() throws {
        let pod: JSONValue = .object(["metadata": .object(["name": .string("p")]),
                                      "spec": .object(["initContainers": .array([.object(["name": .string("kaniko")])]),
                                                       "containers": .array([.object(["name": .string("report")])])])])
        #expect(try PodLogRequest.container(pod: pod, requested: nil) == "report")
        #expect(try PodLogRequest.container(pod: pod, requested: "kaniko") == "kaniko")
        #expect(throws: APIError.self) { try PodLogRequest.container(pod: pod, requested: "other") }
        let two: JSONValue = .object(["metadata": .object(["name": .string("q")]),
                                      "spec": .object(["initContainers": .array([.object(["name": .string("i")])]),
                                                       "containers": .array([.object(["name": .string("a")]), .object(["name": .string("b")])])])])
        let thrown = #expect(throws: APIError.self) { try PodLogRequest.container(pod: two, requested: nil) }
        #expect(thrown?.message == "a container name must be specified for pod q, choose one of: [a b] or one of the init containers: [i]")
        let text = Data("a\nb\nc\n".utf8)
        #expect(PodLogRequest.select(text, tailLines: 2, limitBytes: nil) == Data("b\nc\n".utf8))
        #expect(PodLogRequest.select(text, tailLines: 0, limitBytes: nil) == Data())
        #expect(PodLogRequest.select(text, tailLines: nil, limitBytes: 3) == Data("a\nb".utf8))
        #expect(!PodLogStore.isSafeComponent("..") && !PodLogStore.isSafeComponent("a/b") && PodLogStore.isSafeComponent("mir-build-x-1a2b3"))
    }
}
