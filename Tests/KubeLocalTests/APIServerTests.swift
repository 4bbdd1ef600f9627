import Foundation
import KubeLocal
import MirModel
import Testing

@Suite struct DiscoveryAndCRUDTests {
    @Test func discoveryListsBuiltinsAndTheRegisteredCRD() async throws {
        try await withCluster { c in
            let apis = try await c.call(.GET, "/apis").json
            let groups = (apis["groups"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(groups.contains("mir.dev"))
            #expect(groups.contains("batch"))
            let list = try await c.call(.GET, "/apis/mir.dev/v1alpha1").json
            let resources = list["resources"] as? [[String: Any]] ?? []
            let mi = resources.first { $0["name"] as? String == "managedimages" }
            #expect(mi?["shortNames"] as? [String] == ["mi"])
            #expect(mi?["categories"] as? [String] == ["mir"])
            #expect(mi?["namespaced"] as? Bool == false)
            #expect(resources.contains { $0["name"] as? String == "managedimages/status" })
            let core = try await c.call(.GET, "/api/v1").json
            let names = (core["resources"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            for expected in ["namespaces", "pods", "events", "configmaps", "secrets", "serviceaccounts"] { #expect(names.contains(expected)) }
            let openapi = try await c.call(.GET, "/openapi/v3").json
            let url = (openapi.at("paths", "apis/mir.dev/v1alpha1", "serverRelativeURL") as? String) ?? ""
            #expect(url.hasPrefix("/openapi/v3/apis/mir.dev/v1alpha1?hash="))
            let doc = try await c.call(.GET, url).json
            let patch = doc.at("paths", "/apis/mir.dev/v1alpha1/managedimages/{name}", "patch") as? [String: Any]
            #expect((patch?["x-kubernetes-group-version-kind"] as? [String: Any])?["kind"] as? String == "ManagedImage")
        }
    }

    @Test func createGetUpdateConflictAndErrors() async throws {
        try await withCluster { c in
            let created = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: managedImage("web"))
            #expect(created.status == 201)
            #expect(created.json.at("metadata", "generation") as? Int == 1)
            #expect(created.json.at("spec", "deletionPolicy") as? String == "Delete", "schema default applied")
            let again = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: managedImage("web"))
            #expect(again.status == 409)
            #expect(again.json["message"] as? String == "managedimages.mir.dev \"web\" already exists")
            #expect(again.json["reason"] as? String == "AlreadyExists")
            let missing = try await c.call(.GET, "/apis/mir.dev/v1alpha1/managedimages/nope")
            #expect(missing.status == 404)
            #expect(missing.json["message"] as? String == "managedimages.mir.dev \"nope\" not found")

            var object = created.json
            var spec = object["spec"] as! [String: Any]
            spec["pythonVersion"] = "3.13"
            object["spec"] = spec
            let updated = try await c.call(.PUT, "/apis/mir.dev/v1alpha1/managedimages/web", json: object)
            #expect(updated.status == 200)
            #expect(updated.json.at("metadata", "generation") as? Int == 2)
            let stale = try await c.call(.PUT, "/apis/mir.dev/v1alpha1/managedimages/web", json: object)
            #expect(stale.status == 409)
            #expect(stale.json["message"] as? String == "Operation cannot be fulfilled on managedimages.mir.dev \"web\": the object has been modified; please apply your changes to the latest version and try again")
            var noRV = updated.json
            var meta = noRV["metadata"] as! [String: Any]
            meta["resourceVersion"] = nil
            noRV["metadata"] = meta
            let unconditional = try await c.call(.PUT, "/apis/mir.dev/v1alpha1/managedimages/web", json: noRV)
            #expect(unconditional.status == 422)
            #expect((unconditional.json["message"] as? String ?? "").contains("metadata.resourceVersion: Invalid value: 0: must be specified for an update"))

            let generated = try await c.call(.POST, "/api/v1/namespaces/default/configmaps",
                                             json: ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["generateName": "cfg-"], "data": ["a": "1"]])
            let generatedName = generated.json.at("metadata", "name") as? String ?? ""
            #expect(generatedName.hasPrefix("cfg-") && generatedName.count == 9)
            let noNamespace = try await c.call(.POST, "/api/v1/namespaces/ghost/configmaps",
                                               json: ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "x"]])
            #expect(noNamespace.status == 404)
            #expect(noNamespace.json["message"] as? String == "namespaces \"ghost\" not found")
        }
    }

