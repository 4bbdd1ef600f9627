import Testing
import PropertyBased
import MirModel
import MirBuild
@testable import MirCore
import MirRegistry

@Suite struct PlannerTests {
    @Test func newImageCreatesRepositoryPutsPolicyAndBuilds() {
        let plan = Planner.plan(desired: desired([resolved("a")]), observed: ObservedState(repositories: [:]))
        #expect(plan.actions == [
            .createRepository(repository: "mir/a", image: "a", deletionPolicy: .delete),
            .putLifecyclePolicy(repository: "mir/a", image: "a", policy: LifecyclePolicyRules.normalized(MirConfig.defaultLifecyclePolicy), reason: .missing),
            .build(image: "a", tag: "py3.11-aaaa", reason: .new),
        ])
        #expect(plan.summary == "Plan: 1 to create, 1 to update, 1 to build, 0 to delete.")
    }

    @Test func convergedStateGivesEmptyPlan() {
        let obs = ObservedState(repositories: ["mir/a": observedRepo("mir/a", tags: ownedTags("a"), images: ["py3.11-aaaa"])],
                                buildRecords: [record("a", tag: "py3.11-aaaa")])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: obs).isEmpty)
    }

    @Test func lifecyclePolicyComparedByMeaningNotText() {
        // Same document with keys in another order (dictionaries) is not drift…
        let shuffled = JSONValue.parse(#"{"rules":[{"action":{"type":"expire"},"selection":{"countNumber":7,"countUnit":"days","countType":"sinceImagePushed","tagStatus":"untagged"},"description":"Expire untagged images after 7 days","rulePriority":1},{"rulePriority":2,"description":"Keep the newest 10 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":10.0},"action":{"type":"expire"}}]}"#)!
        let same = ObservedState(repositories: ["mir/a": observedRepo("mir/a", tags: ownedTags("a"), policy: .some(shuffled), images: ["py3.11-aaaa"])])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: same).isEmpty)
        // …a changed count is.
        var changed = MirConfig.defaultLifecyclePolicy
        if case .object(var o) = changed, case .array(var rules) = o["rules"]!, case .object(var r) = rules[1], case .object(var sel) = r["selection"]! {
            sel["countNumber"] = .number(11); r["selection"] = .object(sel); rules[1] = .object(r); o["rules"] = .array(rules); changed = .object(o)
        }
        let drifted = ObservedState(repositories: ["mir/a": observedRepo("mir/a", tags: ownedTags("a"), policy: .some(changed), images: ["py3.11-aaaa"])])
        let plan = Planner.plan(desired: desired([resolved("a")]), observed: drifted)
        #expect(plan.actions.count == 1)
        guard case .putLifecyclePolicy(_, _, _, .drifted) = plan.actions[0] else { Issue.record("expected drift, got \(plan.actions)"); return }
    }

    @Test func buildReasons() {
        let repo = observedRepo("mir/a", tags: ownedTags("a"), images: ["old"])
        func reason(_ image: ResolvedImage, _ previous: BuildRecord, platform: String = "1.0") -> BuildReason? {
            let plan = Planner.plan(desired: desired([image], platform: platform),
                                    observed: ObservedState(repositories: ["mir/a": repo], buildRecords: [previous]))
            return plan.actions.compactMap { if case .build(_, _, let r) = $0 { return r }; return nil }.first
        }
        #expect(reason(resolved("a", specDigest: "spec-2"), record("a", tag: "old")) == .specChanged)
        #expect(reason(resolved("a", parent: "p", parentTag: "p2"), record("a", tag: "old", parentTag: "p1")) == .parentRebuilt)
        #expect(reason(resolved("a"), record("a", tag: "old", platform: "0.9")) == .platformUpgraded)
    }

    @Test func buildInProgressOrFailedIsNotStartedTwice() {
        let repo = observedRepo("mir/a", tags: ownedTags("a"), images: [])
        for state in [BuildRecord.State.submitted, .running, .failed] {
            let obs = ObservedState(repositories: ["mir/a": repo], buildRecords: [record("a", tag: "py3.11-aaaa", state: state)])
            #expect(Planner.plan(desired: desired([resolved("a")]), observed: obs).isEmpty, "state \(state)")
        }
        let failed = ObservedState(repositories: ["mir/a": repo], buildRecords: [record("a", tag: "py3.11-aaaa", state: .failed)])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: failed, options: PlanOptions(retryFailedBuilds: true)).count(.build) == 1)
        // A build that pushed nothing because its repository was gone or taken over failed for its target, not its
        // spec: built again once the repository is this mir's, without --retry-failed.
        var notOwned = record("a", tag: "py3.11-aaaa", state: .failed)
        notOwned.failure = BuildFailure(reason: .repositoryNotOwned)
        let targetLost = ObservedState(repositories: ["mir/a": repo], buildRecords: [notOwned])
        #expect(Planner.plan(desired: desired([resolved("a")]), observed: targetLost).count(.build) == 1)
    }

    @Test func unownedRepositoryIsReportedNotTakenOver() {
        let obs = ObservedState(repositories: ["mir/a": observedRepo("mir/a", tags: [ResourceTagFixture.team], policy: .some(nil))])
        let plan = Planner.plan(desired: desired([resolved("a")]), observed: obs)
        #expect(plan.isEmpty)
        #expect(plan.warnings == [.foreignRepository(repository: "mir/a", image: "a", owner: .notManagedByMir)])
        #expect(plan.warnings[0].description.contains("--adopt a"))
        let adopted = Planner.plan(desired: desired([resolved("a")]), observed: obs, options: PlanOptions(adopt: ["a"]))
        #expect(adopted.actions.first == .adoptRepository(repository: "mir/a", image: "a", deletionPolicy: .delete))
    }

    @Test func deletionNeedsOwnershipDeletePolicyCompleteSpecsAndListing() {
        let repos = [
            "mir/gone": observedRepo("mir/gone", tags: ownedTags("gone", .delete)),
            "mir/kept": observedRepo("mir/kept", tags: ownedTags("kept", .retain)),
            "mir/theirs": observedRepo("mir/theirs", tags: [ResourceTagFixture.team]),
            "mir/unknown": observedRepo("mir/unknown", tags: nil),
        ]
        let allowEmpty = PlanOptions(allowEmpty: true)
        let plan = Planner.plan(desired: desired([]), observed: ObservedState(repositories: repos), options: allowEmpty)
        #expect(plan.actions == [.deleteRepository(repository: "mir/gone", force: false)])
        #expect(plan.warnings.contains(.ownershipUnreadable(repository: "mir/unknown")))
        let incomplete = Planner.plan(desired: desired([], complete: false), observed: ObservedState(repositories: repos), options: allowEmpty)
        #expect(incomplete.count(.delete) == 0)
        #expect(incomplete.warnings.contains(.incompleteDesiredState))
        let unlisted = Planner.plan(desired: desired([]), observed: ObservedState(repositories: repos, repositoriesListed: false), options: allowEmpty)
        #expect(unlisted.count(.delete) == 0)
    }

    @Test func deletionCapHoldsBackTheRest() {
        var repos: [String: ObservedRepository] = [:]
        for i in 0..<8 { repos["mir/r\(i)"] = observedRepo("mir/r\(i)", tags: ownedTags("r\(i)")) }
        let plan = Planner.plan(desired: desired([]), observed: ObservedState(repositories: repos),
                                options: PlanOptions(maxDeletions: 3, allowEmpty: true, maxDeletionFraction: 1))
        #expect(plan.count(.delete) == 3)
        #expect(plan.warnings.contains { $0.description.contains("5 deletion(s) held back") })
    }

    // MARK: properties

    /// One generated repository: name index, under the prefix?, ownership (0 none, 1 owned, 2 unreadable),
    /// Delete policy?, has a spec?
    static let repoCase = zip(Gen.int(in: 0...12), Gen.bool, Gen.int(in: 0...2), Gen.bool, Gen.bool)

    static func scenario(_ cases: [(Int, Bool, Int, Bool, Bool)], complete: Bool) -> (DesiredState, ObservedState) {
        var repos: [String: ObservedRepository] = [:]
        var images: [String: ResolvedImage] = [:]
        for (i, underPrefix, ownership, deletePolicy, hasSpec) in cases {
            let name = "img\(i)"
            let repoName = (underPrefix ? prefix : "other/") + name
            let tags: [ResourceTag]? = ownership == 0 ? [ResourceTagFixture.team] : ownership == 1 ? ownedTags(name, deletePolicy ? .delete : .retain) : nil
            repos[repoName] = observedRepo(repoName, tags: tags)
            if hasSpec { images[name] = resolved(name, deletionPolicy: deletePolicy ? .delete : .retain) }
        }
        let d = desired(images.keys.sorted().map { images[$0]! }, complete: complete)
        return (d, ObservedState(repositories: repos.filter { $0.key.hasPrefix(prefix) }.merging(repos.filter { !$0.key.hasPrefix(prefix) }) { a, _ in a }))
    }

    @Test func nothingOutsideThePrefixIsEverActedOn() async {
        await propertyCheck(count: 300, input: Self.repoCase.array(of: 0...14), Gen.bool, Gen.int(in: 0...6)) { cases, complete, cap in
            let (d, o) = Self.scenario(cases, complete: complete)
            let plan = Planner.plan(desired: d, observed: o, options: PlanOptions(maxDeletions: cap))
            for action in plan.actions {
                if let repo = action.repository { #expect(repo.hasPrefix(prefix), "\(action)") }
            }
        }
    }

    @Test func deletionsOnlyOfOwnedDeletePolicyReposWithoutSpecs() async {
        await propertyCheck(count: 300, input: Self.repoCase.array(of: 0...14), Gen.bool, Gen.int(in: 0...6)) { cases, complete, cap in
            let (d, o) = Self.scenario(cases, complete: complete)
            let plan = Planner.plan(desired: d, observed: o, options: PlanOptions(maxDeletions: cap, allowEmpty: true, maxDeletionFraction: 1))
            let deleted = plan.actions.compactMap { if case .deleteRepository(let r, _) = $0 { return r }; return nil }
            #expect(deleted.count <= cap)
            if !complete { #expect(deleted.isEmpty) }
            for r in deleted {
                let repo = o.repositories[r]!
                #expect(repo.isOwned == true)
                #expect(repo.recordedDeletionPolicy == .delete)
                #expect(!d.images.contains { $0.repositoryName == r })
            }
        }
    }

    @Test func unownedRepositoriesAreNeverTouchedWithoutAdoption() async {
        await propertyCheck(count: 300, input: Self.repoCase.array(of: 0...14)) { cases in
            let (d, o) = Self.scenario(cases, complete: true)
            let plan = Planner.plan(desired: d, observed: o)
            for action in plan.actions {
                guard let r = action.repository, let repo = o.repositories[r] else { continue }
                #expect(repo.isOwned != false, "acted on un-owned \(r): \(action)")
            }
        }
    }
}

enum ResourceTagFixture {
    static let team = MirRegistry.ResourceTag(key: "team", value: "data")
}

