import Foundation
import KubeLocal
import MirBuild
import MirModel
import Testing

@Suite struct WatchTests {
    @Test func watchFromZeroSendsSyntheticAddedThenChanges() async throws {
        try await withCluster { c in
            try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: managedImage("w1"))
            let events = try await c.watch("/apis/mir.dev/v1alpha1/managedimages?watch=true&resourceVersion=0", count: 3) {
                try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/w1", json: ["metadata": ["labels": ["x": "y"]]],
                                 contentType: "application/merge-patch+json")
                try await c.call(.DELETE, "/apis/mir.dev/v1alpha1/managedimages/w1")
            }
            #expect(events.map { $0["type"] as? String } == ["ADDED", "MODIFIED", "DELETED"])
            #expect(events.last?.at("object", "kind") as? String == "ManagedImage")
            let rvs = events.compactMap { ($0.at("object", "metadata", "resourceVersion") as? String).flatMap(Int.init) }
            #expect(rvs == rvs.sorted() && Set(rvs).count == 3, "each event carries a newer resourceVersion")
        }
    }

    @Test func watchFromAResourceVersionReplaysOnlyLaterChanges() async throws {
        try await withCluster { c in
            let first = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: managedImage("r1")).json
            let rv = first.at("metadata", "resourceVersion") as? String ?? ""
            try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: managedImage("r2"))
            let events = try await c.watch("/apis/mir.dev/v1alpha1/managedimages?watch=1&resourceVersion=\(rv)", count: 1, timeout: .seconds(3))
            #expect(events.count == 1)
            #expect(events.first?.at("object", "metadata", "name") as? String == "r2")
        }
    }

    @Test func tooOldResourceVersionGetsExpiredErrorEvent() async throws {
        try await withCluster(historyLimit: 3, crd: false) { c in
            for i in 0..<6 {
                try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "c\(i)"]])
            }
            let events = try await c.watch("/api/v1/configmaps?watch=true&resourceVersion=1", count: 1, timeout: .seconds(3))
            #expect(events.first?["type"] as? String == "ERROR")
            #expect(events.first?.at("object", "code") as? Int == 410)
            #expect(events.first?.at("object", "reason") as? String == "Expired")
            let message = events.first?.at("object", "message") as? String
            #expect(message?.hasPrefix("too old resource version: 1 (") == true)
        }
    }

    @Test func bookmarksAndSelectorTransitions() async throws {
        try await withCluster(crd: false) { c in
            let list = try await c.call(.GET, "/api/v1/namespaces/default/configmaps").json
            let rv = list.at("metadata", "resourceVersion") as? String ?? "0"
            let events = try await c.watch(
                "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=\(rv)&labelSelector=app%3Dx",
                count: 6, timeout: .seconds(10)) {
                try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "sel", "labels": ["app": "x"]]])
                try await c.call(.PATCH, "/api/v1/namespaces/default/configmaps/sel", json: ["metadata": ["labels": ["app": "y"]]],
                                 contentType: "application/merge-patch+json")
            }
            let types = events.map { $0["type"] as? String ?? "" }
            // Bookmarks come every 300 ms and may fall between the two changes on a loaded machine.
            #expect(types.filter { $0 != "BOOKMARK" }.prefix(2) == ["ADDED", "DELETED"], "leaving the selector is seen as DELETED: \(types)")
            #expect(types.contains("BOOKMARK"))
        }
    }
}

