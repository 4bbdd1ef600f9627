import Foundation
import MirBuild
import MirModel
import MirTestSupport
import Testing

@Suite struct BuildJobManifestTests {
    let settings = BuilderSettings(kanikoImage: "gcr.io/kaniko-project/executor:v1.23.2", buildNamespace: "mir-builds",
                                   serviceAccountName: "mir-builder", activeDeadlineSeconds: 1800, backoffLimit: 2,
                                   ttlSecondsAfterFinished: 600)

    func request() throws -> BuildRequest {
        let images = [Fixture.image("root", pip: [PipRequirement(name: "numpy", versionSpecifier: "==1.26.4")]),
                      Fixture.child("kid", of: "root", pip: [PipRequirement(name: "pandas")])]
        let resolved = try DesiredStateResolver.resolve(images, config: MirConfig())
        return Fixture.request(resolved[1], reason: .parentRebuilt)
    }

    @Test func jobNameIsDeterministicShortAndUnique() {
        let long = String(repeating: "a", count: 63)
        let name = BuildJobManifest.jobName(image: long, tag: "py3.11-0123456789abcdef0123")
        #expect(name.count <= 63)
        #expect(BuildInputGrammar.isDNSLabel(name))
        #expect(name.hasPrefix("mir-build-aaaa"))
        #expect(name == BuildJobManifest.jobName(image: long, tag: "py3.11-0123456789abcdef0123"))
        #expect(name != BuildJobManifest.jobName(image: long, tag: "py3.11-0123456789abcdef0124"))
        // Two images cut to the same prefix still differ.
        #expect(BuildJobManifest.jobName(image: long + "x", tag: "t") != BuildJobManifest.jobName(image: long + "y", tag: "t"))
        // Same tag, different images (identical specs give identical tags).
        #expect(BuildJobManifest.jobName(image: "a", tag: "t") != BuildJobManifest.jobName(image: "b", tag: "t"))
        // A cut that ends on "-" is trimmed.
        let dashy = String(repeating: "a", count: 41) + "-bbbb"
        #expect(BuildInputGrammar.isDNSLabel(BuildJobManifest.jobName(image: dashy, tag: "t")))
    }

    @Test func jobCarriesEveryRequiredField() throws {
        let request = try request()
        let owner = BuildJobOwner(name: "kid", uid: "8d7c7c1e-0000-4000-8000-000000000001")
        let job = try BuildJobManifest.job(for: request, settings: settings, owner: owner)
        let name = BuildJobManifest.jobName(image: "kid", tag: request.image.tag)
        #expect(job["apiVersion"] == .string("batch/v1"))
        #expect(job["kind"] == .string("Job"))
        let metadata = try #require(job["metadata"])
        #expect(metadata["name"] == .string(name))
        #expect(metadata["namespace"] == .string("mir-builds"))
        #expect(metadata["labels"]?["app.kubernetes.io/managed-by"] == .string("mir"))
        #expect(metadata["labels"]?["mir.dev/image"] == .string("kid"))
        #expect(metadata["labels"]?["mir.dev/tag"] == .string(request.image.tag))
        #expect(metadata["annotations"]?["mir.dev/parent-tag"] == .string(request.image.parentTag!))
        #expect(metadata["annotations"]?["mir.dev/reason"] == .string("parent rebuilt"))
        let ownerReference = try #require(metadata["ownerReferences"]?.arrayValue?.first)
        #expect(ownerReference["apiVersion"] == .string("mir.dev/v1alpha1"))
        #expect(ownerReference["kind"] == .string("ManagedImage"))
        #expect(ownerReference["name"] == .string("kid"))
        #expect(ownerReference["uid"] == .string(owner.uid))
        #expect(ownerReference["controller"] == .bool(true))
        #expect(ownerReference["blockOwnerDeletion"] == .bool(true))

        let spec = try #require(job["spec"])
        #expect(spec["activeDeadlineSeconds"]?.intValue == 1800)
        #expect(spec["backoffLimit"]?.intValue == 2)
        #expect(spec["ttlSecondsAfterFinished"]?.intValue == 600)
        let rules = try #require(spec["podFailurePolicy"]?["rules"]?.arrayValue)
        #expect(rules.first?["action"] == .string("Ignore"))
        #expect(rules.first?["onPodConditions"]?.arrayValue?.first?["type"] == .string("DisruptionTarget"))
        #expect(rules.contains { $0["action"] == .string("FailJob") && $0["onExitCodes"]?["containerName"] == .string("kaniko") })
        #expect(rules.contains { $0["action"] == .string("FailJob") && $0["onExitCodes"]?["containerName"] == .string("report") })
        for rule in rules where rule["onExitCodes"]?["operator"] == .string("In") {
            // The API forbids 0 with the In operator.
            #expect(rule["onExitCodes"]?["values"]?.arrayValue?.contains(.number(0)) == false)
        }

        let template = try #require(spec["template"])
        #expect(template["metadata"]?["labels"] == metadata["labels"])
        let pod = try #require(template["spec"])
        #expect(pod["restartPolicy"] == .string("Never"))
        #expect(pod["serviceAccountName"] == .string("mir-builder"))

        let kaniko = try #require(pod["initContainers"]?.arrayValue?.first)
        #expect(kaniko["image"] == .string(settings.kanikoImage))
        let args = kaniko["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(args.contains("--dockerfile=/workspace/Dockerfile"))
        #expect(args.contains("--context=dir:///workspace"))
        #expect(args.contains("--destination=\(request.repositoryURI):\(request.image.tag)"))
        #expect(kaniko["volumeMounts"]?.arrayValue?.contains { $0["mountPath"] == .string("/workspace") } == true)

        let report = try #require(pod["containers"]?.arrayValue?.first)
        #expect(report["name"] == .string("report"))
        #expect(report["image"] == .string("\(request.repositoryURI):\(request.image.tag)"))
        #expect(report["command"] == .array([.string("python"), .string("-c"), .string(BuildReport.script)]))
        #expect(report["securityContext"]?["runAsNonRoot"] == .bool(true))
        #expect(report["securityContext"]?["allowPrivilegeEscalation"] == .bool(false))
        #expect(report["resources"]?["requests"] != nil)
        #expect(kaniko["resources"]?["requests"] != nil)
        #expect(report["terminationMessagePath"] == .string("/dev/termination-log"))

        let volume = try #require(pod["volumes"]?.arrayValue?.first { $0["name"] == .string("build-context") })
        #expect(volume["configMap"]?["name"] == .string(name))
    }

    @Test func configMapHoldsTheRenderedDockerfile() throws {
        let request = try request()
        let configMap = try BuildJobManifest.configMap(for: request, settings: settings)
        #expect(configMap["kind"] == .string("ConfigMap"))
        #expect(configMap["metadata"]?["name"] == .string(BuildJobManifest.jobName(image: "kid", tag: request.image.tag)))
        #expect(configMap["metadata"]?["namespace"] == .string("mir-builds"))
        #expect(configMap["data"]?["Dockerfile"] == .string(try BuildContextRenderer.dockerfile(for: request)))
        // The destination is in ECR: kaniko gets the ECR credential helper.
        let dockerConfig = try #require(configMap["data"]?["config.json"]?.stringValue.flatMap(JSONValue.parse))
        #expect(dockerConfig["credHelpers"]?[Fixture.registryHost] == .string("ecr-login"))
        #expect(configMap["metadata"]?["ownerReferences"] == nil)
    }

    @Test func manifestsAreDeterministic() throws {
        let a = BuildJobManifest.manifestText(try BuildJobManifest.objects(for: try request(), settings: settings))
        let b = BuildJobManifest.manifestText(try BuildJobManifest.objects(for: try request(), settings: settings))
        #expect(a == b)
    }

    @Test func badSettingsAreRefusedNamingTheField() throws {
        var bad = settings
        bad.kanikoImage = "executor latest"
        #expect(throws: BuildContextError(field: "builder.kanikoImage", value: "executor latest", reason: "is not an image reference")) {
            try BuildJobManifest.job(for: try request(), settings: bad)
        }
        bad = settings
        bad.buildNamespace = "Builds"
        #expect(throws: BuildContextError.self) { try BuildJobManifest.job(for: try request(), settings: bad) }
        bad = settings
        bad.activeDeadlineSeconds = 0
        #expect(throws: BuildContextError.self) { try BuildJobManifest.job(for: try request(), settings: bad) }
    }

