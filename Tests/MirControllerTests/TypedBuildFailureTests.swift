import Foundation
import KubeClient
import KubeLocal
import MirBuild
import MirController
import Testing

/// How a build pod ends on a node, and what mir must call it.
struct TypedPodFailure: Sendable, CustomTestStringConvertible {
    var image: String
    var termination: SimulatedContainerTermination
    var reason: BuildFailureReason
    /// The status message before the `kubectl logs` hint.
    var summary: String

    var testDescription: String { reason.rawValue }

    static let kaniko = BuildJobManifest.kanikoContainerName
    static let pushLog = "error pushing image: failed to push to destination 123456789012.dkr.ecr.us-east-1.amazonaws.com/mir/denied:1a2b: "
        + "PUT https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/mir/denied/blobs/uploads/: DENIED: not authorized to perform ecr:InitiateLayerUpload"
    static let pullLog = #"error building image: unable to complete operation after 0 attempts, last error: retrieving image "public.ecr.aws/docker/library/python:3.12": "#
        + "GET https://public.ecr.aws/v2/docker/library/python/manifests/3.12: MANIFEST_UNKNOWN: manifest unknown"

    static let all = [
        TypedPodFailure(image: "oom", termination: SimulatedContainerTermination(container: kaniko, reason: "OOMKilled", exitCode: 137),
                        reason: .oomKilled, summary: "container kaniko ran out of memory (OOMKilled)"),
        TypedPodFailure(image: "denied",
                        termination: SimulatedContainerTermination(container: kaniko, reason: "Error", exitCode: 1,
                                                                   message: "INFO[0042] Pushing image to 123456789012.dkr.ecr.us-east-1.amazonaws.com/mir/denied:1a2b\n\(pushLog)\n"),
                        reason: .pushDenied, summary: "pushing the image was denied: \(pushLog)"),
        TypedPodFailure(image: "nobase",
                        termination: SimulatedContainerTermination(container: kaniko, reason: "Error", exitCode: 1,
                                                                   message: "INFO[0001] Retrieving image manifest public.ecr.aws/docker/library/python:3.12\n\(pullLog)"),
                        reason: .baseImagePullFailed, summary: "the base image could not be pulled: \(pullLog)"),
    ]
}

/// The failure reasons JobOutcomeClassifier types, end to end: the simulated job runner ends the build pod's kaniko
/// container as a node would, and the controller reads the Pod and Job through the API.
@Suite("typed build failures end-to-end (simulated pod terminations)", .serialized)
struct TypedBuildFailureTests {
    @Test(arguments: TypedPodFailure.all)
    func aBuildPodEndingThisWayFailsTheImageWithItsReasonAndTheLogsHint(_ failure: TypedPodFailure) async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(100), podTerminations: [failure.image: failure.termination])
        try await runAndStop(h) { h in
            let run = h.start(h.manager())
            defer { run.cancel() }
            try await h.create(failure.image, spec: spec())
            let failed = try await h.waitFor(failure.image, "Failed") { $0.status?.phase == "Failed" }
            let build = try #require(failed.status?.build)
            let jobName = try #require(build.jobName)
            #expect(build.reason == failure.reason.rawValue)
            #expect(build.message == "\(failure.summary). See more with: kubectl logs -n mir-builds job/\(jobName) -c kaniko")
            #expect(build.completionTime != nil)
            #expect(condition(failed, "Ready")?.status == "False")
            #expect(condition(failed, "BuildSucceeded")?.status == "False")
            #expect(condition(failed, "BuildSucceeded")?.reason == failure.reason.rawValue)

            let events = try await h.events(reason: "BuildFailed", object: failure.image)
            #expect(events.count == 1)
            #expect(events.first?.type == "Warning" && events.first?.reportingComponent == "mir")
            #expect(events.first?.message == "\(failure.reason.rawValue): \(build.message ?? "")")

            // What the controller read: the Job's pod, its kaniko init container terminated as the node reported it.
            let pods = try await h.client.listAll(Pod.self, namespace: "mir-builds", options: ListOptions(labelSelector: "job-name=\(jobName)")).items
            #expect(pods.count == 1)
            let kaniko = pods.first?.status?.initContainerStatuses?.first { $0.name == TypedPodFailure.kaniko }
            #expect(kaniko?.state?.terminated?.reason == failure.termination.reason)
            #expect(kaniko?.state?.terminated?.exitCode == failure.termination.exitCode)
            // Not retried on its own.
            #expect(try await h.jobs(image: failure.image).count == 1)
        }
    }
}
