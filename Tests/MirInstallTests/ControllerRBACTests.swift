import Foundation
import KubeLocal
import KubeRBAC
import MirBuild
import MirLocalRegistry
import MirModel
import MirTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Least privilege, proven by running the controller: `mir run` (the real binary, with the config the chart renders)
/// against mir's local control plane (its job runner is a SIMULATION running the `simulate` builder on the embedded
/// registry both share), driven with the real kubectl through creation, a spec change during a build, a manual
/// rebuild, a deletion and a graceful stop. Every request the controller made — verb, API group, resource,
/// subresource, namespace, name, as the control plane recorded them — is then evaluated against the chart's and the
/// Manifests' roles the way Kubernetes RBAC does: each one must be allowed, and each thing the roles grant must
/// have been used.
@Suite(.serialized) struct ControllerRBACTests {
    static let controller = UserInfo.serviceAccount("mir-controller", namespace: "mir-system")

    /// What the controller did, as RBAC sees it.
    struct Recorded {
        var requests: [ResourceRequest]
        /// Checks the API server makes on the controller's behalf (not requests): OwnerReferencesPermissionEnforcement
        /// requires `update` on `<owner>/finalizers` to set `blockOwnerDeletion` on an owner reference.
        var admissionChecks: [ResourceRequest]
        var all: [ResourceRequest] { requests + admissionChecks }
    }

    /// Runs the scenario once per test process; both tests below evaluate the same recording.
    static let recording = Task<Result<Recorded, any Error>, Never> {
        do { return .success(try await record()) } catch { return .failure(error) }
    }

    static func recorded() async throws -> Recorded { try await recording.value.get() }

    static func record() async throws -> Recorded {
        guard Kubectl.executable != nil else { throw Install.Failure("kubectl is not installed; run scripts/setup") }
        let directory = try Install.temporaryDirectory("rbac")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The controller's config is the one the chart renders (two builds at once, so some wait their turn).
        let rendered = try await Install.render(["config": ["maxConcurrentBuilds": 2]])
        let configText = try #require((rendered.find("ConfigMap", "mir-config")?["data"] as? [String: String])?["mir.yaml"])
        try configText.write(to: directory.appendingPathComponent("mir.yaml"), atomically: true, encoding: .utf8)

        let registryDirectory = directory.appendingPathComponent("registry").path
        let simulate = SimulateBuilder(registry: try LocalRegistry(directory: registryDirectory),
                                       records: FileBuildRecordStore(directory: directory.appendingPathComponent("simulated-builds").path),
                                       settings: BuilderSettings(simulateDelaySeconds: 1.5))
        let kubeconfig = directory.appendingPathComponent("kubeconfig")
        let plane = try await LocalControlPlane().start(ControlPlaneConfiguration(
            stateDirectory: directory.appendingPathComponent("dev"), builder: JobSimulation(simulate), kubeconfigPath: kubeconfig))
        do {
            let result = try await scenario(plane: plane, directory: directory, kubeconfig: kubeconfig, registry: registryDirectory)
            await plane.shutdown()
            return result
        } catch {
            await plane.shutdown()
            throw error
        }
    }

