import Foundation
import MirBuild
import MirCore
import MirModel
import MirRegistry
import Testing

/// Problems 6 and 8 of issue 8: records that cannot wedge. Abandoned and Lost builds are planned again.
@Suite struct BuildRecordPlanTests {
    @Test func abandonedAndLostBuildsAreBuiltAgain() {
        let repo = observedRepo("mir/a", tags: ownedTags("a"), images: [])
        for state in [BuildRecord.State.abandoned, .lost] {
            let observed = ObservedState(repositories: ["mir/a": repo], buildRecords: [record("a", tag: "py3.11-aaaa", state: state)])
            let plan = Planner.plan(desired: desired([resolved("a")]), observed: observed)
            #expect(plan.count(.build) == 1, "state \(state): \(plan.actions)")
        }
    }

    @Test func anAbandonedBuildWhoseTagIsThereIsBuiltAgainToRecordItsOutcome() {
        let repo = observedRepo("mir/a", tags: ownedTags("a"), images: ["py3.11-aaaa"])
        let abandoned = ObservedState(repositories: ["mir/a": repo], buildRecords: [record("a", tag: "py3.11-aaaa", state: .abandoned)])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: abandoned).count(.build) == 1)
        let succeeded = ObservedState(repositories: ["mir/a": repo], buildRecords: [record("a", tag: "py3.11-aaaa", state: .succeeded)])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: succeeded).isEmpty)
    }

    @Test func aSubmittedRecordOlderThanItsRepositoryIsLost() {
        // The registry lost its state and mir created the repository again after the build was submitted.
        var repo = observedRepo("mir/a", tags: ownedTags("a"), images: [])
        repo.description?.createdAt = Date(timeIntervalSince1970: 1000)
        let older = ObservedState(repositories: ["mir/a": repo], buildRecords: [record("a", tag: "py3.11-aaaa", state: .submitted, at: 500)])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: older).count(.build) == 1)
        // Submitted after the repository was created: still under way, not submitted twice.
        let newer = ObservedState(repositories: ["mir/a": repo], buildRecords: [record("a", tag: "py3.11-aaaa", state: .submitted, at: 1500)])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: newer).isEmpty)
        // The repository is gone altogether: the build's target is lost too.
        let gone = ObservedState(repositories: [:], buildRecords: [record("a", tag: "py3.11-aaaa", state: .submitted, at: 1500)])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: gone).count(.build) == 1)
        // A Running record is judged by its process and heartbeat, not by the repository's age.
        let running = ObservedState(repositories: ["mir/a": repo], buildRecords: [record("a", tag: "py3.11-aaaa", state: .running, at: 500)])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: running).isEmpty)
    }
}
