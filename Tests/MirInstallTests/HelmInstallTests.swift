import Foundation
import KubeLocal
import KubeRBAC
import MirTestSupport
import Testing

/// The chart installed into `mir dev` with Helm's own engine (helm-python-sdk: install → upgrade → rollback →
/// uninstall), `kubectl auth can-i` for the chart's user roles, and `kubectl apply -k / delete -k Manifests`.
@Suite(.serialized) struct HelmInstallTests {
    static let releaseOracle = Install.packageRoot.appendingPathComponent("Tests/Oracles/helm_release.py")

    /// Runs `helm_release.py action …` against `kubeconfig`; a failed Helm action is a test failure with Helm's message.
    static func helm(_ action: String, kubeconfig: URL, values: [String: Any]? = nil, revision: Int? = nil,
                     createNamespace: Bool = false) async throws -> [String: Any] {
        var arguments = [releaseOracle.path, action, "--kubeconfig", kubeconfig.path, "--name", "mir", "--namespace", "mir-system"]
        if action == "install" || action == "upgrade" { arguments += ["--chart", Install.chart.path] }
        if let values { arguments += ["--values", String(decoding: try JSONSerialization.data(withJSONObject: values), as: UTF8.self)] }
        if let revision { arguments += ["--revision", String(revision)] }
        if createNamespace { arguments.append("--create-namespace") }
        let result = try await ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + arguments)
        guard result.status == 0 else { throw Install.Failure("helm_release.py \(action) failed (run scripts/setup?): \(result.stderr)") }
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        guard answer["ok"] as? Bool == true else {
            throw Install.Failure("helm \(action): \(answer["errorType"] ?? "") \(answer["error"] ?? "")")
        }
        return answer
    }

    struct Cluster {
        var kubectl: Kubectl
        var kubeconfig: URL
        var directory: URL

        func json(_ arguments: String...) async throws -> [String: Any] {
            let result = try await ProcessRunner.run(URL(fileURLWithPath: Kubectl.executable ?? "/usr/bin/kubectl"),
                                                     ["--kubeconfig", kubeconfig.path] + arguments + ["-o", "json"],
                                                     environment: ["HOME": directory.path, "KUBECACHEDIR": directory.appendingPathComponent("cache").path,
                                                                   "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"])
            guard result.status == 0 else { throw Install.Failure("kubectl get \(arguments.joined(separator: " ")): \(result.stderr)") }
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }

        /// Whether `kubectl get resource name [-n namespace]` finds the object (NotFound: false; other errors throw).
        func exists(_ resource: String, _ name: String, namespace: String? = nil) async throws -> Bool {
            let result = try await ProcessRunner.run(URL(fileURLWithPath: Kubectl.executable ?? "/usr/bin/kubectl"),
                                                     ["--kubeconfig", kubeconfig.path, "get", resource, name, "-o", "name"]
                                                        + (namespace.map { ["-n", $0] } ?? []),
                                                     environment: ["HOME": directory.path, "KUBECACHEDIR": directory.appendingPathComponent("cache").path,
                                                                   "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"])
            if result.status == 0 { return !result.stdout.isEmpty }
            guard result.stderr.contains("NotFound") || result.stderr.contains("not found") else {
                throw Install.Failure("kubectl get \(resource) \(name): \(result.stderr)")
            }
            return false
        }
    }

    /// A fresh local control plane (no CRD installed: the chart brings it), with two more tokens for `can-i`.
    static func withCluster(users: [String: UserInfo] = [:], _ body: (Cluster) async throws -> Void) async throws {
        guard Kubectl.executable != nil else { throw Install.Failure("kubectl is not installed; run scripts/setup") }
        let directory = try Install.temporaryDirectory("helm")
        defer { try? FileManager.default.removeItem(at: directory) }
        let kubeconfig = directory.appendingPathComponent("kubeconfig")
        var configuration = ControlPlaneConfiguration(stateDirectory: directory.appendingPathComponent("dev"), kubeconfigPath: kubeconfig)
        configuration.users = users
        let plane = try await LocalControlPlane().start(configuration)
        do {
            try await body(Cluster(kubectl: Kubectl(kubeconfig: kubeconfig, home: directory), kubeconfig: kubeconfig, directory: directory))
        } catch {
            await plane.shutdown()
            throw error
        }
        await plane.shutdown()
    }

    static let roleARN = "arn:aws:iam::123456789012:role/mir-controller"

    /// The values of the install: IRSA, a config of our own. A fresh `mir dev` already has the build namespace, so
    /// the chart does not create it (Helm refuses to adopt an object another manager created).
    static func values(maxConcurrentBuilds: Int) -> [String: Any] {
        ["serviceAccount": ["annotations": ["eks.amazonaws.com/role-arn": roleARN]],
         "builder": ["createNamespace": false],
         "config": ["maxConcurrentBuilds": maxConcurrentBuilds]]
    }

    static func mirYAML(_ configMap: [String: Any]) -> String { (configMap["data"] as? [String: String])?["mir.yaml"] ?? "" }

    static func checksum(_ deployment: [String: Any]) -> String? { Install.templateAnnotations(deployment)["checksum/config"] }

    @Test("helm install → upgrade (config checksum changes) → rollback → uninstall (the CRD stays) against mir dev",
          .timeLimit(.minutes(10)))
    func installUpgradeRollbackUninstall() async throws {
        try await Self.withCluster { c in
            let installed = try await Self.helm("install", kubeconfig: c.kubeconfig, values: Self.values(maxConcurrentBuilds: 3), createNamespace: true)
            let release = installed["release"] as? [String: Any] ?? [:]
            #expect(release["status"] as? String == "deployed" && release["version"] as? Int == 1, "\(release)")

            // What the values asked for.
            let deployment = try await c.json("get", "deployment", "mir-controller", "-n", "mir-system")
            #expect((deployment["spec"] as? [String: Any])?["replicas"] as? Int == 2)
            #expect(Install.args(deployment).contains("--leader-elect"), "\(Install.args(deployment))")
            let available = (deployment["status"] as? [String: Any])?["availableReplicas"] as? Int ?? 0
            #expect(available == 0, "no kubelet in mir dev: nothing becomes available")
            let serviceAccount = try await c.json("get", "serviceaccount", "mir-controller", "-n", "mir-system")
            #expect(Install.annotations(serviceAccount)["eks.amazonaws.com/role-arn"] == Self.roleARN)
            #expect(try await c.exists("serviceaccount", "mir-builder", namespace: "mir-builds"))
            for (kind, name, namespace) in [("clusterrole", "mir-controller", nil), ("clusterrolebinding", "mir-controller", nil),
                                            ("role", "mir-leader-election", "mir-system"), ("rolebinding", "mir-leader-election", "mir-system"),
                                            ("role", "mir-builds", "mir-builds"), ("rolebinding", "mir-builds", "mir-builds"),
                                            ("clusterrole", "mir-editor", nil), ("clusterrole", "mir-admin", nil), ("clusterrole", "mir-view", nil),
                                            ("service", "mir-controller-metrics", "mir-system"), ("poddisruptionbudget", "mir-controller", "mir-system"),
                                            ("customresourcedefinition", "managedimages.mir.dev", nil)] as [(String, String, String?)] {
                #expect(try await c.exists(kind, name, namespace: namespace), "\(kind) \(name) installed")
            }
            let configMap = try await c.json("get", "configmap", "mir-config", "-n", "mir-system")
            #expect(Self.mirYAML(configMap).contains("maxConcurrentBuilds: 3"), "\(configMap)")
            #expect(Install.labels(deployment)["app.kubernetes.io/managed-by"] == "Helm")
            // Helm's release storage: Secrets of type helm.sh/release.v1, found by label selector.
            let releases = try await c.json("get", "secrets", "-n", "mir-system", "-l", "owner=helm,name=mir")
            let items = releases["items"] as? [[String: Any]] ?? []
            #expect(items.map { Install.name($0) } == ["sh.helm.release.v1.mir.v1"], "\(items.map { Install.name($0) ?? "" })")
            #expect(items.first?["type"] as? String == "helm.sh/release.v1")
            let firstChecksum = try #require(Self.checksum(deployment))

            // Upgrade with another config: the ConfigMap and the checksum annotation change (the Deployment rolls).
            let upgraded = try await Self.helm("upgrade", kubeconfig: c.kubeconfig, values: Self.values(maxConcurrentBuilds: 5))
            #expect((upgraded["release"] as? [String: Any])?["version"] as? Int == 2)
            let afterUpgrade = try await c.json("get", "deployment", "mir-controller", "-n", "mir-system")
            let secondChecksum = try #require(Self.checksum(afterUpgrade))
            #expect(secondChecksum != firstChecksum)
            let upgradedConfig = try await c.json("get", "configmap", "mir-config", "-n", "mir-system")
            #expect(Self.mirYAML(upgradedConfig).contains("maxConcurrentBuilds: 5"))

            // Rollback to revision 1: a third revision with the first config.
            let rolledBack = try await Self.helm("rollback", kubeconfig: c.kubeconfig, revision: 1)
            let history = rolledBack["history"] as? [[String: Any]] ?? []
            #expect(history.compactMap { $0["version"] as? Int } == [1, 2, 3], "\(history)")
            #expect(history.last?["status"] as? String == "deployed")
            let afterRollback = try await c.json("get", "deployment", "mir-controller", "-n", "mir-system")
            #expect(Self.checksum(afterRollback) == firstChecksum)
            let rolledBackConfig = try await c.json("get", "configmap", "mir-config", "-n", "mir-system")
            #expect(Self.mirYAML(rolledBackConfig).contains("maxConcurrentBuilds: 3"))

            // Uninstall: everything the templates made is gone, the CRD (from crds/) stays, as Helm does.
            _ = try await Self.helm("uninstall", kubeconfig: c.kubeconfig)
            #expect(try await !c.exists("deployment", "mir-controller", namespace: "mir-system"))
            #expect(try await !c.exists("serviceaccount", "mir-controller", namespace: "mir-system"))
            #expect(try await !c.exists("serviceaccount", "mir-builder", namespace: "mir-builds"))
            #expect(try await !c.exists("configmap", "mir-config", namespace: "mir-system"))
            #expect(try await !c.exists("clusterrole", "mir-controller"))
            #expect(try await !c.exists("clusterrolebinding", "mir-controller"))
            #expect(try await !c.exists("role", "mir-leader-election", namespace: "mir-system"))
            #expect(try await c.exists("customresourcedefinition", "managedimages.mir.dev"), "Helm never deletes a chart's CRDs")
            let remaining = try await c.json("get", "secrets", "-n", "mir-system", "-l", "owner=helm,name=mir")
            #expect((remaining["items"] as? [[String: Any]] ?? []).isEmpty, "release history removed")
        }
    }

    @Test("kubectl auth can-i against mir dev: admin yes; the chart's mir-editor may create but not delete ManagedImages, mir-admin may delete (RBAC objects stored in mir dev, evaluated per token)",
          .timeLimit(.minutes(8)))
    func canI() async throws {
        let users = ["editor-token": UserInfo(name: "erin"), "admin-token": UserInfo(name: "adam"), "nobody-token": UserInfo(name: "nobody")]
        try await Self.withCluster(users: users) { c in
            // The chart's user roles, rendered by Helm's engine, and two users bound to them.
            let roles = try await Install.render().objects.filter { $0["kind"] as? String == "ClusterRole" && Install.name($0)?.hasPrefix("mir-") == true }
            #expect(Set(roles.compactMap(Install.name)) == ["mir-view", "mir-editor", "mir-admin", "mir-controller"])
            let bindings = ControllerRBACTests.userBinding("erin", to: "mir-editor").merging(["apiVersion": "rbac.authorization.k8s.io/v1"]) { $1 }
            let adminBinding = ControllerRBACTests.userBinding("adam", to: "mir-admin").merging(["apiVersion": "rbac.authorization.k8s.io/v1"]) { $1 }
            let file = c.directory.appendingPathComponent("bindings.json")
            try JSONSerialization.data(withJSONObject: ["apiVersion": "v1", "kind": "List", "items": roles + [bindings, adminBinding]]).write(to: file)
            let crd = try await c.kubectl.run("apply", "-f", Install.chart.appendingPathComponent("crds/mir.dev_managedimages.yaml").path)
            #expect(crd.status == 0, "\(crd.output)")
            let applied = try await c.kubectl.run("apply", "-f", file.path)
            #expect(applied.status == 0, "\(applied.output)")

            func canI(_ token: String?, _ verb: String, _ resource: String = "managedimages.mir.dev", subresource: String = "") async throws -> Bool {
                let result = token == nil ? try await c.kubectl.run("auth", "can-i", verb, resource, "--subresource=\(subresource)")
                                          : try await c.kubectl.run("--token", token!, "auth", "can-i", verb, resource, "--subresource=\(subresource)")
                #expect(result.stdout.hasPrefix("yes") || result.stdout.hasPrefix("no"), "\(result.output)")
                return result.status == 0 && result.stdout.hasPrefix("yes")
            }
            #expect(try await canI(nil, "delete"), "mir dev's own user is cluster-admin")
            #expect(try await canI(nil, "create", "clusterroles"))
            #expect(try await canI("editor-token", "create"))
            #expect(try await canI("editor-token", "patch"))
            #expect(try await !canI("editor-token", "delete"), "editors cannot delete ManagedImages")
            #expect(try await !canI("editor-token", "update", subresource: "status"))
            #expect(try await canI("editor-token", "get", subresource: "status"))
            #expect(try await canI("admin-token", "delete"))
            #expect(try await !canI("admin-token", "delete", "deployments"), "mir-admin grants nothing beyond ManagedImages")
            #expect(try await !canI("nobody-token", "get"))
            // `kubectl auth can-i --list` (SelfSubjectRulesReview): what the editor's bindings grant.
            let list = try await c.kubectl.run("--token", "editor-token", "auth", "can-i", "--list")
            let managedImages = list.stdout.split(separator: "\n").filter { $0.hasPrefix("managedimages.mir.dev ") }
            #expect(managedImages.count == 1 && managedImages.first?.hasSuffix("[get list watch create update patch]") == true, "\(list.output)")
            #expect(!list.stdout.contains("deployments"), "\(list.output)")
            let adminList = try await c.kubectl.run("auth", "can-i", "--list")
            #expect(adminList.stdout.split(separator: "\n").contains { $0.hasPrefix("*.* ") && $0.hasSuffix("[*]") }, "\(adminList.output)")

            // A review sent as JSON (kubectl create sends JSON), for a non-resource URL: allowed for the administrator by
            // cluster-admin, denied for the editor.
            let review = c.directory.appendingPathComponent("review.json")
            try JSONSerialization.data(withJSONObject: ["apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                                                        "spec": ["nonResourceAttributes": ["path": "/healthz", "verb": "get"]]]).write(to: review)
            let asAdmin = try await c.kubectl.run("create", "-f", review.path, "-o", "jsonpath={.status.allowed} {.status.reason}")
            #expect(asAdmin.stdout.hasPrefix("true RBAC: allowed by ClusterRoleBinding \"cluster-admin\""), "\(asAdmin.output)")
            let asEditor = try await c.kubectl.run("--token", "editor-token", "create", "-f", review.path, "-o", "jsonpath={.status.allowed}")
            #expect(asEditor.stdout == "false", "\(asEditor.output)")
            let unknown = try await c.kubectl.run("--token", "no-such-token", "auth", "can-i", "get", "pods")
            #expect(unknown.status != 0 && unknown.stderr.contains("Unauthorized"), "\(unknown.output)")
        }
    }

    @Test("kubectl apply -k Manifests into a fresh mir dev succeeds; kubectl delete -k Manifests removes it", .timeLimit(.minutes(8)))
    func kustomizeApplyAndDelete() async throws {
        try await Self.withCluster { c in
            let manifests = Install.packageRoot.appendingPathComponent("Manifests").path
            let applied = try await c.kubectl.run("apply", "-k", manifests)
            #expect(applied.status == 0, "\(applied.output)")
            let objects = try await Install.kustomize()
            #expect(objects.count > 10)
            for object in objects {
                let kind = try #require(object["kind"] as? String), name = try #require(Install.name(object))
                let resource = "\(kind.lowercased()).\(((object["apiVersion"] as? String) ?? "").split(separator: "/").dropLast().joined())"
                    .trimmingCharacters(in: CharacterSet(charactersIn: "."))
                let found = try await c.exists(resource, name, namespace: Install.namespace(object))
                #expect(found, "\(kind) \(name) applied")
            }
            let again = try await c.kubectl.run("apply", "-k", manifests)
            // Except a PodDisruptionBudget: its selector's patch strategy is `replace`, so kubectl's three-way patch is
            // never empty and kubectl says "configured" against any API server.
            let changed = again.stdout.split(separator: "\n").filter { !$0.hasSuffix(" unchanged") && !$0.hasPrefix("poddisruptionbudget.policy/") }
            #expect(again.status == 0 && changed.isEmpty, "a second apply changes nothing: \(again.output)")

            let deleted = try await c.kubectl.run("delete", "-k", manifests)
            #expect(deleted.status == 0, "\(deleted.output)")
            for object in objects {
                let kind = try #require(object["kind"] as? String), name = try #require(Install.name(object))
                let resource = "\(kind.lowercased()).\(((object["apiVersion"] as? String) ?? "").split(separator: "/").dropLast().joined())"
                    .trimmingCharacters(in: CharacterSet(charactersIn: "."))
                let found = try await c.exists(resource, name, namespace: Install.namespace(object))
                #expect(!found, "\(kind) \(name) deleted")
            }
        }
    }
}
