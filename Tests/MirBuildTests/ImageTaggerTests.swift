import MirBuild
import MirModel
import PropertyBased
import Testing

@Suite struct ImageTaggerTests {
    let spec = ManagedImageSpec(
        base: .imageType("standard"), pythonVersion: "3.11",
        pipRequirements: [PipRequirement(name: "numpy", versionSpecifier: ">=1.26,<2"),
                          PipRequirement(name: "Foo_Bar", versionSpecifier: "1.0.2"),
                          PipRequirement(name: "requests")],
        packageRequirements: [PackageRequirement(name: "curl", versionSpecifier: "7.88.1-10"),
                              PackageRequirement(name: "git")])

    func tag(_ spec: ManagedImageSpec, base: ResolvedBase = .reference("python:3.11-slim"), python: String = "3.11",
             platform: String = "0.1.0", type: PackageType = .apt) -> String {
        ImageTagger.tag(specDigest: ImageTagger.specDigest(spec), base: base, pythonVersion: python,
                        platformVersion: platform, packageType: type)
    }

    @Test func tagHasTheDocumentedShape() {
        let t = tag(spec)
        #expect(t.hasPrefix("py3.11-"))
        let hash = t.dropFirst("py3.11-".count)
        #expect(hash.count == 20)
        #expect(hash.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(ImageTagger.specDigest(spec).hasPrefix("sha256:"))
        #expect(ImageTagger.specDigest(spec).count == 7 + 64)
    }

    @Test func sameInputsGiveTheSameTag() {
        #expect(tag(spec) == tag(spec))
    }

    @Test func orderAndFormattingDoNotMatter() {
        var reordered = spec
        reordered.pipRequirements = [PipRequirement(name: "requests"),
                                     PipRequirement(name: "foo-bar", versionSpecifier: " ==1.0.2 "),
                                     PipRequirement(name: "NumPy", versionSpecifier: "< 2 , >= 1.26")]
        reordered.packageRequirements.reverse()
        #expect(ImageTagger.specDigest(reordered) == ImageTagger.specDigest(spec))
        #expect(tag(reordered) == tag(spec))
    }

    @Test(arguments: [
        "add a pip requirement", "change a specifier", "remove a package", "change a package version",
        "change the python version in the spec", "change the base image type",
    ])
    func anySpecChangeGivesANewTag(change: String) {
        var changed = spec
        switch change {
        case "add a pip requirement": changed.pipRequirements.append(PipRequirement(name: "pandas"))
        case "change a specifier": changed.pipRequirements[0].versionSpecifier = ">=1.26,<3"
        case "remove a package": changed.packageRequirements.removeLast()
        case "change a package version": changed.packageRequirements[0].versionSpecifier = "7.88.1-11"
        case "change the python version in the spec": changed.pythonVersion = "3.12"
        default: changed.base = .imageType("gpu")
        }
        #expect(ImageTagger.specDigest(changed) != ImageTagger.specDigest(spec))
        #expect(tag(changed) != tag(spec))
    }

    @Test func everyOtherInputChangesTheTag() {
        let reference = tag(spec)
        #expect(tag(spec, base: .reference("python:3.11-slim-bookworm")) != reference)
        #expect(tag(spec, python: "3.12") != reference)
        #expect(tag(spec, platform: "0.2.0") != reference)
        #expect(tag(spec, type: .rpm) != reference)
        let parent1 = tag(spec, base: .managed(name: "base", tag: "py3.11-aaaaaaaaaaaaaaaaaaaa", repositoryName: "mir/base"))
        let parent2 = tag(spec, base: .managed(name: "base", tag: "py3.11-bbbbbbbbbbbbbbbbbbbb", repositoryName: "mir/base"))
        let otherParent = tag(spec, base: .managed(name: "other", tag: "py3.11-aaaaaaaaaaaaaaaaaaaa", repositoryName: "mir/base"))
        #expect(parent1 != parent2)
        #expect(parent1 != otherParent)
    }

    @Test func parentIsIdentifiedByNameAndTagNotRepository() {
        let a = tag(spec, base: .managed(name: "base", tag: "py3.11-aaaaaaaaaaaaaaaaaaaa", repositoryName: "mir/base"))
        let b = tag(spec, base: .managed(name: "base", tag: "py3.11-aaaaaaaaaaaaaaaaaaaa", repositoryName: "team-x/base"))
        #expect(a == b)
    }

    @Test func lifecycleAndDeletionPoliciesDoNotChangeTheTag() {
        var changed = spec
        changed.lifecyclePolicy = MirConfig.defaultLifecyclePolicy
        changed.deletionPolicy = .retain
        #expect(ImageTagger.specDigest(changed) == ImageTagger.specDigest(spec))
        #expect(tag(changed) == tag(spec))
    }

    @Test func specifierCanonicalForm() {
        #expect(ImageTagger.canonicalSpecifier(" <2 , >=1.0,>=1.0 ") == "<2,>=1.0")
        #expect(ImageTagger.canonicalSpecifier("1.0.2") == "==1.0.2")
        // Text that does not parse is kept, trimmed: the digest is still defined.
        #expect(ImageTagger.canonicalSpecifier(" ;rm -rf / ") == ";rm -rf /")
    }

    @Test func tagIsAlwaysAValidRegistryTag() async {
        await propertyCheck(input: Gen.ascii.string(of: 0...12), Gen.letterOrNumber.string(of: 1...20)) { python, platform in
            let t = tag(spec, python: python, platform: platform)
            #expect(BuildInputGrammar.isImageTag(t))
            #expect(t.count <= 128)
        }
    }

    /// Shuffling requirements never changes the digest.
    @Test func shufflingRequirementsKeepsTheDigest() async {
        let names = ["numpy", "pandas", "scipy", "Requests", "foo.bar", "zope_interface", "a", "b1"]
        await propertyCheck(input: Gen<[String]>.shuffled(names)) { shuffled in
            let a = ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.11",
                                     pipRequirements: names.map { PipRequirement(name: $0, versionSpecifier: ">=1") })
            let b = ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.11",
                                     pipRequirements: shuffled.map { PipRequirement(name: $0, versionSpecifier: ">= 1") })
            #expect(ImageTagger.specDigest(a) == ImageTagger.specDigest(b))
        }
    }
}
