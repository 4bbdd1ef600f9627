import Foundation
import KubeClient
import MirBuild
import MirController
import MirModel
import Testing

func buildJob(name: String = "mir-build-web-abc", conditions: [(String, String?)] = [], deadline: Int? = 3600) -> Job {
    Job(metadata: ObjectMeta(name: name, namespace: "mir-builds", labels: BuildJobManifest.labels(image: "web", tag: "py3.12-1")),
        spec: Job.Spec(template: .object([:]), backoffLimit: 1, activeDeadlineSeconds: deadline),
        status: Job.Status(startTime: Date(timeIntervalSince1970: 1000),
                           conditions: conditions.map { Job.JobCondition(type: $0.0, status: "True", reason: $0.1, lastTransitionTime: Date(timeIntervalSince1970: 2000)) }))
}

func pod(init kaniko: Pod.ContainerState? = nil, report: Pod.ContainerState? = nil, reason: String? = nil, message: String? = nil) -> Pod {
    Pod(metadata: ObjectMeta(name: "p", namespace: "mir-builds"), spec: nil,
        status: Pod.Status(phase: "Failed", reason: reason, message: message,
                           containerStatuses: report.map { [Pod.ContainerStatus(name: "report", state: $0)] },
                           initContainerStatuses: kaniko.map { [Pod.ContainerStatus(name: "kaniko", state: $0)] }))
}

func terminated(_ code: Int, reason: String? = nil, message: String? = nil) -> Pod.ContainerState {
    Pod.ContainerState(terminated: Pod.Terminated(exitCode: code, reason: reason, message: message))
}

@Suite struct JobOutcomeTests {
    @Test func successReadsThePipReportAndDigest() {
        let libraries = [PipLibrary(name: "requests", version: "2.32.3"), PipLibrary(name: "pip", version: "24.0")]
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let outcome = JobOutcomeClassifier.classify(job: buildJob(conditions: [("Complete", nil)]),
                                                    pods: [pod(init: terminated(0, message: digest), report: terminated(0, message: BuildReport.encode(libraries: libraries)))])
        #expect(outcome == .succeeded(libraries: libraries, report: .complete, digest: digest, completionTime: Date(timeIntervalSince1970: 2000)))
    }

    @Test func aCutReportIsMarkedTruncated() {
        let many = (0..<2000).map { PipLibrary(name: "library-number-\($0)", version: "1.0.\($0)") }
        let outcome = JobOutcomeClassifier.classify(job: buildJob(conditions: [("Complete", nil)]),
                                                    pods: [pod(report: terminated(0, message: BuildReport.encode(libraries: many)))])
        guard case .succeeded(let libs, let report, _, _) = outcome else { Issue.record("not succeeded: \(outcome)"); return }
        #expect(report == .truncated(total: 2000))
        #expect(libs.count < many.count && !libs.isEmpty)
    }

    @Test func runningUntilAConditionSaysOtherwise() {
        #expect(!JobOutcomeClassifier.classify(job: buildJob(), pods: []).isFinished)
    }

    func failure(_ job: Job, _ pods: [Pod]) -> (BuildFailureReason, String)? {
        if case .failed(let r, let m, _) = JobOutcomeClassifier.classify(job: job, pods: pods) { return (r, m) }
        return nil
    }

    @Test func typedFailureReasonsEndWithTheLogsCommand() throws {
        let failed = buildJob(conditions: [("Failed", "BackoffLimitExceeded")])
        let cases: [(Job, [Pod], BuildFailureReason, String)] = [
            (buildJob(conditions: [("Failed", "DeadlineExceeded")]), [], .deadlineExceeded, "-c kaniko"),
            (failed, [pod(init: terminated(137, reason: "OOMKilled"))], .oomKilled, "-c kaniko"),
            (failed, [pod(init: terminated(1, message: "error building image: error building stage: failed to get filesystem from image: GET https://public.ecr.aws/v2/x/manifests/3.12: MANIFEST_UNKNOWN"))], .baseImagePullFailed, "-c kaniko"),
            (failed, [pod(init: terminated(1, message: "error pushing image: failed to push to destination 1.dkr.ecr/x:t: PUT: UNAUTHORIZED: denied"))], .pushDenied, "-c kaniko"),
            (failed, [pod(reason: "Evicted", message: "The node was low on resource: ephemeral-storage.")], .evicted, "-c kaniko"),
            (failed, [pod(init: terminated(0), report: terminated(1, message: "Traceback: boom"))], .buildFailed, "-c report"),
            (failed, [pod(init: terminated(1, message: "RUN pip install x\nERROR: No matching distribution found for x"))], .buildFailed, "-c kaniko"),
        ]
        for (job, pods, reason, container) in cases {
            let (r, message) = try #require(failure(job, pods))
            #expect(r == reason, "\(message)")
            #expect(message.hasSuffix("See more with: kubectl logs -n mir-builds job/mir-build-web-abc \(container)"), "\(message)")
        }
    }

