import Foundation
import Testing
import PropertyBased
import MirModel
@testable import MirSpec

@Suite("SpecLoader")
struct LoaderTests {
    static let config = MirConfig(baseImages: [
        "standard": BaseImageCatalogEntry(packageType: .apt, pythonVersions: ["3.10": "public.ecr.aws/docker/library/python:3.10", "3.11": "public.ecr.aws/docker/library/python:3.11"]),
        "rocky": BaseImageCatalogEntry(packageType: .rpm, pythonVersions: ["3.11": "quay.io/rocky/python:3.11"]),
    ])

    static func document(_ name: String, _ spec: String) -> String {
        "apiVersion: mir.dev/v1alpha1\nkind: ManagedImage\nmetadata:\n  name: \(name)\nspec:\n" + spec
    }

    @Test("a plain scalar that YAML reads as a number, boolean or null is refused in a string field, as the API refuses it")
    func nonStringScalars() throws {
        let cases: [(field: String, written: String, message: String)] = [
            ("  pythonVersion: 3.10\n", "3.10", #"pythonVersion must be a string; unquoted 3.10 is the number 3.1 in YAML, write "3.10""#),
            ("  pythonVersion: 3.1_0\n", "3.1_0", #"pythonVersion must be a string; unquoted 3.1_0 is the number 3.1 in YAML"#),
            ("  pythonVersion: 0x3\n", "0x3", #"pythonVersion must be a string; unquoted 0x3 is the number 3 in YAML, write "0x3""#),
            ("  pythonVersion: \"3.10\"\n  deletionPolicy: no\n", "no", #"deletionPolicy must be a string; unquoted no is the boolean false in YAML 1.1"#),
            ("  pythonVersion: \"3.10\"\n  deletionPolicy: true\n", "true", #"deletionPolicy must be a string; unquoted true is the boolean true in YAML, write "true""#),
            ("  pythonVersion: \"3.10\"\n  pipRequirements:\n    - {name: numpy, versionSpecifier: 1.20}\n", "1.20",
             #"versionSpecifier must be a string; unquoted 1.20 is the number 1.2 in YAML, write "1.20""#),
            ("  pythonVersion: \"3.10\"\n  pipRequirements:\n    - {name: numpy, versionSpecifier: 1e3}\n", "1e3",
             #"versionSpecifier must be a string; unquoted 1e3 is the number 1000 in YAML"#),
            ("  pythonVersion: \"3.10\"\n  packageRequirements:\n    - {name: gcc, versionSpecifier: 0b101}\n", "0b101",
             #"versionSpecifier must be a string; unquoted 0b101 is the number 5 in YAML"#),
        ]
        for (spec, written, message) in cases {
            let text = LoaderTests.document("a", "  base: {imageType: standard}\n" + spec)
            let result = SpecLoader.load(text: text, file: "a.yaml", config: LoaderTests.config)
            let error = try #require(result.errors.first, "\(written) was accepted")
            #expect(error.message.hasPrefix(message), "\(error.message)")
            #expect(error.code == .notAString)
            #expect(error.image == "a")
            #expect(result.images.isEmpty)
            // The column is the scalar's own.
            let line = text.split(separator: "\n", omittingEmptySubsequences: false)[(error.location?.line ?? 1) - 1]
            let atColumn = String(String.UnicodeScalarView(line.unicodeScalars.dropFirst((error.location?.column ?? 1) - 1)))
            #expect(atColumn.hasPrefix(written), "\(line)")
        }
        // Quoted, the same texts are strings; plain text that is no other type stays a string.
        let quoted = SpecLoader.load(text: LoaderTests.document("a", "  base: {imageType: standard}\n  pythonVersion: '3.10'\n  pipRequirements:\n    - {name: numpy, versionSpecifier: \"1.20\"}\n    - {name: scipy, versionSpecifier: 1.2.0}\n"),
                                     file: "a.yaml", config: LoaderTests.config)
        #expect(quoted.errors.isEmpty, "\(quoted.diagnostics)")
        #expect(quoted.images.first?.spec.pythonVersion == "3.10")
        #expect(quoted.images.first?.spec.pipRequirements.map(\.versionSpecifier) == ["1.20", "1.2.0"])
    }

    @Test("mir's own config is not an API object: unquoted numbers stay their text there")
    func configStaysLenient() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/mir.yaml"
        try "platformVersion: 2026.10\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: path).platformVersion == "2026.10")
    }

    @Test("a duplicate key is reported at the duplicate, with a note at the first")
    func duplicateKey() throws {
        let cases: [(text: String, error: (Int, Int), note: (Int, Int))] = [
            ("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n", (5, 3), (3, 3)),
            ("x: {k: 1, j: 2, k: 3}\n", (1, 17), (1, 5)),
            ("\"k\": 1\nk: 2\n", (2, 1), (1, 1)),
            ("k: 1\nk: 2\nk: 3\n", (2, 1), (1, 1)),
        ]
        for (text, at, noteAt) in cases {
            let result = SpecLoader.load(text: text, file: "d.yaml", config: LoaderTests.config)
            let error = try #require(result.errors.first)
            #expect(error.code == .duplicateKey)
            #expect(error.location == SourceLocation(file: "d.yaml", line: at.0, column: at.1), "\(text)")
            let note = try #require(error.notes.first)
            #expect(note.severity == .note)
            #expect(note.location == SourceLocation(file: "d.yaml", line: noteAt.0, column: noteAt.1), "\(text)")
            #expect(error.description.split(separator: "\n").count == 2)
        }
    }

    @Test("diagnostics print compiler-style with the field path")
    func printedForm() throws {
        let result = SpecLoader.load(text: LoaderTests.document("a", "  base: {imageType: standard}\n  pythonVersion: \"3.10\"\n  pipRequirements:\n    - name: ok\n    - name: \"x;y\"\n"),
                                     file: "specs/a.yaml", config: LoaderTests.config)
        let error = try #require(result.errors.first)
        #expect(error.description == #"specs/a.yaml:10:13: error: pip requirement name "x;y" contains the shell metacharacter ';' (at spec.pipRequirements[1].name)"#)
        #expect(result.images.isEmpty)
    }

    @Test("every problem of a document is reported, not only the first")
    func severalErrors() {
        let result = SpecLoader.load(text: LoaderTests.document("Bad", "  base: {imageType: nope}\n  deletionPolicy: Keep\n  extra: 1\n"),
                                     file: "a.yaml", config: LoaderTests.config)
        #expect(result.errors.map(\.fieldPath) == ["metadata.name", "spec.base.imageType", "spec.deletionPolicy", "spec.extra"])
    }

    @Test("parents: inheritance, invalid parents, missing parents, package types from the root")
    func parents() {
        let text = [
            LoaderTests.document("root", "  base: {imageType: rocky}\n  pythonVersion: \"3.11\"\n"),
            LoaderTests.document("child", "  base: {managedImage: root}\n  packageRequirements:\n    - name: Xorg-devel\n"),
            LoaderTests.document("bad-apt-child", "  base: {managedImage: apt-root}\n  packageRequirements:\n    - name: Xorg-devel\n"),
            LoaderTests.document("apt-root", "  base: {imageType: standard}\n  pythonVersion: \"3.10\"\n"),
            LoaderTests.document("grandchild", "  base: {managedImage: bad-apt-child}\n"),
            LoaderTests.document("orphan", "  base: {managedImage: nobody}\n"),
        ].joined(separator: "---\n")
        let result = SpecLoader.load(text: text, file: "f.yaml", config: LoaderTests.config)
        #expect(result.images.map(\.name) == ["root", "child", "apt-root"])
        let messages = result.errors.map(\.message)
        #expect(messages.count == 3)
        #expect(messages.contains { $0.contains("not a valid apt package name") })
        #expect(messages.contains { $0 == #"parent ManagedImage "bad-apt-child" is invalid (see its errors), so this image cannot be built"# })
        #expect(messages.contains { $0 == #"parent ManagedImage "nobody" does not exist"# })
    }

    @Test("external base images when allowed: grammar checked, pythonVersion and package types required")
    func externalImages() {
        var config = LoaderTests.config
        config.allowExternalBaseImages = true
        let good = SpecLoader.load(text: LoaderTests.document("ext", "  base: {image: \"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/base:1.2\"}\n  pythonVersion: \"3.9\"\n  packageRequirements:\n    - {name: gcc, type: rpm}\n"),
                                   file: "e.yaml", config: config)
        #expect(good.errors.isEmpty, "\(good.diagnostics)")
        #expect(good.images.first?.spec.base == .external("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/base:1.2"))
        let bad = SpecLoader.load(text: LoaderTests.document("ext", "  base: {image: \"base:1.2 && curl x\"}\n"), file: "e.yaml", config: config)
        #expect(bad.errors.first?.message.contains("a space") == true)
        let untyped = SpecLoader.load(text: LoaderTests.document("ext", "  base: {image: \"r.example.com/b\"}\n  pythonVersion: \"3.9\"\n  packageRequirements:\n    - {name: gcc}\n"), file: "e.yaml", config: config)
        #expect(untyped.errors.first?.message.contains("needs a type") == true)
        let noPython = SpecLoader.load(text: LoaderTests.document("ext", "  base: {image: \"r.example.com/b\"}\n"), file: "e.yaml", config: config)
        #expect(noPython.errors.first?.message.contains("pythonVersion is required") == true)
    }

    @Test("documents that are not ManagedImages: notes, empty documents, mir.dev kinds")
    func otherDocuments() {
        let result = SpecLoader.load(text: "---\n- a list\n---\nname: no kind\n---\n---\napiVersion: mir.dev/v1alpha1\nkind: ImagePolicy\n",
                                     file: "o.yaml", config: LoaderTests.config)
        #expect(result.diagnostics.map(\.severity) == [.note, .note, .error])
        #expect(result.diagnostics[1].message == "skipped document without kind")
        #expect(result.errors.first?.location == SourceLocation(file: "o.yaml", line: 8, column: 7))
    }

    @Test("a later document's syntax error is reported; earlier documents still load")
    func laterSyntaxError() {
        let text = LoaderTests.document("a", "  base: {imageType: standard}\n  pythonVersion: \"3.10\"\n") + "---\nkey: [unclosed\n"
        let result = SpecLoader.load(text: text, file: "s.yaml", config: LoaderTests.config)
        #expect(result.images.map(\.name) == ["a"])
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.location?.line == 10)
    }

    @Test("paths: nonexistent is an error, explicit files are read whatever their extension, duplicates once")
    func paths() throws {
        let directory = try TemporaryDirectory()
        let spec = directory.path + "/image.txt"
        try LoaderTests.document("a", "  base: {imageType: standard}\n  pythonVersion: \"3.10\"\n").write(toFile: spec, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory.path + "/.git", withIntermediateDirectories: true)
        try "broken: [".write(toFile: directory.path + "/.git/x.yaml", atomically: true, encoding: .utf8)
        let result = SpecLoader.load(paths: [spec, spec, directory.path, directory.path + "/missing"], config: LoaderTests.config)
        #expect(result.files == [spec])
        #expect(result.images.map(\.name) == ["a"])
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.message.contains("does not exist") == true)
    }

    @Test("limits are configurable and counted with aliases expanded")
    func limits() {
        let text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*a, *a, *a, *a, *a]\n"
        let tight = SpecLoader.load(text: text, file: "l.yaml", config: LoaderTests.config, limits: YAMLLimits(maxNodes: 50))
        #expect(tight.errors.first?.message.contains("exceeds the limit of 50") == true)
        let roomy = SpecLoader.load(text: text, file: "l.yaml", config: LoaderTests.config, limits: YAMLLimits(maxNodes: 100))
        #expect(roomy.errors.isEmpty)
    }

    @Test("images from the cluster API are validated with field paths and no locations")
    func clusterImages() throws {
        let images = [
            ManagedImage(name: "ok", spec: ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.10",
                                                            pipRequirements: [PipRequirement(name: "numpy", versionSpecifier: ">=1.2,<2")],
                                                            lifecyclePolicy: MirConfig.defaultLifecyclePolicy)),
            ManagedImage(name: "bad", spec: ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.10",
                                                             pipRequirements: [PipRequirement(name: "numpy"), PipRequirement(name: "x`id`")])),
            ManagedImage(name: "kid", spec: ManagedImageSpec(base: .managedImage("bad"))),
            ManagedImage(name: "cyc", spec: ManagedImageSpec(base: .managedImage("cyc"))),
        ]
        let byImage = SpecLoader.validateEach(images, config: LoaderTests.config)
        #expect(byImage["ok"]?.isEmpty == true)
        let bad = try #require(byImage["bad"]?.first)
        #expect(bad.location == nil)
        #expect(bad.fieldPath == "spec.pipRequirements[1].name")
        #expect(byImage["kid"]?.first?.message.contains("is invalid") == true)
        #expect(byImage["cyc"]?.first?.code == .invalidValue)
        #expect(byImage["cyc"]?.first?.message.contains("cannot be its own parent") == true)
        #expect(byImage["kid"]?.first?.code == .parentInvalid)
        #expect(byImage.allSatisfy { name, diagnostics in diagnostics.allSatisfy { $0.image == name } })
        let flat = SpecLoader.validate(images, config: LoaderTests.config)
        #expect(flat.count == 3)
        #expect(flat.first?.description.hasPrefix(#"error: ManagedImage "bad": pip requirement name"#) == true)
    }

    @Test("lifecycle violation paths map to the YAML node or its nearest ancestor")
    func lifecyclePaths() throws {
        let text = "rules:\n  - rulePriority: 1\n    selection:\n      countNumber: 0\n"
        let contents = YAMLSource.documents(in: text, file: "p.yaml", limits: .standard)
        let root = try #require(contents.documents.first)
        #expect(NodeReader.node(at: "rules[0].selection.countNumber", in: root).mark?.description == "4:20")
        #expect(NodeReader.node(at: "rules[0].selection.countUnit", in: root).mark?.description == "4:7")
        #expect(NodeReader.node(at: "rules[3].action", in: root).mark?.description == "2:3")
        #expect(NodeReader.pathComponents("rules[12].a.b") == [.key("rules"), .index(12), .key("a"), .key("b")])
    }

    /// End to end: nothing hostile ever reaches `images`, wherever it is written.
    @Test("hostile values written in YAML never produce an image")
    func hostileValuesNeverLoad() async {
        let fields = ["pip-name", "pip-spec", "pkg-name", "pkg-version", "name", "python"]
        await propertyCheck(input: Gen.element(of: GrammarTests.hostile), Gen.element(of: fields), Gen.letterOrNumber.string(of: 1...5)) { bad, field, text in
            let value = yamlQuoted(text.lowercased() + bad! + "1")
            var name = "img", python = "\"3.10\"", pipName = "numpy", pipSpec = "\"==1.0\"", pkgName = "gcc", pkgVersion = "\"1.0\""
            switch field! {
            case "pip-name": pipName = value
            case "pip-spec": pipSpec = value
            case "pkg-name": pkgName = value
            case "pkg-version": pkgVersion = value
            case "name": name = value
            default: python = value
            }
            let text = LoaderTests.document(name, "  base: {imageType: standard}\n  pythonVersion: \(python)\n  pipRequirements:\n    - {name: \(pipName), versionSpecifier: \(pipSpec)}\n  packageRequirements:\n    - {name: \(pkgName), versionSpecifier: \(pkgVersion)}\n")
            let result = SpecLoader.load(text: text, file: "h.yaml", config: LoaderTests.config)
            #expect(result.images.isEmpty, "\(text)")
            #expect(!result.errors.isEmpty)
        }
    }
}

/// A YAML double-quoted scalar for any text.
func yamlQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        default:
            if scalar.value < 0x20 || scalar.value > 0x7E {
                out += String(format: "\\U%08X", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

@Suite("SpecLoader extras")
struct LoaderExtrasTests {
    @Test("inherited settings follow the chain of parents")
    func inherited() {
        let result = SpecLoader.load(paths: [Corpus.root + "/good"], config: (try? Corpus.config()) ?? MirConfig())
        let settings = SpecLoader.inheritedSettings(result.images, config: (try? Corpus.config()) ?? MirConfig())
        #expect(settings["xgboost102-tf-gpu"] == InheritedSettings(pythonVersion: "3.10", packageType: .apt))
        #expect(settings["rocky-stats"] == InheritedSettings(pythonVersion: "3.12", packageType: .rpm))
        let orphan = ManagedImage(name: "orphan", spec: ManagedImageSpec(base: .managedImage("gone")))
        #expect(SpecLoader.inheritedSettings([orphan], config: MirConfig())["orphan"] == nil)
    }

    @Test("an empty directory is a warning, not an error")
    func emptyDirectory() throws {
        let directory = try TemporaryDirectory()
        let result = SpecLoader.load(paths: [directory.path], config: MirConfig())
        #expect(result.isComplete)
        #expect(result.diagnostics.map(\.severity) == [.warning])
    }
}

@Suite("SpecLoader fuzzing")
struct LoaderFuzzTests {
    static let tokens = ["a", "b1", ":", " ", "\n", "- ", "[", "]", "{", "}", "&x ", "*x", "!", "\"", "'", "#", "|", ">", "?", ",",
                         "\t", "\u{A0}", "é", "kind: ManagedImage\n", "apiVersion: mir.dev/v1alpha1\n", "---\n", "  ", "spec:\n",
                         "  base: {imageType: standard}\n", "metadata: {name: a}\n", "  pythonVersion: 3.10\n", "<<: *x\n", "!!str "]

    @Test("arbitrary YAML-ish text never crashes, and every error is located and fits on one line")
    func arbitraryText() async {
        await propertyCheck(count: 300, input: Gen.element(of: LoaderFuzzTests.tokens).array(of: 0...40)) { tokens in
            let text = tokens.map { $0! }.joined()
            let result = SpecLoader.load(text: text, file: "fuzz.yaml", config: MirConfig())
            for diagnostic in result.diagnostics {
                #expect(diagnostic.location?.file == "fuzz.yaml")
                #expect(!diagnostic.headline.contains("\n"), "\(diagnostic)")
                #expect(diagnostic.notes.allSatisfy { $0.location?.file == "fuzz.yaml" && !$0.headline.contains("\n") })
            }
            // What loads from files also passes the cluster-side validation.
            #expect(SpecLoader.validate(result.images, config: MirConfig()).isEmpty)
        }
    }
}
