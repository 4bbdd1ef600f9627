import Foundation
import KubeLocal
import MirTestSupport
import Testing

/// The built-in kinds a controller install uses, the CRDs created through the API, the OpenAPI documents and
/// `kubectl auth can-i`, driven with the real kubectl against the local control plane.
@Suite(.serialized) struct BuiltinKindsKubectlTests {
    static let workload = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: mir-builds
      labels: {app: web, tier: front}
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
            - name: web
              image: nginx:1
              env:
                - {name: A, value: "1"}
                - {name: B, value: "2"}
            - name: sidecar
              image: busybox:1
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: mir-builds, labels: {app: web}}
    spec:
      selector: {app: web}
      ports: [{port: 80}]
    ---
    apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata: {name: web, namespace: mir-builds}
    spec:
      minAvailable: 1
      selector:
        matchLabels: {app: web}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata: {name: reader, namespace: mir-builds}
    rules:
      - {apiGroups: [""], resources: [configmaps], verbs: [get, list]}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata: {name: reader, namespace: mir-builds}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
    subjects: [{kind: User, name: alice}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata:
      name: aggregated-reader
      labels: {rbac.example.com/aggregate-to-reader: "true"}
    rules:
      - {apiGroups: [apps], resources: [deployments], verbs: [get]}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: alice-aggregated-reader}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aggregated-reader}
    subjects: [{kind: User, name: alice}]
    """

    static let widgetCRD = """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: widgets.example.com}
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  description: What the widget should be.
                  properties:
                    size:
                      type: integer
                      description: How big the widget is, in centimetres.
    """

    static func withCluster(_ body: (KubectlCluster) async throws -> Void) async throws {
        try await withKubectlCluster("builtin-kinds", crd: true, body)
    }

    static func json(_ text: String) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]) ?? [:]
    }

    @Test("a fresh mir dev has the default namespaces and mir's build namespace; the install kinds apply into it",
          .timeLimit(.minutes(4)))
    func applyInstallKinds() async throws {
        try await Self.withCluster { s in
            let namespaces = try await s.kubectl.run("get", "namespaces", "-o", "name")
            for ns in ["default", "kube-system", "kube-public", "kube-node-lease", "mir-builds"] {
                #expect(namespaces.stdout.contains("namespace/\(ns)\n"), "\(ns) missing: \(namespaces.output)")
            }
            try Self.workload.write(to: s.dir.appendingPathComponent("workload.yaml"), atomically: true, encoding: .utf8)
            let applied = try await s.kubectl.run("apply", "-f", s.dir.appendingPathComponent("workload.yaml").path)
            #expect(applied.status == 0, "\(applied.output)")
            for line in ["deployment.apps/web created", "service/web created", "poddisruptionbudget.policy/web created",
                         "role.rbac.authorization.k8s.io/reader created", "rolebinding.rbac.authorization.k8s.io/reader created",
                         "clusterrole.rbac.authorization.k8s.io/aggregated-reader created",
                         "clusterrolebinding.rbac.authorization.k8s.io/alice-aggregated-reader created"] {
                #expect(applied.stdout.contains(line), "\(line): \(applied.output)")
            }
            // Applying again changes nothing.
            let again = try await s.kubectl.run("apply", "-f", s.dir.appendingPathComponent("workload.yaml").path)
            #expect(again.status == 0 && again.stdout.contains("deployment.apps/web unchanged"), "\(again.output)")

            // Honest status: no kubelet, so no replica is ever available.
            let deployment = Self.json(try await s.kubectl.run("get", "deployment", "web", "-n", "mir-builds", "-o", "json").stdout)
            let status = deployment["status"] as? [String: Any] ?? [:]
            #expect(status["availableReplicas"] == nil && status["unavailableReplicas"] as? Int == 2, "\(status)")
            let available = (status["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Available" }
            #expect(available?["status"] as? String == "False" && available?["reason"] as? String == "MinimumReplicasUnavailable")
            #expect((deployment["spec"] as? [String: Any])?["revisionHistoryLimit"] as? Int == 10, "defaulted by the API server")
            let table = try await s.kubectl.run("get", "deployments", "-n", "mir-builds")
            #expect(table.stdout.contains("web") && table.stdout.contains("0/2"), "\(table.output)")
            let service = Self.json(try await s.kubectl.run("get", "service", "web", "-n", "mir-builds", "-o", "json").stdout)
            let clusterIP = (service["spec"] as? [String: Any])?["clusterIP"] as? String ?? ""
            #expect(clusterIP.hasPrefix("10."), "a cluster IP is allocated: \(service)")

            // Label selectors, across kinds.
            let selected = try await s.kubectl.run("get", "deployments,services,pdb", "-A", "-l", "app=web", "-o", "name")
            #expect(selected.stdout.split(separator: "\n").sorted() == ["deployment.apps/web", "service/web"], "\(selected.output)")
            let none = try await s.kubectl.run("get", "deployments", "-A", "-l", "tier=back", "-o", "name")
            #expect(none.status == 0 && none.stdout.isEmpty, "\(none.output)")
        }
    }

    @Test("patch: merge, JSON, strategic merge (containers and env merged by name) and server-side apply", .timeLimit(.minutes(4)))
    func patches() async throws {
        try await Self.withCluster { s in
            try Self.workload.write(to: s.dir.appendingPathComponent("workload.yaml"), atomically: true, encoding: .utf8)
            _ = try await s.kubectl.run("apply", "-f", s.dir.appendingPathComponent("workload.yaml").path)
            let merge = try await s.kubectl.run("patch", "deployment", "web", "-n", "mir-builds", "--type=merge",
                                                "-p", #"{"spec":{"replicas":3}}"#)
            #expect(merge.status == 0, "\(merge.output)")
            let json = try await s.kubectl.run("patch", "deployment", "web", "-n", "mir-builds", "--type=json",
                                               "-p", #"[{"op":"replace","path":"/metadata/labels/tier","value":"middle"}]"#)
            #expect(json.status == 0, "\(json.output)")
            // A strategic merge patch names one container and one env entry: the others stay.
            let strategic = try await s.kubectl.run("patch", "deployment", "web", "-n", "mir-builds", "--type=strategic", "-p",
                #"{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"20"},{"name":"C","value":"3"}]}]}}}}"#)
            #expect(strategic.status == 0, "\(strategic.output)")
            let deployment = Self.json(try await s.kubectl.run("get", "deployment", "web", "-n", "mir-builds", "-o", "json").stdout)
            let spec = deployment["spec"] as? [String: Any] ?? [:]
            #expect(spec["replicas"] as? Int == 3)
            #expect(((deployment["metadata"] as? [String: Any])?["labels"] as? [String: String])?["tier"] == "middle")
            let containers = ((spec["template"] as? [String: Any])?["spec"] as? [String: Any])?["containers"] as? [[String: Any]] ?? []
            #expect(containers.compactMap { $0["name"] as? String } == ["web", "sidecar"], "\(containers)")
            let env = (containers.first?["env"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "")=\($0["value"] ?? "")" }
            #expect(env == ["A=1", "B=20", "C=3"], "\(env)")
            #expect(((deployment["status"] as? [String: Any])?["observedGeneration"] as? Int)
                    == (deployment["metadata"] as? [String: Any])?["generation"] as? Int, "the status follows the spec's generation")

            // Server-side apply of a ConfigMap-less Service change, then a conflict-free re-apply by the same manager.
            let ssa = """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: mir-builds}
            spec:
              selector: {app: web}
              ports: [{port: 8080}]
            """
            try ssa.write(to: s.dir.appendingPathComponent("ssa.yaml"), atomically: true, encoding: .utf8)
            let applied = try await s.kubectl.run("apply", "--server-side", "--field-manager=tester", "-f",
                                                  s.dir.appendingPathComponent("ssa.yaml").path)
            #expect(applied.status == 0, "\(applied.output)")
            let service = Self.json(try await s.kubectl.run("get", "service", "web", "-n", "mir-builds", "-o", "json").stdout)
            let ports = (service["spec"] as? [String: Any])?["ports"] as? [[String: Any]] ?? []
            #expect(ports.first?["port"] as? Int == 8080, "\(service)")
        }
    }

    @Test("a CRD created through the API is served, explained and listed; kubectl explain works for ManagedImage and built-in kinds",
          .timeLimit(.minutes(4)))
    func crdAndExplain() async throws {
        try await Self.withCluster { s in
            try Self.widgetCRD.write(to: s.dir.appendingPathComponent("crd.yaml"), atomically: true, encoding: .utf8)
            let created = try await s.kubectl.run("apply", "-f", s.dir.appendingPathComponent("crd.yaml").path)
            #expect(created.status == 0, "\(created.output)")
            let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 3}\n"
            try widget.write(to: s.dir.appendingPathComponent("w.yaml"), atomically: true, encoding: .utf8)
            let applied = try await s.kubectl.run("apply", "-f", s.dir.appendingPathComponent("w.yaml").path)
            #expect(applied.status == 0 && applied.stdout.contains("widget.example.com/w1 created"), "\(applied.output)")
            let listed = try await s.kubectl.run("get", "wg", "-o", "name")
            #expect(listed.stdout == "widget.example.com/w1\n", "\(listed.output)")

            let explainWidget = try await s.kubectl.run("explain", "widget.spec")
            #expect(explainWidget.status == 0 && explainWidget.stdout.contains("How big the widget is"), "\(explainWidget.output)")
            let explainMI = try await s.kubectl.run("explain", "managedimage.spec")
            #expect(explainMI.status == 0 && explainMI.stdout.contains("KIND:") && explainMI.stdout.contains("ManagedImage")
                    && explainMI.stdout.contains("pipRequirements"), "\(explainMI.output)")
            let explainDeployment = try await s.kubectl.run("explain", "deployment.spec.replicas")
            #expect(explainDeployment.status == 0 && explainDeployment.stdout.contains("Number of desired pods"), "\(explainDeployment.output)")
            let explainRole = try await s.kubectl.run("explain", "clusterrole.aggregationRule")
            #expect(explainRole.status == 0 && explainRole.stdout.contains("clusterRoleSelectors"), "\(explainRole.output)")

            // kubectl's client-side validation loads /openapi/v2 (protobuf) before applying.
            let strict = try await s.kubectl.run("apply", "--validate=strict", "-f", s.dir.appendingPathComponent("w.yaml").path)
            #expect(strict.status == 0, "\(strict.output)")

            // Deleting the CRD stops serving its kind and deletes its objects.
            let deleted = try await s.kubectl.run("delete", "-f", s.dir.appendingPathComponent("crd.yaml").path)
            #expect(deleted.status == 0, "\(deleted.output)")
            let gone = try await s.kubectl.run("get", "widgets.example.com")
            #expect(gone.status != 0, "\(gone.output)")
        }
    }

    @Test("kubectl auth can-i: mir dev's own user is a cluster administrator", .timeLimit(.minutes(3)))
    func canIAsAdmin() async throws {
        try await Self.withCluster { s in
            for (verb, resource, namespace) in [("create", "deployments", "default"), ("delete", "managedimages.mir.dev", "default"),
                                                ("get", "secrets", "kube-system"), ("*", "*", "default")] {
                let answer = try await s.kubectl.run("auth", "can-i", verb, resource, "-n", namespace)
                #expect(answer.status == 0 && answer.stdout == "yes\n", "\(verb) \(resource): \(answer.output)")
            }
            let bindings = try await s.kubectl.run("get", "clusterrolebinding", "cluster-admin", "-o", "jsonpath={.subjects[0].name}")
            #expect(bindings.stdout == "system:masters", "bootstrapped like a real cluster: \(bindings.output)")
        }
    }
}