    @Test func recordsComeFromJobLabelsAndAnnotations() {
        var job = buildJob(conditions: [("Failed", "BackoffLimitExceeded")])
        job.metadata.annotations = ["mir.dev/reason": "spec changed", "mir.dev/spec-digest": "d1", "mir.dev/platform-version": "2.0", "mir.dev/parent-tag": "pt"]
        let record = ClusterBuildRecordStore.record(job: job, pods: [pod(init: terminated(1, message: "bad"))], simulated: false)
        #expect(record.image == "web" && record.tag == "py3.12-1" && record.state == .failed)
        #expect(record.specDigest == "d1" && record.platformVersion == "2.0" && record.parentTag == "pt" && record.reason == "spec changed")
        #expect(record.message?.contains("kubectl logs") == true)
    }
}

@Suite struct ConditionTests {
    @Test func transitionTimeChangesOnlyWithStatus() {
        let t0 = Date(timeIntervalSince1970: 100), t1 = Date(timeIntervalSince1970: 200)
        var conditions = Conditions.set(Condition(type: "Ready", status: "False", observedGeneration: 1, lastTransitionTime: t0, reason: "BuildRunning", message: "a"), in: [])
        conditions = Conditions.set(Condition(type: "Ready", status: "False", observedGeneration: 2, lastTransitionTime: t1, reason: "BuildQueued", message: "b"), in: conditions)
        #expect(conditions.count == 1)
        #expect(conditions[0].lastTransitionTime == t0 && conditions[0].reason == "BuildQueued" && conditions[0].observedGeneration == 2)
        conditions = Conditions.set(Condition(type: "Ready", status: "True", observedGeneration: 2, lastTransitionTime: t1, reason: "BuildSucceeded", message: "c"), in: conditions)
        #expect(conditions[0].lastTransitionTime == t1)
    }

    @Test func reasonsAreCamelCase() {
        for reason in BuildFailureReason.allCases.map(\.rawValue) + BuildReason.allCases.map(\.camelCase) {
            #expect(Conditions.isValidReason(reason), "\(reason)")
        }
        #expect(!Conditions.isValidReason("spec changed"))
    }
}

@Suite struct BuildSchedulerTests {
    @Test func limitsConcurrentBuilds() {
        let s = BuildScheduler(maxConcurrentBuilds: 2)
        #expect(s.request(.init(image: "a", priority: 0, depth: 0), activeImages: []))
        #expect(s.request(.init(image: "b", priority: 0, depth: 0), activeImages: ["a"]))
        #expect(!s.request(.init(image: "c", priority: 0, depth: 0), activeImages: ["a", "b"]))
        #expect(s.waitingImages == ["c"])
    }

    @Test func specChangesGoBeforePlatformRebuildsAndParentsBeforeChildren() {
        let s = BuildScheduler(maxConcurrentBuilds: 1)
        #expect(!s.request(.init(image: "platform", priority: 1, depth: 0), activeImages: ["busy"]))
        #expect(!s.request(.init(image: "child", priority: 0, depth: 1), activeImages: ["busy"]))
        #expect(!s.request(.init(image: "spec", priority: 0, depth: 0), activeImages: ["busy"]))
        // The slot frees: only the best-ranked waiter gets it.
        #expect(!s.request(.init(image: "platform", priority: 1, depth: 0), activeImages: []))
        #expect(!s.request(.init(image: "child", priority: 0, depth: 1), activeImages: []))
        #expect(s.request(.init(image: "spec", priority: 0, depth: 0), activeImages: []))
        // Its Job is not listed yet: the reservation holds the slot.
        #expect(!s.request(.init(image: "child", priority: 0, depth: 1), activeImages: []))
        s.release("spec")
        #expect(!s.request(.init(image: "platform", priority: 1, depth: 0), activeImages: []))
        #expect(s.request(.init(image: "child", priority: 0, depth: 1), activeImages: []))
    }
}