    /// kubectl parses the rendered documents as two objects (client side, no cluster needed).
    @Test func kubectlAcceptsTheRenderedManifest() throws {
        guard let kubectl = Kubectl.executable else { Issue.record("kubectl is not installed; run scripts/setup"); return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/job.yaml"
        let owner = BuildJobOwner(name: "kid", uid: "8d7c7c1e-0000-4000-8000-000000000001")
        try BuildJobManifest.manifestText(try BuildJobManifest.objects(for: try request(), settings: settings, owner: owner))
            .write(toFile: file, atomically: true, encoding: .utf8)
        // `label --local` parses the file exactly as `apply -f` does, without a server.
        let result = try runProcess(kubectl, ["label", "--local", "-f", file, "mir.dev/check=yes", "-o", "name",
                                              "--kubeconfig=/dev/null"])
        #expect(result.status == 0, "\(result.error)")
        let expectedName = BuildJobManifest.jobName(image: "kid", tag: try request().image.tag)
        #expect(result.output.split(separator: "\n") == ["configmap/\(expectedName)", "job.batch/\(expectedName)"])
    }
}

/// Issue 8 §5: build pods get no API token, bounded CPU and disk, and a ServiceAccount of their own.
@Suite struct BuildPodHardeningTests {
    func request() throws -> BuildRequest {
        let resolved = try DesiredStateResolver.resolve([Fixture.image("root", pip: [PipRequirement(name: "numpy")])], config: MirConfig())
        return Fixture.request(resolved[0])
    }

    @Test func noTokenAndBoundedResources() throws {
        let job = try BuildJobManifest.job(for: try request(), settings: BuilderSettings())
        let pod = try #require(job["spec"]?["template"]?["spec"])
        #expect(pod["automountServiceAccountToken"] == .bool(false))
        let kaniko = try #require(pod["initContainers"]?.arrayValue?.first)
        let limits = try #require(kaniko["resources"]?["limits"])
        #expect(limits["cpu"]?.stringValue != nil, "kaniko needs a CPU limit")
        #expect(limits["memory"]?.stringValue != nil)
        #expect(limits["ephemeral-storage"]?.stringValue != nil, "kaniko needs an ephemeral-storage limit")
        #expect(kaniko["resources"]?["requests"]?["ephemeral-storage"]?.stringValue != nil)
    }

    @Test func theDefaultServiceAccountIsRefused() throws {
        var settings = BuilderSettings()
        settings.serviceAccountName = "default"
        #expect(throws: BuildContextError.self) { try BuildJobManifest.job(for: try request(), settings: settings) }
    }
}
