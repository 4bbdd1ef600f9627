import Foundation
import KubeLocal
import MirTestSupport
import Testing

@Suite(.serialized) struct KubectlSessionTests {
    let examples = """
    apiVersion: mir.dev/v1alpha1
    kind: ManagedImage
    metadata:
      name: base
    spec:
      base:
        imageType: amazonlinux2023
      pythonVersion: "3.12"
      pipRequirements:
        - name: requests
          versionSpecifier: ">=2.31"
    ---
    apiVersion: mir.dev/v1alpha1
    kind: ManagedImage
    metadata:
      name: child
    spec:
      base:
        managedImage: base
      pipRequirements:
        - name: numpy
    """

    @Test(.timeLimit(.minutes(3))) func kubectlSession() async throws {
        try await withKubectlCluster("kubectl", configure: {
            $0.builder = FakeBuilder()
            $0.jobRunner = JobRunnerConfiguration(backoffBase: .milliseconds(10))
        }) { cluster in
            let http = try await TestClusterClient(base: cluster.running.insecureURL!.absoluteString)
            do {
                try await session(cluster.kubectl, http, cluster.dir)
            } catch {
                await http.stop()
                throw error
            }
            await http.stop()
        }
    }

    private func session(_ kubectl: Kubectl, _ http: TestClusterClient, _ dir: URL) async throws {
        // The CRD and the examples.
        let crd = try await kubectl.run("apply", "-f", crdManifestURL.path)
        #expect(crd.status == 0, "\(crd.stderr)")
        #expect(crd.stdout.contains("customresourcedefinition.apiextensions.k8s.io/managedimages.mir.dev created"))
        let resources = try await kubectl.run("api-resources")
        let miLine = resources.stdout.split(separator: "\n").first { $0.hasPrefix("managedimages ") } ?? ""
        #expect(miLine.contains(" mi ") && miLine.contains("mir.dev/v1alpha1") && miLine.contains("ManagedImage"), "\(resources.stdout)\(resources.stderr)")
        let examplesFile = dir.appendingPathComponent("examples.yaml")
        try examples.write(to: examplesFile, atomically: true, encoding: .utf8)
        let applied = try await kubectl.run("apply", "-f", examplesFile.path)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.contains("managedimage.mir.dev/base created"))
        #expect(applied.stdout.contains("managedimage.mir.dev/child created"))
        let reapplied = try await kubectl.run("apply", "-f", examplesFile.path)
        #expect(reapplied.stdout.contains("managedimage.mir.dev/base unchanged"), "\(reapplied.stdout)\(reapplied.stderr)")

        // The test plays the controller (issue 5 will replace this): status with a Ready condition.
        try await http.setReady("base", generation: 1, phase: "Ready")

