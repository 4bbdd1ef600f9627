import Foundation
import Testing
import MirModel
@testable import MirSpec

@Suite("ConfigLoader")
struct ConfigLoaderTests {
    @Test("no path gives the defaults; an empty file too")
    func defaults() throws {
        #expect(try ConfigLoader.load(path: nil) == MirConfig())
        #expect(try ConfigLoader.parse(text: "# nothing\n", file: "mir.yaml") == MirConfig())
    }

    @Test("the corpus config: unquoted catalog keys stay X.Y, the catalog replaces the default")
    func corpusConfig() throws {
        let config = try Corpus.config()
        #expect(config.baseImages.keys.sorted() == ["rocky", "standard"])
        #expect(config.baseImages["standard"]?.packageType == .apt)
        #expect(config.baseImages["standard"]?.pythonVersions.keys.sorted() == ["3.10", "3.11", "3.12", "3.9"])
        #expect(config.baseImages["rocky"]?.packageType == .rpm)
        #expect(config.platformVersion == "2026.11")
        #expect(config.allowExternalBaseImages == false)
        #expect(config.repositoryPrefix == "mir/")
    }

    @Test("every key is read")
    func allKeys() throws {
        let text = """
        repositoryPrefix: team-a/mir/
        platformVersion: 1.4
        allowExternalBaseImages: true
        maxConcurrentBuilds: 8
        forceDeleteRepositories: true
        defaultLifecyclePolicy:
          rules:
            - rulePriority: 1
              selection: {tagStatus: any, countType: imageCountMoreThan, countNumber: 3}
              action: {type: expire}
        builder:
          kanikoImage: gcr.io/kaniko-project/executor:v1.23.2
          buildNamespace: builds
          serviceAccountName: builder.sa
          activeDeadlineSeconds: 600
          backoffLimit: 0
          ttlSecondsAfterFinished: 60
          simulateDelaySeconds: 0.5
        """
        let config = try ConfigLoader.parse(text: text, file: "mir.yaml")
        #expect(config.repositoryPrefix == "team-a/mir/")
        #expect(config.platformVersion == "1.4")
        #expect(config.allowExternalBaseImages)
        #expect(config.maxConcurrentBuilds == 8)
        #expect(config.forceDeleteRepositories)
        #expect(config.defaultLifecyclePolicy["rules"]?.arrayValue?.first?["selection"]?["countNumber"] == .number(3))
        #expect(config.builder == BuilderSettings(buildNamespace: "builds", serviceAccountName: "builder.sa", activeDeadlineSeconds: 600,
                                                  backoffLimit: 0, ttlSecondsAfterFinished: 60, simulateDelaySeconds: 0.5))
        #expect(config.baseImages == MirConfig.defaultCatalog)
    }

    @Test("invalid config is reported like specs, every problem with its position", arguments: [
        ("unknown: 1\n", "mir.yaml:1:1: error: unknown field \"unknown\""),
        ("repositoryPrefix: MIR/\n", "mir.yaml:1:19: error: repositoryPrefix \"MIR/\" contains the uppercase letter 'M'"),
        ("maxConcurrentBuilds: 0\n", "mir.yaml:1:22: error: must be between 1 and 100, found 0"),
        ("maxConcurrentBuilds: many\n", "mir.yaml:1:22: error: expected an integer, found a string"),
        ("allowExternalBaseImages: yes\n", "mir.yaml:1:26: error: expected a boolean (true or false), found a string"),
        ("baseImages:\n  standard:\n    packageType: apk\n    pythonVersions: {\"3.10\": r.example.com/p}\n", "mir.yaml:3:18: error: packageType must be rpm or apt"),
        ("baseImages:\n  standard:\n    packageType: apt\n    pythonVersions: {3.1.0: r.example.com/p}\n", "mir.yaml:4:22: error: Python version \"3.1.0\" is not of the form X.Y"),
        ("baseImages:\n  standard:\n    packageType: apt\n    pythonVersions: {\"3.10\": \"python:3.10;id\"}\n", "mir.yaml:4:30: error: image reference"),
        ("baseImages:\n  Standard: {packageType: apt, pythonVersions: {\"3.10\": r.example.com/p}}\n", "mir.yaml:2:3: error: imageType \"Standard\" must be a DNS-1123 label"),
        ("builder:\n  buildNamespace: Builds\n", "mir.yaml:2:19: error: buildNamespace \"Builds\" is not a valid namespace name"),
        ("defaultLifecyclePolicy: [1]\n", "mir.yaml:1:25: error: defaultLifecyclePolicy must be a mapping"),
        ("platformVersion: \"1.0 && id\"\n", "mir.yaml:1:18: error: platformVersion \"1.0 && id\" contains a space"),
        ("a: 1\n---\nb: 2\n", "mir.yaml:3:1: error: the config file must hold a single YAML document"),
        ("a: [\n", "mir.yaml:2:1: error: invalid YAML"),
        // Issue 8, problem 1: an empty prefix reaches every repository, one without '/' its neighbours' names.
        ("repositoryPrefix: \"\"\n", "mir.yaml:1:19: error: repositoryPrefix must not be empty"),
        ("repositoryPrefix: mir\n", "mir.yaml:1:19: error: repositoryPrefix \"mir\" must end with '/'"),
        ("installation: \"team a\"\n", "mir.yaml:1:15: error: installation \"team a\" contains a space"),
        ("allowEmpty: 1\n", "mir.yaml:1:13: error: expected a boolean (true or false)"),
        ("maxDeletionFraction: 2\n", "mir.yaml:1:22: error: must be between"),
        // Issue 8, problem 13: NaN is named as such (it used to say "expected a number, found a number").
        ("builder:\n  simulateDelaySeconds: .nan\n", "mir.yaml:2:25: error: expected a finite number, found NaN: not a finite number"),
        ("builder:\n  simulateDelaySeconds: -.inf\n", "mir.yaml:2:25: error: expected a finite number, found -infinity: not a finite number"),
        // Issue 8 §5: build pods need their own ServiceAccount.
        ("builder:\n  serviceAccountName: default\n", "mir.yaml:2:23: error: serviceAccountName must not be \"default\""),
    ])
    func invalid(_ text: String, _ expected: String) {
        do {
            _ = try ConfigLoader.parse(text: text, file: "mir.yaml")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.diagnostics.first?.description.hasPrefix(expected) == true, "\(error.diagnostics)")
        }
    }

    @Test("a missing config file is an error")
    func missingFile() {
        #expect(throws: DiagnosticsError.self) { try ConfigLoader.load(path: "/nonexistent/mir.yaml") }
    }

    @Test("issue 8: installation, allowEmpty and maxDeletionFraction; the installation id defaults to the prefix")
    func ownershipKeys() throws {
        let config = try ConfigLoader.parse(text: "repositoryPrefix: mir/team-a/\ninstallation: team-a@prod\nallowEmpty: true\nmaxDeletionFraction: 0.25\n",
                                            file: "mir.yaml")
        #expect(config.installation == "team-a@prod" && config.installationID == "team-a@prod")
        #expect(config.allowEmpty && config.maxDeletionFraction == 0.25)
        let defaults = try ConfigLoader.parse(text: "repositoryPrefix: mir/team-a/\n", file: "mir.yaml")
        #expect(defaults.installation == nil && defaults.installationID == "mir/team-a/")
        #expect(!defaults.allowEmpty && defaults.maxDeletionFraction == 0.1)
    }
}