@Suite struct LifecycleTests {
    @Test func finalizersHoldDeletionUntilRemoved() async throws {
        try await withCluster { c in
            var object = managedImage("fin")
            object["metadata"] = ["name": "fin", "finalizers": ["mir.dev/cleanup"]]
            try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: object)
            let deleting = try await c.call(.DELETE, "/apis/mir.dev/v1alpha1/managedimages/fin", json: ["propagationPolicy": "Background"])
            #expect(deleting.status == 200)
            #expect(deleting.json.at("metadata", "deletionTimestamp") != nil)
            #expect(deleting.json.at("metadata", "generation") as? Int == 2)
            let addMore = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/fin",
                                           json: ["metadata": ["finalizers": ["mir.dev/cleanup", "other"]]], contentType: "application/merge-patch+json")
            #expect(addMore.status == 422)
            #expect((addMore.json["message"] as? String ?? "").contains("no new finalizers can be added if the object is being deleted"))
            let still = try await c.call(.GET, "/apis/mir.dev/v1alpha1/managedimages/fin")
            #expect(still.status == 200)
            try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/fin", json: ["metadata": ["finalizers": NSNull()]],
                             contentType: "application/merge-patch+json")
            #expect(try await c.call(.GET, "/apis/mir.dev/v1alpha1/managedimages/fin").status == 404)
        }
    }

    private func ownedConfigMap(_ name: String, owner: [String: Any]) -> [String: Any] {
        ["metadata": ["name": name, "ownerReferences": [[
            "apiVersion": "v1", "kind": "ConfigMap", "name": owner.at("metadata", "name")!, "uid": owner.at("metadata", "uid")!,
            "blockOwnerDeletion": true, "controller": true,
        ]]]]
    }

    @Test func backgroundAndForegroundGarbageCollection() async throws {
        try await withCluster(crd: false) { c in
            let owner = try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "owner"]]).json
            try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: ownedConfigMap("dep", owner: owner))
            try await c.call(.DELETE, "/api/v1/namespaces/default/configmaps/owner", json: ["propagationPolicy": "Background"])
            #expect(try await c.call(.GET, "/api/v1/namespaces/default/configmaps/dep").status == 404)

            let owner2 = try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "owner2"]]).json
            var held = ownedConfigMap("held", owner: owner2)
            var meta = held["metadata"] as! [String: Any]
            meta["finalizers"] = ["test/hold"]
            held["metadata"] = meta
            try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: held)
            let fg = try await c.call(.DELETE, "/api/v1/namespaces/default/configmaps/owner2", json: ["propagationPolicy": "Foreground"])
            #expect((fg.json.at("metadata", "finalizers") as? [String])?.contains("foregroundDeletion") == true)
            #expect(try await c.call(.GET, "/api/v1/namespaces/default/configmaps/owner2").status == 200, "owner waits for its dependent")
            try await c.call(.PATCH, "/api/v1/namespaces/default/configmaps/held", json: ["metadata": ["finalizers": NSNull()]],
                             contentType: "application/merge-patch+json")
            #expect(try await c.call(.GET, "/api/v1/namespaces/default/configmaps/held").status == 404)
            #expect(try await c.call(.GET, "/api/v1/namespaces/default/configmaps/owner2").status == 404)

            let owner3 = try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "owner3"]]).json
            try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: ownedConfigMap("kept", owner: owner3))
            try await c.call(.DELETE, "/api/v1/namespaces/default/configmaps/owner3", json: ["propagationPolicy": "Orphan"])
            let kept = try await c.call(.GET, "/api/v1/namespaces/default/configmaps/kept")
            #expect(kept.status == 200)
            #expect(kept.json.at("metadata", "ownerReferences") == nil)
        }
    }

    @Test func snapshotSurvivesRestart() async throws {
        let dir = try temporaryDirectory("snapshot")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try await TestCluster(stateDirectory: dir)
        try await first.installCRD()
        try await first.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: managedImage("persisted"))
        await first.stop()
        let second = try await TestCluster(stateDirectory: dir)
        let got = try await second.call(.GET, "/apis/mir.dev/v1alpha1/managedimages/persisted")
        let token = second.running.token
        await second.stop()
        #expect(got.status == 200, "the CRD and its objects come back from the snapshot")
        #expect(token == first.running.token, "the token is reused")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("ca.crt").path))
    }
}

@Suite struct JobRunnerTests {
    private func job(_ name: String, backoffLimit: Int = 0, deadline: Int? = nil, ttl: Int? = nil,
                     initContainers: [String] = [], containers: [String] = ["build"]) -> [String: Any] {
        var podSpec: [String: Any] = ["restartPolicy": "Never", "containers": containers.map { ["name": $0, "image": "\($0):1"] }]
        if !initContainers.isEmpty { podSpec["initContainers"] = initContainers.map { ["name": $0, "image": "\($0):1"] } }
        var spec: [String: Any] = ["backoffLimit": backoffLimit, "template": ["spec": podSpec]]
        if let deadline { spec["activeDeadlineSeconds"] = deadline }
        if let ttl { spec["ttlSecondsAfterFinished"] = ttl }
        return ["apiVersion": "batch/v1", "kind": "Job",
                "metadata": ["name": name, "annotations": ["mir.dev/image": "web", "mir.dev/tag": "t1", "mir.dev/build-reason": "new"]],
                "spec": spec]
    }

