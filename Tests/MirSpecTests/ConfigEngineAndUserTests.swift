import Foundation
import MirModel
import MirSpec
import Testing

@Suite("ConfigLoader: builder.engine and catalog users")
struct ConfigEngineAndUserTests {
    @Test func readsEngineAndUser() throws {
        let config = try ConfigLoader.parse(text: """
            builder:
              engine: podman
            baseImages:
              ubi:
                packageType: rpm
                user: "1001"
                pythonVersions: {"3.11": "registry.access.redhat.com/ubi9/python-311:1"}
              plain:
                packageType: apt
                pythonVersions: {"3.11": "docker.io/library/python:3.11-slim"}
            """, file: "mir.yaml")
        #expect(config.builder.engine == "podman")
        #expect(config.baseImages["ubi"]?.user == "1001")
        #expect(config.baseImages["plain"]?.user == nil)
        #expect(try ConfigLoader.parse(text: "maxConcurrentBuilds: 2\n", file: "mir.yaml").builder.engine == nil)
    }

    @Test func refusesUnknownEnginesAndHostileUsers() {
        for (text, expected) in [
            ("builder:\n  engine: kaniko\n", "mir.yaml:2:11: error: engine must be buildah, podman or docker, found \"kaniko\""),
            ("baseImages:\n  u:\n    packageType: apt\n    user: \"1001; rm -rf /\"\n    pythonVersions: {\"3.11\": \"python:3.11\"}\n",
             "mir.yaml:4:11: error: user \"1001; rm -rf /\" must be a user name or uid"),
        ] {
            do {
                _ = try ConfigLoader.parse(text: text, file: "mir.yaml")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.diagnostics.first?.description.hasPrefix(expected) == true, "\(error.diagnostics)")
            }
        }
        for user in ["1001", "app", "app:app", "1001:0", "_svc.x-1"] { #expect(SpecGrammar.isImageUser(user), "\(user)") }
        for user in ["", "a b", "$USER", "a:b:c", "-x", "a\nb", ":0", String(repeating: "a", count: 33)] {
            #expect(!SpecGrammar.isImageUser(user), "\(user)")
        }
    }
}