    @Test func schemaValidationRefusesBadSpecsWithKubernetesMessages() async throws {
        try await withCluster { c in
            let badPython = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: managedImage("a", python: "3"))
            #expect(badPython.status == 422)
            #expect(badPython.json["message"] as? String == "ManagedImage.mir.dev \"a\" is invalid: spec.pythonVersion: Invalid value: \"3\": spec.pythonVersion in body should match '\(SpecPatterns.pythonVersion)'")
            let shell = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages",
                                         json: managedImage("b", extraSpec: ["pipRequirements": [["name": "requests; rm -rf /"]]]))
            #expect(shell.status == 422)
            #expect((shell.json["message"] as? String ?? "").contains("spec.pipRequirements[0].name"))
            let twoBases = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages",
                                            json: managedImage("c", extraSpec: ["base": ["imageType": "al2023", "image": "python"]]))
            #expect(twoBases.status == 422)
            #expect((twoBases.json["message"] as? String ?? "").contains("spec.base: Invalid value: \"object\": base must set exactly one of imageType, managedImage, image"))
            let badEnum = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages",
                                           json: managedImage("d", extraSpec: ["deletionPolicy": "Keep"]))
            #expect((badEnum.json["message"] as? String ?? "").contains("spec.deletionPolicy: Unsupported value: \"Keep\": supported values: \"Delete\", \"Retain\""))
            let unknown = managedImage("e", extraSpec: ["colour": "blue"])
            let strict = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages?fieldValidation=Strict", json: unknown)
            #expect(strict.status == 400)
            #expect(strict.json["message"] as? String == "ManagedImage in version \"v1alpha1\" cannot be handled as a ManagedImage: strict decoding error: unknown field \"spec.colour\"")
            let pruned = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages?fieldValidation=Ignore", json: unknown)
            #expect(pruned.status == 201)
            #expect(pruned.json.at("spec", "colour") == nil)
            let child = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages",
                                         json: ["apiVersion": "mir.dev/v1alpha1", "kind": "ManagedImage", "metadata": ["name": "child"],
                                                "spec": ["base": ["managedImage": "web"]]])
            #expect(child.status == 201, "pythonVersion may be omitted for a child")
            let orphan = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages",
                                          json: ["apiVersion": "mir.dev/v1alpha1", "kind": "ManagedImage", "metadata": ["name": "nopy"],
                                                 "spec": ["base": ["imageType": "al2023"]]])
            #expect(orphan.status == 422)
            #expect((orphan.json["message"] as? String ?? "").contains("spec.pythonVersion: Required value: pythonVersion is required unless the base is another ManagedImage"))
        }
    }

    @Test func statusSubresourceAndGenerationRules() async throws {
        try await withCluster { c in
            var withStatus = managedImage("s")
            withStatus["status"] = ["phase": "Ready"]
            let created = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: withStatus)
            #expect(created.json["status"] == nil, "create drops status")
            let statusPatch = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/s/status",
                                               json: ["status": ["phase": "Building"], "spec": ["pythonVersion": "3.9"]],
                                               contentType: "application/merge-patch+json")
            #expect(statusPatch.status == 200)
            #expect(statusPatch.json.at("status", "phase") as? String == "Building")
            #expect(statusPatch.json.at("spec", "pythonVersion") as? String == "3.12", "status writes keep spec")
            #expect(statusPatch.json.at("metadata", "generation") as? Int == 1, "status writes do not bump generation")
            let specPatch = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/s",
                                             json: ["spec": ["pythonVersion": "3.11"], "status": ["phase": "Gone"]],
                                             contentType: "application/merge-patch+json")
            #expect(specPatch.json.at("metadata", "generation") as? Int == 2)
            #expect(specPatch.json.at("status", "phase") as? String == "Building", "main-resource writes keep status")
            let labelPatch = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/s",
                                              json: [["op": "add", "path": "/metadata/labels", "value": ["team": "a"]]],
                                              contentType: "application/json-patch+json")
            #expect(labelPatch.json.at("metadata", "generation") as? Int == 2, "metadata changes do not bump generation")
            #expect(labelPatch.json.at("metadata", "labels", "team") as? String == "a")
            let smp = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/s", json: ["spec": [:]],
                                       contentType: "application/strategic-merge-patch+json")
            #expect(smp.status == 415)
            let applyNoManager = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/t", json: managedImage("t"),
                                                  contentType: "application/apply-patch+yaml")
            #expect(applyNoManager.status == 422)
            let apply = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/t?fieldManager=test", json: managedImage("t"),
                                         contentType: "application/apply-patch+yaml")
            #expect(apply.status == 201)
        }
    }

    @Test func listPagingAndSelectors() async throws {
        try await withCluster { c in
            for i in 0..<5 {
                try await c.call(.POST, "/api/v1/namespaces/default/configmaps",
                                 json: ["metadata": ["name": "cm-\(i)", "labels": ["parity": i % 2 == 0 ? "even" : "odd"]]])
            }
            let page1 = try await c.call(.GET, "/api/v1/namespaces/default/configmaps?limit=2").json
            #expect((page1["items"] as? [Any])?.count == 2)
            #expect(page1.at("metadata", "remainingItemCount") as? Int == 3)
            let token = page1.at("metadata", "continue") as? String ?? ""
            let escaped = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let page2 = try await c.call(.GET, "/api/v1/namespaces/default/configmaps?limit=2&continue=\(escaped)").json
            let names2 = (page2["items"] as? [[String: Any]] ?? []).compactMap { $0.at("metadata", "name") as? String }
            #expect(names2 == ["cm-2", "cm-3"])
            #expect(page2.at("metadata", "resourceVersion") as? String == page1.at("metadata", "resourceVersion") as? String)
            let even = try await c.call(.GET, "/api/v1/namespaces/default/configmaps?labelSelector=parity%3Deven").json
            #expect((even["items"] as? [Any])?.count == 3)
            let inSet = try await c.call(.GET, "/api/v1/configmaps?labelSelector=parity+in+(odd)").json
            #expect((inSet["items"] as? [Any])?.count == 2)
            let byName = try await c.call(.GET, "/api/v1/configmaps?fieldSelector=metadata.name%3Dcm-4").json
            #expect((byName["items"] as? [[String: Any]])?.first?.at("metadata", "name") as? String == "cm-4")
            let bad = try await c.call(.GET, "/api/v1/configmaps?fieldSelector=data.a%3D1")
            #expect(bad.status == 400)
            #expect(bad.json["message"] as? String == "field label not supported: data.a")
        }
    }

    @Test func tablesHonourPrinterColumns() async throws {
        try await withCluster { c in
            try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages", json: managedImage("tbl"))
            try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/tbl/status",
                             json: ["status": ["phase": "Ready", "imageTag": "abc", "repositoryName": "mir/tbl",
                                               "conditions": [["type": "Ready", "status": "True", "reason": "Built", "message": "",
                                                               "lastTransitionTime": "2026-01-01T00:00:00Z"]]]],
                             contentType: "application/merge-patch+json")
            let table = try await c.call(.GET, "/apis/mir.dev/v1alpha1/managedimages",
                                         accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json").json
            #expect(table["kind"] as? String == "Table")
            let columns = (table["columnDefinitions"] as? [[String: Any]] ?? []).map { "\($0["name"]!):\($0["priority"]!)" }
            #expect(columns == ["Name:0", "Phase:0", "Tag:0", "Python:0", "Reason:0", "Age:0", "Repository:1", "Platform:1"])
            let cells = table.at("rows", "0", "cells") as? [Any] ?? []
            #expect(cells.count == 8)
            #expect(cells[0] as? String == "tbl")
            #expect(cells[1] as? String == "Ready")
            #expect(cells[2] as? String == "abc")
            #expect(cells[4] as? String == "Built")
            #expect(cells[6] as? String == "mir/tbl")
            #expect(table.at("rows", "0", "object", "kind") as? String == "PartialObjectMetadata")
        }
    }
}

