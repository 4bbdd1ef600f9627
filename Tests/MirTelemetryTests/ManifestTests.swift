import Foundation
import Testing

/// Renders Manifests/ with `kubectl kustomize` and checks the objects.
@Suite("Manifests render with kubectl kustomize")
struct ManifestTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A minimal stand-in used only when Manifests/crd/mir.dev_managedimages.yaml (written elsewhere) is absent.
    static let placeholderCRD = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: managedimages.mir.dev
        spec:
          group: mir.dev
          scope: Cluster
          names: {kind: ManagedImage, listKind: ManagedImageList, plural: managedimages, singular: managedimage}
          versions:
            - name: v1alpha1
              served: true
              storage: true
              schema:
                openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
        """

    /// The rendered objects as JSON dictionaries (kubectl renders YAML; `kubectl create --dry-run=client -o json`
    /// would need a cluster, so the YAML stream is converted by python3, which the test environment provides).
    static func render() throws -> [[String: Any]] {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("mir-manifests-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Manifests"), to: work)
        let crd = work.appendingPathComponent("crd/mir.dev_managedimages.yaml")
        if !FileManager.default.fileExists(atPath: crd.path) {
            try FileManager.default.createDirectory(at: crd.deletingLastPathComponent(), withIntermediateDirectories: true)
            try placeholderCRD.write(to: crd, atomically: true, encoding: .utf8)
        }
        let yaml = try run(["kubectl", "kustomize", work.path])
        let script = "import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))"
        let json = try run(["python3", "-c", script], input: yaml)
        return try #require(try JSONSerialization.jsonObject(with: json) as? [[String: Any]])
    }

    static func run(_ arguments: [String], input: Data? = nil) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe(), errors = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(arguments.joined(separator: " ")) failed: \(errorText)")
        return data
    }

    static func find(_ objects: [[String: Any]], kind: String, name: String) -> [String: Any]? {
        objects.first { $0["kind"] as? String == kind && ($0["metadata"] as? [String: Any])?["name"] as? String == name }
    }

    static func rules(_ object: [String: Any]?) -> [[String: Any]] { object?["rules"] as? [[String: Any]] ?? [] }

    static func verbs(_ object: [String: Any]?, resource: String) -> Set<String> {
        Set(rules(object).filter { ($0["resources"] as? [String])?.contains(resource) == true }
            .flatMap { $0["verbs"] as? [String] ?? [] })
    }

    static func labels(_ object: [String: Any]?) -> [String: String] {
        (object?["metadata"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
    }

    @Test("every object the contract lists is rendered, in the right namespace")
    func objectsPresent() throws {
        let objects = try Self.render()
        let expected: [(String, String, String?)] = [
            ("CustomResourceDefinition", "managedimages.mir.dev", nil),
            ("Namespace", "mir-system", nil), ("Namespace", "mir-builds", nil),
            ("ServiceAccount", "mir-controller", "mir-system"), ("ServiceAccount", "mir-builder", "mir-builds"),
            ("ClusterRole", "mir-controller", nil), ("ClusterRoleBinding", "mir-controller", nil),
            ("Role", "mir-leader-election", "mir-system"), ("RoleBinding", "mir-leader-election", "mir-system"),
            ("Role", "mir-builds", "mir-builds"), ("RoleBinding", "mir-builds", "mir-builds"),
            ("Deployment", "mir-controller", "mir-system"), ("Service", "mir-controller-metrics", "mir-system"),
            ("ClusterRole", "mir-editor", nil), ("ClusterRole", "mir-admin", nil), ("ClusterRole", "mir-view", nil),
            ("ValidatingAdmissionPolicy", "mir-catalog", nil), ("ValidatingAdmissionPolicyBinding", "mir-catalog", nil),
            ("ConfigMap", "mir-admission-params", "mir-system"),
        ]
        for (kind, name, namespace) in expected {
            let object = Self.find(objects, kind: kind, name: name)
            #expect(object != nil, "missing \(kind)/\(name)")
            #expect((object?["metadata"] as? [String: Any])?["namespace"] as? String == namespace, "\(kind)/\(name)")
        }
        for account in ["mir-controller", "mir-builder"] {
            let annotations = (Self.find(objects, kind: "ServiceAccount", name: account)?["metadata"] as? [String: Any])?["annotations"] as? [String: String]
            #expect(annotations?["eks.amazonaws.com/role-arn"]?.hasPrefix("arn:aws:iam::") == true)
        }
        // Bindings point at the controller's ServiceAccount.
        for (kind, name) in [("ClusterRoleBinding", "mir-controller"), ("RoleBinding", "mir-leader-election"), ("RoleBinding", "mir-builds")] {
            let subjects = Self.find(objects, kind: kind, name: name)?["subjects"] as? [[String: String]]
            #expect(subjects == [["kind": "ServiceAccount", "name": "mir-controller", "namespace": "mir-system"]])
        }
    }

    @Test("mir's roles use no wildcards and only the verbs the controller needs; editors cannot delete")
    func leastPrivilege() throws {
        let objects = try Self.render()
        let roles = objects.filter {
            ["ClusterRole", "Role"].contains($0["kind"] as? String ?? "")
        }
        #expect(roles.count == 6)
        for role in roles {
            for rule in Self.rules(role) {
                for field in ["verbs", "resources", "apiGroups"] {
                    #expect((rule[field] as? [String])?.contains("*") == false, "wildcard \(field) in \(role["metadata"]!)")
                }
            }
        }
        let controller = Self.find(objects, kind: "ClusterRole", name: "mir-controller")
        #expect(Self.verbs(controller, resource: "managedimages") == ["get", "list", "watch", "update"])
        #expect(Self.verbs(controller, resource: "managedimages/status") == ["update"])
        #expect(Self.verbs(controller, resource: "managedimages/finalizers") == ["update"])
        #expect(Self.verbs(controller, resource: "events") == ["create", "patch"])
        for resource in ["jobs", "pods", "configmaps", "secrets", "leases"] {
            #expect(Self.verbs(controller, resource: resource).isEmpty, "cluster-wide \(resource)")
        }
        let builds = Self.find(objects, kind: "Role", name: "mir-builds")
        #expect(Self.verbs(builds, resource: "jobs") == ["create", "delete", "get", "list", "watch"])
        #expect(Self.verbs(builds, resource: "configmaps") == ["create", "delete"])
        #expect(Self.verbs(builds, resource: "pods") == ["list"])
        let lease = Self.find(objects, kind: "Role", name: "mir-leader-election")
        #expect(Self.verbs(lease, resource: "leases") == ["get", "create", "update"])

        let editor = Self.find(objects, kind: "ClusterRole", name: "mir-editor")
        #expect(Self.verbs(editor, resource: "managedimages") == ["get", "list", "watch", "create", "update", "patch"])
        #expect(Self.labels(editor)["rbac.authorization.k8s.io/aggregate-to-edit"] == "true")
        let admin = Self.find(objects, kind: "ClusterRole", name: "mir-admin")
        #expect(Self.verbs(admin, resource: "managedimages").isSuperset(of: ["delete", "deletecollection", "create", "update"]))
        #expect(Self.labels(admin)["rbac.authorization.k8s.io/aggregate-to-admin"] == "true")
        let view = Self.find(objects, kind: "ClusterRole", name: "mir-view")
        #expect(Self.verbs(view, resource: "managedimages") == ["get", "list", "watch"])
        #expect(Self.labels(view)["rbac.authorization.k8s.io/aggregate-to-view"] == "true")
        for role in [editor, view] {
            for rule in Self.rules(role) {
                #expect((rule["verbs"] as? [String] ?? []).allSatisfy { !["delete", "deletecollection"].contains($0) })
            }
        }
    }

    @Test("the Deployment is hardened, probed on 8081, exposes metrics on 8080, and runs `mir run`")
    func deployment() throws {
        let objects = try Self.render()
        let deployment = try #require(Self.find(objects, kind: "Deployment", name: "mir-controller"))
        let podSpec = try #require(((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        #expect(podSpec["serviceAccountName"] as? String == "mir-controller")
        let podSecurity = try #require(podSpec["securityContext"] as? [String: Any])
        #expect(podSecurity["runAsNonRoot"] as? Bool == true)
        #expect((podSecurity["seccompProfile"] as? [String: String])?["type"] == "RuntimeDefault")
        let container = try #require((podSpec["containers"] as? [[String: Any]])?.first)
        let security = try #require(container["securityContext"] as? [String: Any])
        #expect(security["readOnlyRootFilesystem"] as? Bool == true)
        #expect(security["allowPrivilegeEscalation"] as? Bool == false)
        #expect(security["runAsNonRoot"] as? Bool == true)
        #expect((security["capabilities"] as? [String: [String]])?["drop"] == ["ALL"])
        let args = container["args"] as? [String] ?? []
        #expect(Array(args.prefix(4)) == ["run", "--source", "cluster", "--leader-elect"])
        #expect(args.contains("--registry") && args[(args.firstIndex(of: "--registry") ?? 0) + 1] == "ecr")
        #expect(args.contains("--config") && args[(args.firstIndex(of: "--config") ?? 0) + 1] == "/etc/mir/mir.yaml")
        // The config comes from the generated ConfigMap (hash-suffixed name, referenced by the Deployment).
        let volumes = podSpec["volumes"] as? [[String: Any]] ?? []
        let configMapName = volumes.compactMap { ($0["configMap"] as? [String: Any])?["name"] as? String }.first ?? ""
        #expect(configMapName.hasPrefix("mir-config-"), "\(volumes)")
        let configMap = try #require(Self.find(objects, kind: "ConfigMap", name: configMapName))
        #expect((configMap["data"] as? [String: String])?["mir.yaml"]?.contains("buildNamespace: mir-builds") == true)
        let mounts = container["volumeMounts"] as? [[String: Any]] ?? []
        #expect(mounts.contains { $0["mountPath"] as? String == "/etc/mir" && $0["readOnly"] as? Bool == true })
        let ports = (container["ports"] as? [[String: Any]] ?? []).reduce(into: [String: Int]()) {
            $0[$1["name"] as? String ?? ""] = $1["containerPort"] as? Int
        }
        #expect(ports == ["metrics": 8080, "probes": 8081])
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let get = (container[probe] as? [String: Any])?["httpGet"] as? [String: Any]
            #expect(get?["path"] as? String == path)
            #expect(get?["port"] as? String == "probes")
        }
        let resources = container["resources"] as? [String: [String: String]]
        #expect(resources?["requests"]?["cpu"] != nil && resources?["requests"]?["memory"] != nil)
        #expect(resources?["limits"]?["memory"] != nil)
        #expect((container["image"] as? String)?.hasPrefix("ghcr.io/") == true)

        let service = try #require(Self.find(objects, kind: "Service", name: "mir-controller-metrics"))
        let servicePorts = (service["spec"] as? [String: Any])?["ports"] as? [[String: Any]]
        #expect(servicePorts?.first?["port"] as? Int == 8080)
        let selector = (service["spec"] as? [String: Any])?["selector"] as? [String: String]
        let podLabels = ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any]).flatMap { Self.labels($0) }
        #expect(selector.map { sel in sel.allSatisfy { podLabels?[$0.key] == $0.value } } == true)
    }
}
