import Foundation
import KubeLocal
import MirTestSupport
import Testing

/// The shipped ValidatingAdmissionPolicy (Manifests/admission) installed in mir dev with real kubectl: specs the
/// catalog does not allow are refused at `kubectl apply` with mir validate's message, as the API server refuses them.
@Suite(.serialized) struct AdmissionPolicyKubectlTests {
    static func spec(_ name: String, _ base: String, python: String? = "\"3.12\"") -> String {
        """
        apiVersion: mir.dev/v1alpha1
        kind: ManagedImage
        metadata:
          name: \(name)
        spec:
          base:
            \(base)
        \(python.map { "  pythonVersion: \($0)" } ?? "")
        """
    }

    @Test(.timeLimit(.minutes(3))) func kubectlApplyIsRefusedByThePolicy() async throws {
        try await withKubectlCluster("admission") { try await session($0.kubectl, $0.dir) }
    }

    private func apply(_ kubectl: Kubectl, _ dir: URL, _ name: String, _ yaml: String) async throws -> (status: Int32, output: String) {
        let file = dir.appendingPathComponent("\(name).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let r = try await kubectl.run("apply", "-f", file.path)
        return (r.status, r.stdout + r.stderr)
    }

    private func session(_ kubectl: Kubectl, _ dir: URL) async throws {
        let crd = try await kubectl.run("apply", "-f", crdManifestURL.path)
        #expect(crd.status == 0, "\(crd.stderr)")
        // Before the policy: the catalog is not checked at admission.
        let before = try await apply(kubectl, dir, "before", Self.spec("early", "imageType: alpine"))
        #expect(before.status == 0, "\(before.output)")

        let namespace = try await kubectl.run("apply", "-f", crdManifestURL.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("namespace.yaml").path)
        #expect(namespace.status == 0, "\(namespace.output)")
        let policy = try await kubectl.run("apply", "-f", ValidatingAdmissionPolicyTests.manifestURL.path)
        #expect(policy.status == 0, "\(policy.output)")
        #expect(policy.stdout.contains("validatingadmissionpolicy.admissionregistration.k8s.io/mir-catalog created"), "\(policy.stdout)")
        #expect(policy.stdout.contains("validatingadmissionpolicybinding.admissionregistration.k8s.io/mir-catalog created"), "\(policy.stdout)")
        #expect(policy.stdout.contains("configmap/mir-admission-params created"), "\(policy.stdout)")
        let listed = try await kubectl.run("get", "validatingadmissionpolicies", "-o", "name")
        #expect(listed.stdout == "validatingadmissionpolicy.admissionregistration.k8s.io/mir-catalog\n", "\(listed.output)")

        let prefix = "ValidatingAdmissionPolicy 'mir-catalog' with binding 'mir-catalog' denied request: "
        let refused: [(String, String, String)] = [
            ("unknown", Self.spec("unknown", "imageType: alpine"),
             "unknown imageType \"alpine\"; the base-image catalog offers: standard, ubi"),
            ("python", Self.spec("python", "imageType: ubi", python: "\"3.10\""),
             "pythonVersion \"3.10\" is not offered by imageType \"ubi\" (offered: 3.9, 3.11, 3.12)"),
            ("external", Self.spec("external", "image: docker.io/library/python:3.12", python: "\"3.12\""),
             "external base images are not allowed by this installation (allowExternalBaseImages is false); use imageType or managedImage"),
        ]
        for (name, yaml, message) in refused {
            let r = try await apply(kubectl, dir, name, yaml)
            #expect(r.status != 0, "\(name) was admitted")
            #expect(r.output.contains("The managedimages \"\(name)\" is invalid: : \(prefix)\(message)"), "\(r.output)")
            let get = try await kubectl.run("get", "managedimage", name)
            #expect(get.status != 0, "\(name) was stored")
        }
        // An image admitted before the policy: updates that leave its spec alone pass (labels, finalizers), so it
        // stays deletable; a spec change is checked.
        let labelled = try await kubectl.run("label", "managedimage", "early", "team=ml")
        #expect(labelled.status == 0, "\(labelled.output)")
        let respec = try await kubectl.run("patch", "managedimage", "early", "--type=merge", "-p", #"{"spec":{"pythonVersion":"3.11"}}"#)
        #expect(respec.status != 0 && respec.output.contains("unknown imageType \"alpine\""), "\(respec.output)")
        let deleted = try await kubectl.run("delete", "managedimage", "early")
        #expect(deleted.status == 0, "\(deleted.output)")
        // Valid specs are admitted: a catalog image and a child.
        let valid = try await apply(kubectl, dir, "valid", Self.spec("valid", "imageType: ubi", python: "\"3.11\"") + "\n---\n"
                                    + Self.spec("child", "managedImage: valid", python: nil))
        #expect(valid.status == 0, "\(valid.output)")
        // An update is checked too, and a server-side dry run reports the same.
        let update = try await apply(kubectl, dir, "update", Self.spec("valid", "imageType: ubi", python: "\"3.13\""))
        #expect(update.status != 0 && update.output.contains("pythonVersion \"3.13\" is not offered by imageType \"ubi\""), "\(update.output)")
        let dry = try await kubectl.run("apply", "--dry-run=server", "-f", dir.appendingPathComponent("unknown.yaml").path)
        #expect(dry.status != 0 && dry.stderr.contains("unknown imageType \"alpine\""), "\(dry.output)")
        // The params are the config: allowing external bases in the ConfigMap admits them.
        let patched = try await kubectl.run("patch", "configmap", "mir-admission-params", "-n", "mir-system", "--type=merge",
                                            "-p", #"{"data":{"allowExternalBaseImages":"true"}}"#)
        #expect(patched.status == 0, "\(patched.output)")
        let external = try await kubectl.run("apply", "-f", dir.appendingPathComponent("external.yaml").path)
        #expect(external.status == 0, "\(external.output)")
        // Without its params the binding denies (parameterNotFoundAction: Deny); without the binding, nothing is checked.
        _ = try await kubectl.run("delete", "configmap", "mir-admission-params", "-n", "mir-system")
        let noParams = try await apply(kubectl, dir, "fresh", Self.spec("fresh", "imageType: standard"))
        #expect(noParams.status != 0 && noParams.output.contains("no params found for policy binding with `Deny` parameterNotFoundAction"), "\(noParams.output)")
        _ = try await kubectl.run("delete", "validatingadmissionpolicybinding", "mir-catalog")
        let unbound = try await kubectl.run("apply", "-f", dir.appendingPathComponent("unknown.yaml").path)
        #expect(unbound.status == 0, "\(unbound.output)")
    }
}
