import Foundation
import KubeClient
import MirBuild
import MirController
import MirModel
import Testing

/// Issue 8, problems 5, 9 and 12, decided without a cluster: PushNotVisible, the rebuild limiter, the build report's
/// completeness and the lease settings.
@Suite struct RecordSafetyUnitTests {
    func observed(_ job: Job, pods: [Pod]) -> ObservedBuildJob {
        let outcome = JobOutcomeClassifier.classify(job: job, pods: pods)
        return ObservedBuildJob(job: job, outcome: outcome, record: ClusterBuildRecordStore.record(job: job, pods: pods, simulated: false))
    }

    func pushingJob() -> Job {
        var job = buildJob(conditions: [("Complete", nil)])
        job.spec?.template = .object(["spec": .object(["initContainers": .array([.object([
            "name": .string("kaniko"), "args": .array([.string("--context=dir:///workspace"), .string("--destination=elsewhere.example/mir/web:py3.12-1")]),
        ])])])])
        return job
    }

    @Test func aSucceededJobWhoseTagIsNotInTheRegistryIsPushNotVisible() throws {
        let report = pod(report: terminated(0, message: BuildReport.encode(libraries: [PipLibrary(name: "pip", version: "24.0")])))
        let job = observed(pushingJob(), pods: [report])
        let read = Date(timeIntervalSince1970: 3000)  // the Job completed at 2000
        let checked = PushVisibility.check([job], tag: "py3.12-1", repositoryCreatedAt: Date(timeIntervalSince1970: 500), imageTags: [],
                                           registry: "local:/srv/mir-registry", registryReadAt: read)
        guard case .failed(let reason, let message, _) = checked[0].outcome else { Issue.record("not failed: \(checked[0].outcome)"); return }
        #expect(reason == .pushNotVisible)
        #expect(message.contains("pushed to elsewhere.example/mir/web:py3.12-1"), "\(message)")
        #expect(message.contains("the registry mir observes (local:/srv/mir-registry) has no tag py3.12-1"), "\(message)")
        #expect(checked[0].record.state == .failed)
        // The tag is there: success stands. The tags are unknown: nothing is concluded.
        #expect(PushVisibility.check([job], tag: "py3.12-1", repositoryCreatedAt: nil, imageTags: ["py3.12-1"], registry: "r", registryReadAt: read)[0] == job)
        #expect(PushVisibility.check([job], tag: "py3.12-1", repositoryCreatedAt: nil, imageTags: nil, registry: "r", registryReadAt: read)[0] == job)
        // The registry was read less than the margin after the Job finished (the push may have come after the read):
        // held as running while it is verified, neither a success nor a failure.
        let recent = PushVisibility.check([job], tag: "py3.12-1", repositoryCreatedAt: nil, imageTags: [], registry: "r",
                                          registryReadAt: Date(timeIntervalSince1970: 2001))[0]
        #expect(!recent.outcome.isFinished && recent.isVerifyingPush && recent.record.state == .running)
        #expect(!job.isVerifyingPush)
        // The Job finished before the repository was created (the registry lost it): not this failure, just gone.
        #expect(PushVisibility.check([job], tag: "py3.12-1", repositoryCreatedAt: Date(timeIntervalSince1970: 5000), imageTags: [],
                                     registry: "r", registryReadAt: Date(timeIntervalSince1970: 6000))[0] == job)
        // Kubernetes times are whole seconds: a Job that completed in the same second as (but after) the repository's
        // creation reads as a little older than it. Still this failure (before: taken as "just gone" and built again
        // at once, outside the rebuild limiter).
        let sameSecond = PushVisibility.check([job], tag: "py3.12-1", repositoryCreatedAt: Date(timeIntervalSince1970: 2000.7), imageTags: [],
                                              registry: "r", registryReadAt: read)[0]
        guard case .failed(.pushNotVisible, _, _) = sameSecond.outcome else { Issue.record("not PushNotVisible: \(sameSecond.outcome)"); return }
    }

    @Test func rebuildsBackOffExponentiallyAndAreCappedPerHour() {
        let limiter = RebuildLimiter(maxPerHour: 4)
        #expect(limiter.delay(afterFailures: 0) == .milliseconds(5))
        #expect(limiter.delay(afterFailures: 1) == .milliseconds(10))
        #expect(limiter.delay(afterFailures: 10) == .milliseconds(5120))
        #expect(limiter.delay(afterFailures: 40) == .seconds(1000))
        let t0 = Date(timeIntervalSince1970: 10_000)
        #expect(!limiter.isPacing(image: "web", tag: "t"))
        #expect(limiter.request(image: "web", tag: "t", now: t0) == .rebuild(attempt: 1))
        #expect(limiter.isPacing(image: "web", tag: "t") && !limiter.isPacing(image: "web", tag: "u"))
        // 5 ms later at the earliest, then 10 ms, then 20 ms.
        guard case .backoff = limiter.request(image: "web", tag: "t", now: t0.addingTimeInterval(0.001)) else { Issue.record("no backoff"); return }
        #expect(limiter.request(image: "web", tag: "t", now: t0.addingTimeInterval(0.006)) == .rebuild(attempt: 2))
        guard case .backoff = limiter.request(image: "web", tag: "t", now: t0.addingTimeInterval(0.012)) else { Issue.record("no backoff"); return }
        #expect(limiter.request(image: "web", tag: "t", now: t0.addingTimeInterval(0.1)) == .rebuild(attempt: 3))
        #expect(limiter.request(image: "web", tag: "t", now: t0.addingTimeInterval(1)) == .rebuild(attempt: 4))
        // The hourly cap: no more until the first rebuild is an hour old, whatever the backoff says.
        guard case .capped(let wait) = limiter.request(image: "web", tag: "t", now: t0.addingTimeInterval(100)) else { Issue.record("not capped"); return }
        #expect(wait == .seconds(3500))
        #expect(limiter.rebuildsInLastHour(image: "web", tag: "t", now: t0.addingTimeInterval(100)) == 4)
        // Other (image, tag) pairs are independent; a visible tag starts over.
        #expect(limiter.request(image: "api", tag: "t", now: t0.addingTimeInterval(100)) == .rebuild(attempt: 1))
        limiter.forget(image: "web")
        #expect(limiter.request(image: "web", tag: "t", now: t0.addingTimeInterval(101)) == .rebuild(attempt: 1))
    }

    @Test func anUnreadableOrCutReportIsNeverAnEmptySuccess() {
        let job = buildJob(conditions: [("Complete", nil)])
        // A report cut by the kubelet's 4096-byte limit (the old simulated runner's JSON): unreadable, named.
        let cut = String(repeating: "x", count: 10) + "{\"image\":\"web\""
        let unreadable = JobOutcomeClassifier.classify(job: job, pods: [pod(report: terminated(0, message: cut))])
        guard case .succeeded(let libraries, .unreadable(let why), _, _) = unreadable else { Issue.record("\(unreadable)"); return }
        #expect(libraries.isEmpty && why.contains("cannot be read"), "\(why)")
        let record = ClusterBuildRecordStore.record(job: job, pods: [pod(report: terminated(0, message: cut))], simulated: false)
        #expect(record.message?.hasPrefix("the pip list is unknown") == true)
        // No report at all.
        guard case .succeeded(_, .unreadable, _, _) = JobOutcomeClassifier.classify(job: job, pods: []) else { Issue.record("no report read as complete"); return }
        // 500 libraries in 4096 bytes: truncated, with the total.
        let many = (0..<500).map { PipLibrary(name: "requirement-number-\($0)", version: "1.0.\($0)") }
        let truncated = JobOutcomeClassifier.classify(job: job, pods: [pod(report: terminated(0, message: BuildReport.encode(libraries: many)))])
        guard case .succeeded(let shown, .truncated(let total), _, _) = truncated else { Issue.record("\(truncated)"); return }
        #expect(total == 500 && !shown.isEmpty && shown.count < 500)
        let condition = BuildReportState.truncated(total: 500).condition(shown: shown.count)
        #expect(condition.0 == "False" && condition.1 == "BuildReportTruncated" && condition.2.contains("truncated: true; \(shown.count) of 500"))
        #expect(BuildReportState.unreadable("x").condition(shown: 0).1 == "BuildReportUnreadable")
    }

    @Test func leaseSettingsAreValidatedAndWrittenWithTheirRealDuration() {
        func config(_ lease: Duration, _ renew: Duration, _ retry: Duration) -> LeaderElectionConfig {
            LeaderElectionConfig(namespace: "default", leaseDuration: lease, renewDeadline: renew, retryPeriod: retry)
        }
        #expect(throws: Never.self) { try config(.seconds(15), .seconds(10), .seconds(2)).validate() }
        #expect(throws: Never.self) { try config(.seconds(4), .seconds(3), .seconds(1)).validate() }
        // The sub-second lease of problem 9, and each ordering rule.
        for (c, words) in [(config(.milliseconds(900), .milliseconds(600), .milliseconds(200)), "lease duration must be at least 1s (got 900ms)"),
                           (config(.seconds(5), .seconds(5), .seconds(1)), "lease duration (5s) must be greater than the renew deadline (5s)"),
                           (config(.seconds(5), .seconds(3), .milliseconds(2500)), "renew deadline (3s) must be greater than 1.2 × the retry period (2500ms)"),
                           (config(.seconds(5), .seconds(3), .milliseconds(500)), "retry period must be at least 1s (got 500ms)")] {
            do {
                try c.validate()
                Issue.record("accepted: \(words)")
            } catch {
                #expect("\(error)".contains(words), "\(error)")
            }
        }
        // Never 0, never shorter than the real duration.
        #expect(config(.milliseconds(1500), .seconds(1), .milliseconds(800)).leaseDurationSeconds == 2)
        #expect(config(.seconds(15), .seconds(10), .seconds(2)).leaseDurationSeconds == 15)
        #expect(LeaderElectionLost(lease: "default/mir-controller", identity: "a").description == "leader election lost")
    }
}