        let get = try await kubectl.run("get", "mi")
        #expect(get.status == 0, "\(get.stderr)")
        let header = get.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "PHASE", "TAG", "PYTHON", "REASON", "AGE"])
        #expect(get.stdout.contains("base") && get.stdout.contains("Ready") && get.stdout.contains("tag-1"))
        let wide = try await kubectl.run("get", "mi", "-o", "wide")
        #expect(wide.stdout.contains("REPOSITORY") && wide.stdout.contains("PLATFORM") && wide.stdout.contains("mir/base"))
        let yaml = try await kubectl.run("get", "mi", "base", "-o", "yaml")
        #expect(yaml.stdout.contains("pythonVersion: \"3.12\"") && yaml.stdout.contains("kind: ManagedImage"), "\(yaml.stdout)")
        let jsonpath = try await kubectl.run("get", "mi", "child", "-o", "jsonpath={.spec.base.managedImage}")
        #expect(jsonpath.stdout == "base")

        // get -w streams a change.
        let watch = try kubectl.start(["get", "mi", "-w"])
        #expect(await watch.waitForOutput(containing: "base"))
        try await http.setReady("base", generation: 1, phase: "Building")
        #expect(await watch.waitForOutput(containing: "Building"), "\(watch.stdout)")
        watch.send(SIGTERM)
        _ = await watch.finish()

        // describe shows events (the test posts the Event the controller would).
        try await http.postEvent(for: "base", reason: "BuildStarted", message: "building tag-1")
        let describe = try await kubectl.run("describe", "mi", "base")
        #expect(describe.stdout.contains("Events:") && describe.stdout.contains("BuildStarted") && describe.stdout.contains("building tag-1"),
                "\(describe.stdout)\(describe.stderr)")

        // wait returns once Ready carries the current observedGeneration.
        try await http.patch("/apis/mir.dev/v1alpha1/managedimages/base", ["spec": ["pythonVersion": "3.13"]])
        let wait = try kubectl.start(["wait", "--for=condition=Ready", "mi/base", "--timeout=30s"])
        try await Task.sleep(for: .seconds(1))
        #expect(wait.isRunning, "a Ready condition for an older generation does not satisfy wait")
        try await http.setReady("base", generation: 2, phase: "Ready")
        let waited = await wait.finish()
        #expect(waited.status == 0, "\(waited.stderr)")
        #expect(waited.stdout.contains("managedimage.mir.dev/base condition met"))

        // delete waits for finalizers (the test adds and removes the controller's finalizer).
        try await http.patch("/apis/mir.dev/v1alpha1/managedimages/child", ["metadata": ["finalizers": ["mir.dev/cleanup"]]])
        let delete = try kubectl.start(["delete", "mi", "child"])
        try await Task.sleep(for: .seconds(1))
        #expect(delete.isRunning, "delete waits while a finalizer is present")
        try await http.patch("/apis/mir.dev/v1alpha1/managedimages/child", ["metadata": ["finalizers": NSNull()]])
        let deleted = await delete.finish()
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(deleted.stdout.contains("managedimage.mir.dev \"child\" deleted"))

        // Server-side apply.
        let ssaFile = dir.appendingPathComponent("ssa.yaml")
        try """
        apiVersion: mir.dev/v1alpha1
        kind: ManagedImage
        metadata:
          name: ssa
        spec:
          base:
            image: public.ecr.aws/docker/library/python:3.12
          pythonVersion: "3.12"
        """.write(to: ssaFile, atomically: true, encoding: .utf8)
        let ssa = try await kubectl.run("apply", "--server-side", "-f", ssaFile.path)
        #expect(ssa.status == 0, "\(ssa.stderr)")
        #expect(ssa.stdout.contains("managedimage.mir.dev/ssa serverside-applied"))

        // Schema validation refuses an invalid spec.
        let badFile = dir.appendingPathComponent("bad.yaml")
        try """
        apiVersion: mir.dev/v1alpha1
        kind: ManagedImage
        metadata:
          name: bad
        spec:
          base:
            imageType: amazonlinux2023
          pythonVersion: "three"
        """.write(to: badFile, atomically: true, encoding: .utf8)
        let bad = try await kubectl.run("apply", "-f", badFile.path)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("The ManagedImage \"bad\" is invalid: spec.pythonVersion: Invalid value: \"three\""), "\(bad.stderr)")

        // kubectl delete job cascades to its pods.
        let jobFile = dir.appendingPathComponent("job.yaml")
        try """
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: build-base
          annotations:
            mir.dev/image: base
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers:
                - name: build
                  image: builder:latest
        """.write(to: jobFile, atomically: true, encoding: .utf8)
        let jobApplied = try await kubectl.run("apply", "-f", jobFile.path)
        #expect(jobApplied.status == 0, "\(jobApplied.stderr)")
        let jobWait = try await kubectl.run("wait", "--for=condition=Complete", "job/build-base", "--timeout=30s")
        #expect(jobWait.status == 0, "\(jobWait.stderr)")
        let pods = try await kubectl.run("get", "pods", "-l", "job-name=build-base", "-o", "name")
        #expect(pods.stdout.hasPrefix("pod/build-base-"))
        let jobDelete = try await kubectl.run("delete", "job", "build-base")
        #expect(jobDelete.status == 0, "\(jobDelete.stderr)")
        let podsAfter = try await kubectl.run("get", "pods", "-l", "job-name=build-base", "-o", "name")
        #expect(podsAfter.stdout.isEmpty, "the job's pods are deleted with it: \(podsAfter.stdout)")
    }
}

/// Plain-HTTP calls the test makes while standing in for mir's controller.
final class TestClusterClient: @unchecked Sendable {
    let client = HTTPClientBox()
    let base: String

    init(base: String) async throws { self.base = base }

    func stop() async { await client.shutdown() }

    func patch(_ path: String, _ body: [String: Any], subresource: Bool = false) async throws {
        let result = try await client.call(.PATCH, base + path, body: body, contentType: "application/merge-patch+json")
        guard result.status == 200 else { throw TestFailure("PATCH \(path) → \(result.status) \(result.text)") }
    }

    func setReady(_ name: String, generation: Int, phase: String) async throws {
        try await patch("/apis/mir.dev/v1alpha1/managedimages/\(name)/status", ["status": [
            "phase": phase, "imageTag": "tag-\(generation)", "repositoryName": "mir/\(name)", "platformVersion": "p1",
            "observedGeneration": generation,
            "conditions": [["type": "Ready", "status": phase == "Ready" ? "True" : "False", "reason": phase,
                            "message": "", "observedGeneration": generation, "lastTransitionTime": "2026-11-27T00:00:00Z"]],
        ]])
    }

    func postEvent(for name: String, reason: String, message: String) async throws {
        let object = try await client.call(.GET, base + "/apis/mir.dev/v1alpha1/managedimages/\(name)")
        let uid = object.json.at("metadata", "uid") as? String ?? ""
        let now = "2026-11-27T00:00:00Z"
        let event: [String: Any] = [
            "apiVersion": "v1", "kind": "Event", "metadata": ["name": "\(name).\(UUID().uuidString.prefix(8).lowercased())", "namespace": "default"],
            "involvedObject": ["apiVersion": "mir.dev/v1alpha1", "kind": "ManagedImage", "name": name, "uid": uid],
            "reason": reason, "message": message, "type": "Normal", "source": ["component": "mir-test-controller"],
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        ]
        let result = try await client.call(.POST, base + "/api/v1/namespaces/default/events", body: event, contentType: "application/json")
        guard result.status == 201 else { throw TestFailure("posting an event → \(result.status) \(result.text)") }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