@Suite struct WriteOptionTests {
    @Test func serverSideApplyRemovesFieldsTheManagerNoLongerApplies() async throws {
        try await withCluster { c in
            var first = managedImage("ssa", extraSpec: ["deletionPolicy": "Retain"])
            first["metadata"] = ["name": "ssa", "labels": ["a": "1", "b": "2"]]
            let created = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/ssa?fieldManager=m1", json: first,
                                           contentType: "application/apply-patch+yaml")
            #expect(created.status == 201)
            var second = managedImage("ssa")
            second["metadata"] = ["name": "ssa", "labels": ["a": "1"]]
            second["spec"] = ["base": ["imageType": "amazonlinux2023"], "pythonVersion": "3.12"]
            let updated = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/ssa?fieldManager=m1&force=true", json: second,
                                           contentType: "application/apply-patch+yaml")
            #expect(updated.status == 200)
            #expect(updated.json.at("metadata", "labels") as? [String: String] == ["a": "1"])
            #expect(updated.json.at("spec", "pipRequirements") == nil)
            #expect(updated.json.at("spec", "deletionPolicy") as? String == "Delete", "the removed field falls back to its default")
            let force = try await c.call(.PATCH, "/apis/mir.dev/v1alpha1/managedimages/ssa?force=true", json: ["metadata": ["labels": ["z": "1"]]],
                                         contentType: "application/merge-patch+json")
            #expect(force.status == 422)
        }
    }

    @Test func dryRunWarningsAndTokens() async throws {
        try await withCluster { c in
            let dry = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages?dryRun=All", json: managedImage("dry"))
            #expect(dry.status == 201)
            #expect(dry.json.at("metadata", "resourceVersion") == nil)
            #expect(try await c.call(.GET, "/apis/mir.dev/v1alpha1/managedimages/dry").status == 404)
            let warned = try await c.call(.POST, "/apis/mir.dev/v1alpha1/managedimages?fieldValidation=Warn",
                                          json: managedImage("warned", extraSpec: ["colour": "blue"]))
            #expect(warned.status == 201)
            #expect(warned.headers["Warning"].first == "299 - \"unknown field \\\"spec.colour\\\"\"")
        }
        let secured = try await LocalControlPlane().start(ControlPlaneConfiguration(insecurePort: 0, token: "s3cret", insecureRequiresToken: true))
        let client = HTTPClientBox()
        let denied = try await client.call(.GET, secured.insecureURL!.absoluteString + "/api/v1/namespaces")
        await client.shutdown()
        await secured.shutdown()
        #expect(denied.status == 401)
        #expect(denied.json["reason"] as? String == "Unauthorized")
        #expect(secured.kubeconfig().contains("token: s3cret"))
    }
}

@Suite struct ResourceVersionRuleTests {
    @Test func listResourceVersionRules() async throws {
        try await withCluster(crd: false) { c in
            let list = try await c.call(.GET, "/api/v1/namespaces").json
            let rv = Int(list.at("metadata", "resourceVersion") as? String ?? "") ?? 0
            #expect(try await c.call(.GET, "/api/v1/namespaces?resourceVersion=\(rv)").status == 200)
            let ahead = try await c.call(.GET, "/api/v1/namespaces?resourceVersion=\(rv + 100)")
            #expect(ahead.status == 504)
            #expect(ahead.json["message"] as? String == "Too large resource version: \(rv + 100), current: \(rv)")
            #expect(try await c.call(.GET, "/api/v1/namespaces?resourceVersionMatch=Exact").status == 400)
            #expect(try await c.call(.GET, "/api/v1/namespaces?resourceVersion=0&resourceVersionMatch=Exact").status == 400)
            #expect(try await c.call(.GET, "/api/v1/namespaces?resourceVersion=0&resourceVersionMatch=NotOlderThan").status == 200)
        }
    }
}