    private func waitForCondition(_ c: TestCluster, _ name: String, _ type: String) async throws -> [String: Any] {
        for _ in 0..<100 {
            let j = try await c.call(.GET, "/apis/batch/v1/namespaces/default/jobs/\(name)").json
            let conditions = j.at("status", "conditions") as? [[String: Any]] ?? []
            if conditions.contains(where: { $0["type"] as? String == type }) { return j }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("job \(name) never got condition \(type)")
        return [:]
    }

    @Test func successfulJobCompletesAndRecordsTheBuild() async throws {
        let builder = FakeBuilder()
        try await withCluster(builder: builder, crd: false) { c in
            try await c.call(.POST, "/apis/batch/v1/namespaces/default/jobs", json: job("ok"))
            let j = try await waitForCondition(c, "ok", "Complete")
            let types = (j.at("status", "conditions") as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
            #expect(types == ["SuccessCriteriaMet", "Complete"])
            #expect(j.at("status", "succeeded") as? Int == 1)
            let pods = try await c.call(.GET, "/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3Dok").json
            let pod = (pods["items"] as? [[String: Any]])?.first ?? [:]
            #expect(pod.at("status", "phase") as? String == "Succeeded")
            #expect(pod.at("metadata", "labels", "mir.dev/simulated") as? String == "true")
            let terminated = pod.at("status", "containerStatuses", "0", "state", "terminated") as? [String: Any] ?? [:]
            #expect(terminated["exitCode"] as? Int == 0)
            #expect(terminated["reason"] as? String == "Completed")
            // The build report as a real report container writes it (issue 8: never cut silently at 4096 bytes).
            let report = try BuildReport.decode(terminationMessage: terminated["message"] as? String ?? "")
            #expect(report.libraries == [PipLibrary(name: "requests", version: "2.32.3")] && !report.truncated)
            let requests = await builder.log.requests
            #expect(requests.map(\.image.name) == ["web"])
            #expect(requests.first?.reason == .new)
        }
    }

    @Test func failingJobRetriesUpToBackoffLimit() async throws {
        try await withCluster(builder: FakeBuilder(fail: true), crd: false) { c in
            try await c.call(.POST, "/apis/batch/v1/namespaces/default/jobs", json: job("bad", backoffLimit: 1))
            let j = try await waitForCondition(c, "bad", "Failed")
            let conditions = j.at("status", "conditions") as? [[String: Any]] ?? []
            #expect(conditions.compactMap { $0["type"] as? String } == ["FailureTarget", "Failed"])
            #expect(conditions.last?["reason"] as? String == "BackoffLimitExceeded")
            #expect(j.at("status", "failed") as? Int == 2)
            let pods = try await c.call(.GET, "/api/v1/namespaces/default/pods?labelSelector=job-name%3Dbad").json
            let items = pods["items"] as? [[String: Any]] ?? []
            #expect(items.count == 2)
            #expect(items.allSatisfy { $0.at("status", "containerStatuses", "0", "state", "terminated", "exitCode") as? Int == 1 })
        }
    }

    @Test func aBuilderThrowingAContainerTerminationEndsThePodWithThatState() async throws {
        let oom = SimulatedContainerTermination(container: "kaniko", reason: "OOMKilled", exitCode: 137)
        try await withCluster(builder: FakeBuilder(termination: oom), crd: false) { c in
            try await c.call(.POST, "/apis/batch/v1/namespaces/default/jobs",
                             json: job("oom", initContainers: ["setup", "kaniko"], containers: ["report"]))
            let j = try await waitForCondition(c, "oom", "Failed")
            #expect((j.at("status", "conditions") as? [[String: Any]])?.last?["reason"] as? String == "BackoffLimitExceeded")
            let pods = try await c.call(.GET, "/api/v1/namespaces/default/pods?labelSelector=job-name%3Doom").json
            let pod = (pods["items"] as? [[String: Any]])?.first ?? [:]
            #expect(pod.at("status", "phase") as? String == "Failed")
            #expect(pod.at("status", "initContainerStatuses", "0", "name") as? String == "setup")
            #expect(pod.at("status", "initContainerStatuses", "0", "state", "terminated", "exitCode") as? Int == 0)
            let kaniko = pod.at("status", "initContainerStatuses", "1") as? [String: Any] ?? [:]
            #expect(kaniko["name"] as? String == "kaniko")
            #expect(kaniko.at("state", "terminated", "reason") as? String == "OOMKilled")
            #expect(kaniko.at("state", "terminated", "exitCode") as? Int == 137)
            #expect(pod.at("status", "containerStatuses", "0", "name") as? String == "report")
            #expect(pod.at("status", "containerStatuses", "0", "state", "waiting", "reason") as? String == "PodInitializing")
        }
    }

    @Test func deadlineExceededAndTTLAndCascadingDelete() async throws {
        try await withCluster(builder: FakeBuilder(delay: .seconds(30)), crd: false) { c in
            try await c.call(.POST, "/apis/batch/v1/namespaces/default/jobs", json: job("slow", deadline: 1, ttl: 1))
            let j = try await waitForCondition(c, "slow", "Failed")
            #expect((j.at("status", "conditions") as? [[String: Any]])?.last?["reason"] as? String == "DeadlineExceeded")
            var gone = false
            for _ in 0..<60 where !gone {
                gone = try await c.call(.GET, "/apis/batch/v1/namespaces/default/jobs/slow").status == 404
                if !gone { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(gone, "ttlSecondsAfterFinished deletes the job")
            let pods = try await c.call(.GET, "/api/v1/namespaces/default/pods").json
            #expect((pods["items"] as? [Any])?.isEmpty == true, "its pods are garbage-collected")
        }
    }
}