    static func scenario(plane: RunningControlPlane, directory: URL, kubeconfig: URL, registry: String) async throws -> Recorded {
        try await plane.apply(yaml: String(contentsOf: Install.packageRoot.appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml"), encoding: .utf8))
        _ = try await plane.apply(yaml: """
            apiVersion: v1
            kind: Namespace
            metadata: {name: mir-system}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: mir-builds}
            """)
        let kubectl = Kubectl(kubeconfig: kubeconfig, home: directory)
        let environment = ProcessInfo.processInfo.environment.merging(["MIR_EXIT_WITH_PARENT": "1", "POD_NAMESPACE": "mir-system"]) { $1 }
        // The chart's arguments, with loopback telemetry and the embedded registry instead of ECR.
        let run = try BackgroundProcess(Install.mirBinary, [
            "run", "--source", "cluster", "--kubeconfig", kubeconfig.path, "--config", directory.appendingPathComponent("mir.yaml").path,
            "--registry", "local:" + registry, "--leader-elect", "--lease-name", "mir-controller", "--lease-namespace", "mir-system",
            "--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s",
            "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
        ], in: directory, environment: environment, outputDirectory: directory)
        func fail(_ what: String) -> Install.Failure {
            Install.Failure("\(what)\n--- mir run:\n\(run.stdout)\(String(run.stderr.suffix(4000)))")
        }
        do {
            let specs = Install.packageRoot.appendingPathComponent("Examples/specs").path
            let applied = try await kubectl.run("apply", "-f", specs)
            guard applied.status == 0 else { throw fail("kubectl apply: \(applied.output)") }
            try await waitReady(kubectl, fail)
            // Build Jobs and context ConfigMaps carry owner references with blockOwnerDeletion to their image.
            let owned = try await kubectl.run("get", "jobs,configmaps", "-n", "mir-builds", "-o", "json")
            let admission = try ownerReferenceChecks(owned.stdout)
            guard !admission.isEmpty else { throw fail("no build Job had an owner reference: \(owned.output)") }

            // A spec change while the new build runs, changed again: the running Job of the superseded tag is deleted.
            for (index, version) in ["==1.26.4", "==1.26.3"].enumerated() {
                let patch = #"{"spec":{"pipRequirements":[{"name":"numpy","versionSpecifier":"\#(version)"},{"name":"pandas","versionSpecifier":"~=2.2"},{"name":"scikit-learn","versionSpecifier":"==1.5.2"}]}}"#
                let patched = try await kubectl.run("patch", "mi", "ml-base", "--type", "merge", "-p", patch)
                guard patched.status == 0 else { throw fail("kubectl patch: \(patched.output)") }
                if index == 0 { try await Task.sleep(for: .milliseconds(700)) }
            }
            try await waitReady(kubectl, fail)
            // A manual rebuild of an image that is Ready: the finished Job of its tag makes way for a new one of the
            // same name. A finalizer (as a Job's pods' tracking finalizers or a foreground deletion would) holds the
            // old Job while it is being deleted, so the new one's create meets it (AlreadyExists) and the controller
            // reads it; once released, the rebuild runs.
            let geoJob = try await kubectl.run("get", "jobs", "-n", "mir-builds", "-l", "mir.dev/image=geo", "-o", "name")
            let jobName = geoJob.stdout.split(separator: "\n").first.map(String.init) ?? ""
            guard geoJob.status == 0, !jobName.isEmpty else { throw fail("no build Job for geo: \(geoJob.output)") }
            let held = try await kubectl.run("patch", "-n", "mir-builds", jobName, "--type", "merge", "-p", #"{"metadata":{"finalizers":["test.mir.dev/hold"]}}"#)
            guard held.status == 0 else { throw fail("kubectl patch finalizer: \(held.output)") }
            let annotated = try await kubectl.run("annotate", "mi", "geo", "mir.dev/rebuild=rbac-test-1", "--overwrite")
            guard annotated.status == 0 else { throw fail("kubectl annotate: \(annotated.output)") }
            let deadline = ContinuousClock.now + .seconds(60)
            while !plane.requests.requests.contains(where: { $0.userAgent.hasPrefix("mir/") && $0.verb == "get" && $0.resource == "jobs" }),
                  ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            let released = try await kubectl.run("patch", "-n", "mir-builds", jobName, "--type", "json", "-p", #"[{"op":"remove","path":"/metadata/finalizers"}]"#)
            guard released.status == 0 else { throw fail("kubectl patch: \(released.output)") }
            try await waitForRebuild(kubectl, image: "geo", token: "rbac-test-1", fail)
            try await waitReady(kubectl, fail)
            // A deletion: the finalizer deletes the repository, then lets go.
            let deleted = try await kubectl.run("delete", "mi", "nlp", "--timeout=120s")
            guard deleted.status == 0 else { throw fail("kubectl delete: \(deleted.output)") }
            // A graceful stop releases the lease.
            run.send(SIGTERM)
            let exit = await run.finish(timeout: .seconds(30))
            guard exit.status == 0, !exit.bySignal else { throw fail("mir run did not stop gracefully: \(exit.status)") }
            let requests = plane.requests.requests.filter { $0.userAgent.hasPrefix("mir/") }.map(\.attributes)
            return Recorded(requests: requests, admissionChecks: admission)
        } catch {
            run.send(SIGKILL)
            throw error
        }
    }

    static func waitReady(_ kubectl: Kubectl, _ fail: (String) -> Install.Failure) async throws {
        let waited = try await kubectl.run("wait", "--for=condition=Ready", "mi", "--all", "--timeout=180s")
        guard waited.status == 0 else { throw fail("kubectl wait: \(waited.output)") }
    }

    /// Waits until the image's latest build is the rebuild `token` asked for, finished.
    static func waitForRebuild(_ kubectl: Kubectl, image: String, token: String, _ fail: (String) -> Install.Failure) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        var last = ""
        while ContinuousClock.now < deadline {
            let build = try await kubectl.run("get", "mi", image, "-o", "jsonpath={.status.build.message}")
            last = build.output
            if last.contains("[rebuild \(token)]") && last.contains("build succeeded") { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw fail("the rebuild of \(image) never finished: \(last)")
    }

    /// For each object holding an owner reference with blockOwnerDeletion, the check the API server makes.
    static func ownerReferenceChecks(_ listJSON: String) throws -> [ResourceRequest] {
        let list = try #require(try JSONSerialization.jsonObject(with: Data(listJSON.utf8)) as? [String: Any])
        return (list["items"] as? [[String: Any]] ?? []).flatMap { item in
            ((item["metadata"] as? [String: Any])?["ownerReferences"] as? [[String: Any]] ?? []).compactMap { reference in
                guard reference["blockOwnerDeletion"] as? Bool == true, reference["kind"] as? String == "ManagedImage",
                      (reference["apiVersion"] as? String)?.hasPrefix("mir.dev/") == true else { return nil }
                return ResourceRequest(verb: "update", apiGroup: "mir.dev", resource: "managedimages", subresource: "finalizers",
                                       name: reference["name"] as? String)
            }
        }
    }

    static func policies() async throws -> [(String, RBACPolicy)] {
        let chart = try await Install.render()
        return [("Charts/mir", try RBACPolicy(objects: chart.objects)), ("Manifests", try RBACPolicy(objects: try await Install.kustomize()))]
    }

    @Test(.timeLimit(.minutes(8)))
    func everyRequestTheControllerMakesIsAllowed() async throws {
        let recorded = try await Self.recorded()
        // The scenario did what it set out to do (else the evaluation below proves little).
        let verbs = Set(recorded.requests.map { "\($0.verb) \($0.resource)\($0.subresource.map { "/" + $0 } ?? "")" })
        for expected in ["list managedimages", "watch managedimages", "create jobs", "delete jobs", "get jobs", "create configmaps",
                         "delete configmaps", "create leases", "update leases", "create events", "patch events"] {
            #expect(verbs.contains(expected), "the scenario never made \(expected): \(verbs.sorted())")
        }
        // `mir run --registry local:…` asks whether the cluster is a `mir dev` sharing another registry (ConfigMap
        // default/mir-dev); the probe takes Forbidden for "not mir dev", and with ECR it is not made at all. No role
        // grants it, on purpose.
        let devProbe = ResourceRequest(verb: "get", apiGroup: "", resource: "configmaps", namespace: "default", name: "mir-dev")
        #expect(recorded.all.contains(devProbe), "the scenario runs mir run with the embedded registry, which probes for mir dev")
        let requests = recorded.all.filter { $0 != devProbe }
        for (source, policy) in try await Self.policies() {
            #expect(policy.danglingBindings.isEmpty, "\(source): \(policy.danglingBindings)")
            let denied = policy.denied(Self.controller, requests)
            #expect(denied.isEmpty, "\(source) denies what the controller does:\n\(denied.map(\.description).sorted().joined(separator: "\n"))")
            // And nothing at all for a stranger: the grants are bound to the controller's ServiceAccount only.
            #expect(policy.denied(UserInfo.serviceAccount("default", namespace: "mir-system"), requests).count == requests.count)
        }
    }

    @Test(.timeLimit(.minutes(8)))
    func everyRuleTheRolesGrantIsUsed() async throws {
        let recorded = try await Self.recorded()
        for (source, policy) in try await Self.policies() {
            let unused = policy.unusedGrants(to: Self.controller, requests: recorded.all)
            #expect(unused.isEmpty, "\(source) grants what the controller never used:\n\(unused.map(\.description).joined(separator: "\n"))\nused:\n\(Set(recorded.all.map(\.description)).sorted().joined(separator: "\n"))")
            let grants = policy.grants(to: Self.controller)
            #expect(!grants.isEmpty)
            #expect(grants.allSatisfy { $0.verb != "*" && $0.resource != "*" && $0.apiGroup != "*" }, "no wildcards")
        }
    }

    /// Kubernetes' default user-facing ClusterRoles, with their real aggregation rules and labels (view aggregates
    /// into edit, edit into admin).
    static var builtinUserRoles: [[String: Any]] { [
        ["kind": "ClusterRole", "metadata": ["name": "view", "labels": ["rbac.authorization.k8s.io/aggregate-to-edit": "true"]],
         "aggregationRule": ["clusterRoleSelectors": [["matchLabels": ["rbac.authorization.k8s.io/aggregate-to-view": "true"]]]]],
        ["kind": "ClusterRole", "metadata": ["name": "edit", "labels": ["rbac.authorization.k8s.io/aggregate-to-admin": "true"]],
         "aggregationRule": ["clusterRoleSelectors": [["matchLabels": ["rbac.authorization.k8s.io/aggregate-to-edit": "true"]]]]],
        ["kind": "ClusterRole", "metadata": ["name": "admin"],
         "aggregationRule": ["clusterRoleSelectors": [["matchLabels": ["rbac.authorization.k8s.io/aggregate-to-admin": "true"]]]]],
    ] }

    static func userBinding(_ user: String, to role: String) -> [String: Any] {
        ["kind": "ClusterRoleBinding", "metadata": ["name": "\(user)-\(role)"],
         "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role],
         "subjects": [["kind": "User", "name": user]]]
    }

    @Test("user roles: editors create and patch but cannot delete ManagedImages, admins can, viewers only read")
    func userRoles() async throws {
        let bindings = [Self.userBinding("ed", to: "edit"), Self.userBinding("ad", to: "admin"), Self.userBinding("vi", to: "view"),
                        Self.userBinding("direct-editor", to: "mir-editor"), Self.userBinding("direct-admin", to: "mir-admin")]
        for objects in [try await Install.render().objects, try await Install.kustomize()] {
            let policy = try RBACPolicy(objects: objects + Self.builtinUserRoles + bindings)
            func can(_ user: String, _ verb: String, _ subresource: String? = nil) -> Bool {
                policy.allows(UserInfo(name: user), ResourceRequest(verb: verb, apiGroup: "mir.dev", resource: "managedimages",
                                                                     subresource: subresource, name: ["create", "list", "watch", "deletecollection"].contains(verb) ? nil : "ml-base"))
            }
            for editor in ["ed", "direct-editor"] {
                for verb in ["get", "list", "watch", "create", "update", "patch"] { #expect(can(editor, verb), "\(editor) \(verb)") }
                for verb in ["delete", "deletecollection"] { #expect(!can(editor, verb), "\(editor) must not \(verb)") }
                #expect(!can(editor, "update", "status") && !can(editor, "patch", "status"))
            }
            for admin in ["ad", "direct-admin"] {
                for verb in ["get", "list", "create", "patch", "delete", "deletecollection"] { #expect(can(admin, verb), "\(admin) \(verb)") }
                #expect(!can(admin, "update", "status"), "users never write status")
            }
            for verb in ["get", "list", "watch"] { #expect(can("vi", verb)) }
            for verb in ["create", "update", "patch", "delete"] { #expect(!can("vi", verb), "view must not \(verb)") }
            #expect(can("vi", "get", "status"))
            #expect(!can("nobody", "get"))
        }
    }
}
