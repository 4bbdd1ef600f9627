import Foundation
import MirTestSupport
import Testing
import Yams

/// Charts/mir with Helm's own engine (helm-python-sdk: the Helm v4 Go SDK) and the official Kubernetes schemas
/// (kubernetes-validate), through Tests/Oracles/helm_chart.py.
@Suite("Helm chart Charts/mir")
struct ChartTests {
    static let kubernetesVersions = ["1.29.0", "1.30.0", "1.31.0", "1.32.0"]
    static let controllerRole = "arn:aws:iam::111122223333:role/mir-controller"
    static let builderRole = "arn:aws:iam::111122223333:role/mir-builder"

    /// The value sets the chart is rendered with: defaults and the variations operators use.
    static var valueSets: [(String, [String: Any])] { [
        ("defaults", [:]),
        ("irsa", ["serviceAccount": ["annotations": ["eks.amazonaws.com/role-arn": controllerRole]],
                  "builder": ["serviceAccount": ["annotations": ["eks.amazonaws.com/role-arn": builderRole]]]]),
        ("single replica without leader election", ["replicaCount": 1, "leaderElection": ["enabled": false]]),
        ("metrics off", ["metrics": ["enabled": false]]),
        ("ServiceMonitor on", ["metrics": ["serviceMonitor": ["enabled": true, "labels": ["release": "kube-prometheus"]]]]),
        ("custom config", customConfig),
        ("scheduling and extras", [
            "image": ["digest": "sha256:" + String(repeating: "ab", count: 32)],
            "imagePullSecrets": [["name": "regcred"]],
            "nodeSelector": ["kubernetes.io/os": "linux"],
            "tolerations": [["key": "dedicated", "operator": "Equal", "value": "controllers", "effect": "NoSchedule"]],
            "affinity": ["nodeAffinity": ["requiredDuringSchedulingIgnoredDuringExecution": ["nodeSelectorTerms": [
                ["matchExpressions": [["key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]]]]]]]],
            "topologySpreadConstraints": [["maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
                                           "labelSelector": ["matchLabels": ["app.kubernetes.io/component": "controller"]]]],
            "priorityClassName": "system-cluster-critical",
            "extraArgs": ["--interval", "30"],
            "extraEnv": [["name": "AWS_MAX_ATTEMPTS", "value": "5"]],
            "aws": ["region": "eu-west-1", "endpointURL": "https://vpce-0abc.api.ecr.eu-west-1.vpce.amazonaws.com"],
            "logLevel": "trace", "logFormat": "text",
        ]),
        ("no RBAC", ["rbac": ["create": false, "userRoles": false], "serviceAccount": ["create": false, "name": "existing"],
                     "builder": ["createNamespace": false, "serviceAccount": ["create": false, "name": "pusher"]]]),
    ] }

    static var customConfig: [String: Any] { [
        "config": ["repositoryPrefix": "team-a/", "maxConcurrentBuilds": 8, "forceDeleteRepositories": true,
                   "platformVersion": "2027.01",
                   "baseImages": ["standard": ["packageType": "apt", "pythonVersions": [
                       "3.10": "public.ecr.aws/docker/library/python:3.10-slim-bookworm",
                       "3.11": "public.ecr.aws/docker/library/python:3.11-slim-bookworm",
                       "3.12": "public.ecr.aws/docker/library/python:3.12-slim-bookworm"]],
                                  "ubi": ["packageType": "rpm", "pythonVersions": ["3.11": "registry.access.redhat.com/ubi9/python-311:1-77"]]],
                   "defaultLifecyclePolicy": ["rules": [["rulePriority": 1, "description": "keep 5",
                                                        "selection": ["tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5],
                                                        "action": ["type": "expire"]]]],
                   "builder": ["activeDeadlineSeconds": 1800, "backoffLimit": 1]],
        "builder": ["namespace": "team-a-builds", "serviceAccount": ["name": "team-a-pusher"],
                    "kanikoImage": "registry.example.com/kaniko/executor:v1.23.2"],
    ] }

    @Test("helm lint --strict is clean for Kubernetes 1.29 to 1.32")
    func lintStrict() async throws {
        for version in Self.kubernetesVersions {
            let report = try #require(try await Install.oracle(["lint", Install.chart.path, "--kube-version", "v" + version]) as? [String: Any])
            #expect((report["errors"] as? [Any] ?? []).isEmpty, "\(version): \(report)")
            // Severity 1 is informational (Helm's "icon is recommended"); warnings (2) and errors (3) fail --strict.
            let findings = (report["messages"] as? [[String: Any]] ?? []).filter { ($0["severity"] as? Int ?? 3) >= 2 }
            #expect(findings.isEmpty, "\(version): \(findings)")
        }
    }

    @Test("lint fails a broken template: the oracle reports Helm's findings")
    func lintCatchesBreakage() async throws {
        let copy = try Install.temporaryDirectory("chart")
        defer { try? FileManager.default.removeItem(at: copy) }
        let broken = copy.appendingPathComponent("mir")
        try FileManager.default.copyItem(at: Install.chart, to: broken)
        try "{{ .Values.image.repository | nosuchfunction }}\n".write(to: broken.appendingPathComponent("templates/broken.yaml"), atomically: true, encoding: .utf8)
        let report = try #require(try await Install.oracle(["lint", broken.path]) as? [String: Any])
        let findings = (report["messages"] as? [[String: Any]] ?? []).filter { ($0["severity"] as? Int ?? 0) >= 2 }
        #expect(!findings.isEmpty || !(report["errors"] as? [Any] ?? []).isEmpty, "\(report)")
    }

    @Test("with default values: every object of the install, hardened, with the config's checksum on the pod")
    func defaults() async throws {
        let rendered = try await Install.render()
        #expect(rendered.error == nil, "\(rendered.error ?? "")")
        let expected: [(String, String, String?)] = [
            ("Namespace", "mir-builds", nil), ("ServiceAccount", "mir-controller", "mir-system"), ("ServiceAccount", "mir-builder", "mir-builds"),
            ("ConfigMap", "mir-config", "mir-system"), ("Deployment", "mir-controller", "mir-system"),
            ("Service", "mir-controller-metrics", "mir-system"), ("PodDisruptionBudget", "mir-controller", "mir-system"),
            ("ClusterRole", "mir-controller", nil), ("ClusterRoleBinding", "mir-controller", nil),
            ("Role", "mir-leader-election", "mir-system"), ("RoleBinding", "mir-leader-election", "mir-system"),
            ("Role", "mir-builds", "mir-builds"), ("RoleBinding", "mir-builds", "mir-builds"),
            ("ClusterRole", "mir-view", nil), ("ClusterRole", "mir-editor", nil), ("ClusterRole", "mir-admin", nil),
            ("ValidatingAdmissionPolicy", "mir-catalog", nil), ("ValidatingAdmissionPolicyBinding", "mir-catalog", nil),
            ("ConfigMap", "mir-admission-params", "mir-system"),
        ]
        #expect(rendered.objects.count == expected.count, "\(rendered.objects.map { "\($0["kind"]!)/\(Install.name($0)!)" })")
        for (kind, name, namespace) in expected {
            let object = rendered.find(kind, name)
            #expect(object != nil, "missing \(kind)/\(name)")
            #expect(object.flatMap(Install.namespace) == namespace, "\(kind)/\(name)")
        }
        for object in rendered.objects {
            let labels = Install.labels(object)
            #expect(labels["helm.sh/chart"] == "mir-0.1.0" && labels["app.kubernetes.io/managed-by"] == "Helm"
                    && labels["app.kubernetes.io/instance"] == "mir" && labels["app.kubernetes.io/name"] == "mir", "\(labels)")
        }
        let deployment = try #require(rendered.find("Deployment", "mir-controller"))
        #expect((deployment["spec"] as? [String: Any])?["replicas"] as? Int == 2)
        let pod = Install.podSpec(deployment), container = Install.container(deployment)
        let podSecurity = pod["securityContext"] as? [String: Any] ?? [:]
        #expect(podSecurity["runAsNonRoot"] as? Bool == true && podSecurity["runAsUser"] as? Int == 65532)
        #expect((podSecurity["seccompProfile"] as? [String: String])?["type"] == "RuntimeDefault")
        let security = container["securityContext"] as? [String: Any] ?? [:]
        #expect(security["readOnlyRootFilesystem"] as? Bool == true && security["allowPrivilegeEscalation"] as? Bool == false)
        #expect((security["capabilities"] as? [String: [String]])?["drop"] == ["ALL"])
        #expect(container["image"] as? String == "ghcr.io/example/mir:0.1.0")
        #expect(Array(Install.args(deployment).prefix(4)) == ["run", "--source", "cluster", "--leader-elect"])
        #expect(Install.flag(deployment, "--lease-name") == "mir-controller" && Install.flag(deployment, "--lease-namespace") == "mir-system")
        #expect(Install.flag(deployment, "--registry") == "ecr" && Install.flag(deployment, "--config") == "/etc/mir/mir.yaml")
        #expect(Install.flag(deployment, "--metrics-bind-address") == ":8080" && Install.flag(deployment, "--health-probe-bind-address") == ":8081")
        #expect(Install.env(deployment)["AWS_DEFAULT_REGION"] == "us-east-1")
        // The lease the Role names is the lease the controller is told to use.
        let leaseRule = (rendered.find("Role", "mir-leader-election")?["rules"] as? [[String: Any]])?.first { $0["resourceNames"] != nil }
        #expect(leaseRule?["resourceNames"] as? [String] == [Install.flag(deployment, "--lease-name") ?? "?"])
        // The config is mounted from the ConfigMap; the pod carries its checksum.
        let volumes = pod["volumes"] as? [[String: Any]] ?? []
        #expect(volumes.contains { ($0["configMap"] as? [String: Any])?["name"] as? String == "mir-config" })
        let checksum = Install.templateAnnotations(deployment)["checksum/config"] ?? ""
        #expect(checksum.range(of: "^[0-9a-f]{64}$", options: .regularExpression) != nil, "\(checksum)")
        let config = try Self.config(rendered)
        #expect(config["repositoryPrefix"] as? String == "mir/")
        #expect((config["builder"] as? [String: Any])?["buildNamespace"] as? String == "mir-builds")
        #expect((config["builder"] as? [String: Any])?["serviceAccountName"] as? String == "mir-builder")
        #expect(config["defaultLifecyclePolicy"] == nil, "null values are left to mir's defaults")
        // No IRSA role set: NOTES say so.
        #expect(rendered.notes.contains("WARNING: the controller's ServiceAccount has no IRSA annotation"))
        #expect(rendered.notes.contains("kubectl get managedimages -w"))
    }

    /// mir.yaml from the rendered ConfigMap.
    static func config(_ rendered: Install.Rendered, name: String = "mir-config") throws -> [String: Any] {
        let configMap = try #require(rendered.find("ConfigMap", name))
        let text = try #require((configMap["data"] as? [String: String])?["mir.yaml"])
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    @Test("IRSA annotations land on both ServiceAccounts")
    func irsa() async throws {
        let rendered = try await Install.render(Self.valueSets[1].1)
        #expect(Install.annotations(try #require(rendered.find("ServiceAccount", "mir-controller")))["eks.amazonaws.com/role-arn"] == Self.controllerRole)
        let builder = try #require(rendered.find("ServiceAccount", "mir-builder"))
        #expect(Install.annotations(builder)["eks.amazonaws.com/role-arn"] == Self.builderRole)
        #expect(builder["automountServiceAccountToken"] as? Bool == false)
        #expect(!rendered.notes.contains("WARNING"))
    }

    @Test("one replica without leader election: --no-leader-elect, no lease Role, no PodDisruptionBudget")
    func singleReplica() async throws {
        let rendered = try await Install.render(Self.valueSets[2].1)
        let deployment = try #require(rendered.find("Deployment", "mir-controller"))
        #expect((deployment["spec"] as? [String: Any])?["replicas"] as? Int == 1)
        let args = Install.args(deployment)
        #expect(args.contains("--no-leader-elect") && !args.contains("--leader-elect") && !args.contains("--lease-name"), "\(args)")
        #expect(rendered.find("Role", "mir-leader-election") == nil && rendered.find("RoleBinding", "mir-leader-election") == nil)
        #expect(!rendered.kinds.contains("PodDisruptionBudget"))
        // Two replicas without leader election would reconcile twice at once: refused.
        let refused = try await Install.render(["leaderElection": ["enabled": false]])
        #expect(refused.error?.contains("replicaCount > 1 needs leaderElection.enabled") == true, "\(refused.error ?? "rendered")")
    }

    @Test("metrics off: no Service, no metrics port, the listener disabled")
    func metricsOff() async throws {
        let rendered = try await Install.render(Self.valueSets[3].1)
        #expect(!rendered.kinds.contains("Service") && !rendered.kinds.contains("ServiceMonitor"))
        let deployment = try #require(rendered.find("Deployment", "mir-controller"))
        #expect(Install.flag(deployment, "--metrics-bind-address") == "0")
        let ports = (Install.container(deployment)["ports"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(ports == ["probes"])
        let refused = try await Install.render(["metrics": ["enabled": false, "serviceMonitor": ["enabled": true]]])
        #expect(refused.error?.contains("metrics.serviceMonitor.enabled needs metrics.enabled") == true)
    }

    @Test("ServiceMonitor on: it selects the metrics Service's pods and scrapes its port")
    func serviceMonitor() async throws {
        let defaults = try await Install.render()
        #expect(!defaults.kinds.contains("ServiceMonitor"), "only when asked")
        let rendered = try await Install.render(Self.valueSets[4].1)
        let monitor = try #require(rendered.find("ServiceMonitor", "mir-controller"))
        #expect(monitor["apiVersion"] as? String == "monitoring.coreos.com/v1")
        #expect(Install.labels(monitor)["release"] == "kube-prometheus")
        let spec = monitor["spec"] as? [String: Any] ?? [:]
        let service = try #require(rendered.find("Service", "mir-controller-metrics"))
        #expect((spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String] == (service["spec"] as? [String: Any])?["selector"] as? [String: String])
        #expect((spec["endpoints"] as? [[String: Any]])?.first?["port"] as? String == "metrics")
        #expect(((spec["namespaceSelector"] as? [String: Any])?["matchNames"] as? [String]) == ["mir-system"])
    }

    @Test("custom config: rendered into mir.yaml with the builder values; the checksum changes, and only with the config")
    func customConfig() async throws {
        let defaults = try await Install.render()
        let rendered = try await Install.render(Self.customConfig)
        let config = try Self.config(rendered)
        #expect(config["repositoryPrefix"] as? String == "team-a/" && config["maxConcurrentBuilds"] as? Int == 8)
        #expect(config["forceDeleteRepositories"] as? Bool == true && config["platformVersion"] as? String == "2027.01")
        let builder = config["builder"] as? [String: Any] ?? [:]
        #expect(builder["buildNamespace"] as? String == "team-a-builds" && builder["serviceAccountName"] as? String == "team-a-pusher")
        #expect(builder["kanikoImage"] as? String == "registry.example.com/kaniko/executor:v1.23.2" && builder["backoffLimit"] as? Int == 1)
        #expect(((config["defaultLifecyclePolicy"] as? [String: Any])?["rules"] as? [Any])?.count == 1)
        #expect(rendered.find("Namespace", "team-a-builds") != nil && rendered.find("ServiceAccount", "team-a-pusher").flatMap(Install.namespace) == "team-a-builds")
        #expect(rendered.find("Role", "mir-builds").flatMap(Install.namespace) == "team-a-builds")
        let checksum = { (r: Install.Rendered) in Install.templateAnnotations(r.find("Deployment", "mir-controller") ?? [:])["checksum/config"] }
        #expect(checksum(rendered) != nil && checksum(rendered) != checksum(defaults))
        // A change elsewhere leaves the checksum (and so the pods) alone.
        let scaled = try await Install.render(["replicaCount": 3, "resources": ["limits": ["memory": "512Mi"]]])
        #expect(checksum(scaled) == checksum(defaults))
    }

    @Test("scheduling, image digest, pull secrets, extra args and env, AWS settings reach the pod")
    func extras() async throws {
        let rendered = try await Install.render(Self.valueSets[6].1)
        let deployment = try #require(rendered.find("Deployment", "mir-controller"))
        let pod = Install.podSpec(deployment), container = Install.container(deployment)
        #expect(container["image"] as? String == "ghcr.io/example/mir@sha256:" + String(repeating: "ab", count: 32))
        #expect(pod["imagePullSecrets"] as? [[String: String]] == [["name": "regcred"]])
        #expect(pod["nodeSelector"] as? [String: String] == ["kubernetes.io/os": "linux"])
        #expect((pod["tolerations"] as? [[String: Any]])?.count == 1 && pod["affinity"] != nil)
        #expect((pod["topologySpreadConstraints"] as? [[String: Any]])?.first?["topologyKey"] as? String == "topology.kubernetes.io/zone")
        #expect(pod["priorityClassName"] as? String == "system-cluster-critical")
        #expect(Array(Install.args(deployment).suffix(2)) == ["--interval", "30"])
        #expect(Install.flag(deployment, "--log-format") == "text")
        let env = Install.env(deployment)
        #expect(env["AWS_MAX_ATTEMPTS"] == "5" && env["AWS_DEFAULT_REGION"] == "eu-west-1" && env["MIR_LOG_LEVEL"] == "trace")
        #expect(env["AWS_ENDPOINT_URL_ECR"] == "https://vpce-0abc.api.ecr.eu-west-1.vpce.amazonaws.com")
    }

    @Test("rbac.create and userRoles off, existing ServiceAccounts: nothing of theirs is rendered")
    func noRBAC() async throws {
        let rendered = try await Install.render(Self.valueSets[7].1)
        #expect(Set(rendered.kinds) == ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "ValidatingAdmissionPolicy",
                                        "ValidatingAdmissionPolicyBinding"], "\(rendered.kinds)")
        let deployment = try #require(rendered.find("Deployment", "mir-controller"))
        #expect(Install.podSpec(deployment)["serviceAccountName"] as? String == "existing")
        #expect((try Self.config(rendered)["builder"] as? [String: Any])?["serviceAccountName"] as? String == "pusher")
        let missing = try await Install.render(["serviceAccount": ["create": false]])
        #expect(missing.error?.contains("serviceAccount.name is required") == true, "\(missing.error ?? "rendered")")
    }

    @Test("values.schema.json rejects wrong types, bad enums and unknown keys with Helm's own error",
          arguments: [
            (#"{"replicaCount": "two"}"#, "/replicaCount", "want integer"),
            (#"{"logFormat": "xml"}"#, "/logFormat", "value must be one of"),
            (#"{"image": {"pullPolicy": "Sometimes"}}"#, "/image/pullPolicy", "value must be one of"),
            (#"{"metrics": {"port": 70000}}"#, "/metrics/port", "maximum"),
            (#"{"config": {"maxConcurrentBuilds": "4"}}"#, "/config/maxConcurrentBuilds", "want integer"),
            (#"{"leaderElection": {"leaseDuration": "15 seconds"}}"#, "/leaderElection/leaseDuration", "does not match pattern"),
            (#"{"config": {"baseImages": {"x": {"packageType": "yum", "pythonVersions": {"3.11": "a"}}}}}"#, "/config/baseImages/x/packageType", "value must be one of"),
            (#"{"replicas": 2}"#, "at ''", "additional properties 'replicas' not allowed"),
            (#"{"image": {"repo": "x"}}"#, "/image", "additional properties 'repo' not allowed"),
            (#"{"config": {"repositoryprefix": "x/"}}"#, "/config", "additional properties 'repositoryprefix' not allowed"),
          ])
    func schemaRejects(values: String, path: String, message: String) async throws {
        let answer = try #require(try await Install.oracle(["schema", Install.chart.path, "--values", values]) as? [String: Any])
        #expect(answer["ok"] as? Bool == false)
        #expect(answer["errorType"] as? String == "HelmValuesError", "\(answer)")
        let error = answer["error"] as? String ?? ""
        #expect(error.contains(path) && error.contains(message), "\(error)")
        // Rendering (what install does) refuses the same values.
        let rendered = try await Install.render(try #require(try JSONSerialization.jsonObject(with: Data(values.utf8)) as? [String: Any]))
        #expect(rendered.errorType == "HelmValuesError" && rendered.error?.contains(path) == true, "\(rendered.error ?? "rendered")")
    }

    @Test("values.schema.json accepts every value set the tests render")
    func schemaAccepts() async throws {
        for (label, values) in Self.valueSets {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: values), as: UTF8.self)
            let answer = try #require(try await Install.oracle(["schema", Install.chart.path, "--values", json]) as? [String: Any])
            #expect(answer["ok"] as? Bool == true, "\(label): \(answer)")
        }
    }

    @Test("every rendered manifest (and kustomize's) passes kubernetes-validate --strict for 1.29, 1.30, 1.31 and 1.32")
    func kubernetesValidate() async throws {
        var objects: [[String: Any]] = []
        for (_, values) in Self.valueSets { objects += try await Install.render(values).objects }
        objects += try await Install.kustomize().filter { $0["kind"] as? String != "CustomResourceDefinition" }
        objects.append(try #require(try Yams.load(yaml: String(contentsOf: Install.chart.appendingPathComponent("crds/mir.dev_managedimages.yaml"), encoding: .utf8)) as? [String: Any]))
        let file = try Install.temporaryDirectory("validate").appendingPathComponent("objects.json")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try JSONSerialization.data(withJSONObject: objects).write(to: file)
        let results = try #require(try await Install.oracle(["validate", "--versions", Self.kubernetesVersions.joined(separator: ","), file.path]) as? [[String: Any]])
        #expect(results.count == objects.count * Self.kubernetesVersions.count)
        for result in results {
            let what = "\(result["kind"] ?? "?")/\(result["name"] ?? "?") on \(result["version"] ?? "?")"
            if result["apiVersion"] as? String == "monitoring.coreos.com/v1" {
                // The prometheus-operator's kind is not in Kubernetes' schemas: the only object without one.
                #expect(result["result"] as? String == "no-schema", "\(what): \(result)")
            } else if result["apiVersion"] as? String == "admissionregistration.k8s.io/v1", result["version"] as? String == "1.29.0",
                      ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"].contains(result["kind"] as? String) {
                // GA in 1.30: 1.29 has no v1 schema for them. The chart renders them only when the cluster is 1.30+
                // (`semverCompare` on .Capabilities.KubeVersion); the Manifests' kustomization says so.
                #expect(result["result"] as? String == "no-schema", "\(what): \(result)")
            } else {
                #expect(result["result"] as? String == "valid", "\(what): \(result["error"] ?? "")")
            }
        }
        #expect(results.contains { $0["kind"] as? String == "ServiceMonitor" }, "the ServiceMonitor value set rendered one")
    }

    @Test("kubernetes-validate catches a wrong manifest (the oracle can fail)")
    func validateCatches() async throws {
        var deployment = try #require(try await Install.render().find("Deployment", "mir-controller"))
        var spec = deployment["spec"] as? [String: Any] ?? [:]
        spec["replica"] = 2
        deployment["spec"] = spec
        let file = try Install.temporaryDirectory("validate").appendingPathComponent("objects.json")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try JSONSerialization.data(withJSONObject: [deployment]).write(to: file)
        let results = try #require(try await Install.oracle(["validate", "--versions", "1.32.0", file.path]) as? [[String: Any]])
        #expect(results.first?["result"] as? String == "invalid" && (results.first?["error"] as? String)?.contains("replica") == true, "\(results)")
    }

    /// Labels Helm adds (and kustomize's `part-of`, which the chart also sets) are not part of the comparison; nor is
    /// the pod's config checksum (kustomize rolls the Deployment with a hash-suffixed ConfigMap name instead).
    static let helmOnlyLabels: Set<String> = ["helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version"]

    /// An object with Helm's labels and names taken out, comments' formatting ignored (mir.yaml compared parsed).
    static func normalized(_ value: Any, path: [String] = []) throws -> Any {
        if let object = value as? [String: Any] {
            var result: [String: Any] = [:]
            for (key, child) in object {
                let childPath = path + [key]
                if ["labels", "matchLabels", "selector"].contains(key), let labels = child as? [String: String] {
                    result[key] = labels.filter { !helmOnlyLabels.contains($0.key) }
                    continue
                }
                if key == "annotations", let annotations = child as? [String: String] {
                    let kept = annotations.filter { $0.key != "checksum/config" }
                    if !kept.isEmpty { result[key] = kept }
                    continue
                }
                if key == "mir.yaml", let text = child as? String, childPath.count == 2, childPath[0] == "data" {
                    result[key] = try Yams.load(yaml: text) as Any
                    continue
                }
                result[key] = try normalized(child, path: childPath)
            }
            return result
        }
        if let array = value as? [Any] { return try array.map { try normalized($0, path: path) } }
        if let text = value as? String, text.range(of: #"^mir-config-[a-z0-9]{10}$"#, options: .regularExpression) != nil {
            return "mir-config"  // kustomize's content-hash suffix
        }
        return value
    }

    static func key(_ object: [String: Any]) -> String {
        "\(object["kind"] as? String ?? "?") \(Install.namespace(object).map { $0 + "/" } ?? "")\(Install.name(object) ?? "?")"
    }

    @Test("with default values the chart renders the objects `kubectl kustomize Manifests` does, kind by kind")
    func chartMatchesManifests() async throws {
        // The Manifests carry placeholder IRSA role ARNs (set yours in an overlay); the chart's defaults have none, so
        // the chart is rendered with the same two placeholders, and nothing else.
        let chart = try await Install.render(Self.valueSets[1].1)
        let manifests = try await Install.kustomize().filter {
            // Helm installs crds/ as they are (compared byte for byte above) and creates the release namespace
            // itself (`helm install --create-namespace`), so neither is a template.
            !($0["kind"] as? String == "CustomResourceDefinition" || ($0["kind"] as? String == "Namespace" && Install.name($0) == "mir-system"))
        }
        let chartObjects = Dictionary(try chart.objects.map { (Self.key($0), try Self.normalized($0)) }, uniquingKeysWith: { a, _ in a })
        let manifestObjects = Dictionary(try manifests.map { (Self.key(try #require(try Self.normalized($0) as? [String: Any])), try Self.normalized($0)) },
                                         uniquingKeysWith: { a, _ in a })
        #expect(Set(chartObjects.keys) == Set(manifestObjects.keys),
                "only in the chart: \(Set(chartObjects.keys).subtracting(manifestObjects.keys).sorted()); only in Manifests: \(Set(manifestObjects.keys).subtracting(chartObjects.keys).sorted())")
        #expect(chartObjects.count == 19)
        for (key, object) in chartObjects.sorted(by: { $0.key < $1.key }) {
            guard let other = manifestObjects[key] else { continue }
            #expect(Install.canonical(object) == Install.canonical(other), "\(key) differs:\nchart:     \(Install.canonical(object))\nManifests: \(Install.canonical(other))")
        }
    }

    @Test("the comparison notices a difference (its normalisation keeps what matters)")
    func comparisonHasTeeth() async throws {
        let chart = try await Install.render(Self.valueSets[1].1.merging(["replicaCount": 3, "config": ["maxConcurrentBuilds": 5]]) { a, _ in a })
        let manifests = try await Install.kustomize()
        for (kind, name) in [("Deployment", "mir-controller"), ("ConfigMap", "mir-config")] {
            let ours = try #require(chart.find(kind, name))
            let theirs = try #require(manifests.first { $0["kind"] as? String == kind && (Install.name($0) ?? "").hasPrefix(name) })
            #expect(Install.canonical(try Self.normalized(ours)) != Install.canonical(try Self.normalized(theirs)), "\(kind)")
        }
    }

    @Test("the chart's CRD is Manifests/crd's, byte for byte")
    func crdIsTheSameFile() throws {
        let chart = try Data(contentsOf: Install.chart.appendingPathComponent("crds/mir.dev_managedimages.yaml"))
        let manifests = try Data(contentsOf: Install.packageRoot.appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml"))
        #expect(chart == manifests, "copy Manifests/crd/mir.dev_managedimages.yaml to Charts/mir/crds/")
    }

    @Test("Chart.yaml: apiVersion v2, kubeVersion >=1.29, appVersion = mir's version = the Manifests' image tag")
    func versions() async throws {
        let chart = try #require(try Yams.load(yaml: String(contentsOf: Install.chart.appendingPathComponent("Chart.yaml"), encoding: .utf8)) as? [String: Any])
        #expect(chart["apiVersion"] as? String == "v2" && chart["kubeVersion"] as? String == ">=1.29.0-0")
        #expect(chart["home"] as? String != nil && (chart["sources"] as? [String])?.isEmpty == false && (chart["maintainers"] as? [Any])?.isEmpty == false)
        let appVersion = try #require(chart["appVersion"] as? String)
        let version = try await ProcessRunner.run(Install.mirBinary, ["version"])
        #expect(version.status == 0)
        // `mir version` prints "mir <semver> (revision <rev>, built <date>)".
        #expect(version.stdout.hasPrefix("mir \(appVersion) ") || version.stdout == "mir \(appVersion)\n", "\(version.stdout)")
        let kustomization = try #require(try Yams.load(yaml: String(contentsOf: Install.packageRoot.appendingPathComponent("Manifests/kustomization.yaml"), encoding: .utf8)) as? [String: Any])
        let images = kustomization["images"] as? [[String: Any]] ?? []
        #expect(images.first?["newTag"] as? String == appVersion)
        let deployment = try #require(try await Install.render().find("Deployment", "mir-controller"))
        #expect((Install.container(deployment)["image"] as? String)?.hasSuffix(":" + appVersion) == true)
    }

    @Test("Charts/mir/README.md is generated from values.yaml, and every value is documented")
    func readmeInSync() async throws {
        let undocumented = try #require(try await Install.oracle(["undocumented", Install.chart.path]) as? [String])
        #expect(undocumented.isEmpty, "values without a `# --` comment: \(undocumented)")
        let generated = try await ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Install.oracle.path, "readme", Install.chart.path])
        #expect(generated.status == 0, "\(generated.stderr)")
        let checkedIn = try String(contentsOf: Install.chart.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(checkedIn == generated.stdout, "regenerate: python3 Tests/Oracles/helm_chart.py readme Charts/mir > Charts/mir/README.md")
        for key in ["image.repository", "replicaCount", "leaderElection.enabled", "serviceAccount.annotations", "builder.kanikoImage",
                    "config.repositoryPrefix", "aws.region", "metrics.serviceMonitor.enabled", "rbac.userRoles", "podSecurityContext"] {
            #expect(checkedIn.contains("| `\(key)` |"), "\(key)")
        }
    }

    @Test("the rendered config is one mir accepts: `mir validate` checks the Examples with it", arguments: [0, 5])
    func renderedConfigValidatesExamples(valueSet: Int) async throws {
        let rendered = try await Install.render(Self.valueSets[valueSet].1)
        let configMap = try #require(rendered.find("ConfigMap", "mir-config"))
        let text = try #require((configMap["data"] as? [String: String])?["mir.yaml"])
        let directory = try Install.temporaryDirectory("config")
        defer { try? FileManager.default.removeItem(at: directory) }
        try text.write(to: directory.appendingPathComponent("mir.yaml"), atomically: true, encoding: .utf8)
        let result = try await ProcessRunner.run(Install.mirBinary, ["validate", "--config", directory.appendingPathComponent("mir.yaml").path,
                                                                     Install.packageRoot.appendingPathComponent("Examples/specs").path])
        #expect(result.status == 0, "\(Self.valueSets[valueSet].0): \(result.output)\n\(text)")
        // And mir refuses a config it does not know, so the check has teeth.
        try (text + "repositoryPrefx: typo/\n").write(to: directory.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let bad = try await ProcessRunner.run(Install.mirBinary, ["validate", "--config", directory.appendingPathComponent("bad.yaml").path,
                                                                  Install.packageRoot.appendingPathComponent("Examples/specs").path])
        #expect(bad.status != 0 && bad.output.contains("repositoryPrefx"), "\(bad.output)")
    }
}
