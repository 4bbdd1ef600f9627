import MirBuild
import MirModel
import Testing

@Suite struct DesiredStateResolverTests {
    let config = MirConfig(repositoryPrefix: "team/", platformVersion: "1.2.3")

    @Test func parentsComeFirstAndTiesAreOrderedByName() throws {
        let images = [
            Fixture.child("zeta-child", of: "alpha"),
            Fixture.child("grandchild", of: "zeta-child"),
            Fixture.image("zulu"),
            Fixture.child("beta", of: "alpha"),
            Fixture.image("alpha"),
        ]
        let resolved = try DesiredStateResolver.resolve(images, config: config)
        #expect(resolved.map(\.name) == ["alpha", "zulu", "beta", "zeta-child", "grandchild"])
        // Every parent appears before its children.
        for (index, image) in resolved.enumerated() {
            if let parent = image.parentName {
                #expect(resolved.firstIndex { $0.name == parent }! < index)
            }
        }
    }

    @Test func derivesRepositoryPythonBaseAndPolicy() throws {
        let policy = JSONValue.object(["rules": .array([])])
        let images = [Fixture.image("root", python: "3.12", lifecycle: policy), Fixture.child("kid", of: "root")]
        let resolved = try DesiredStateResolver.resolve(images, config: config)
        let root = resolved[0], kid = resolved[1]
        #expect(root.repositoryName == "team/root")
        #expect(root.base == .reference("public.ecr.aws/docker/library/python:3.12-slim-bookworm"))
        #expect(root.packageType == .apt)
        #expect(root.lifecyclePolicy == policy)
        #expect(kid.pythonVersion == "3.12")
        #expect(kid.packageType == .apt)
        #expect(kid.base == .managed(name: "root", tag: root.tag, repositoryName: "team/root"))
        #expect(kid.lifecyclePolicy == MirConfig.defaultLifecyclePolicy)
        #expect(kid.tag.hasPrefix("py3.12-"))
        #expect(root.specDigest == ImageTagger.specDigest(images[0].spec))
        #expect(root.tag == ImageTagger.tag(specDigest: root.specDigest, base: root.base, pythonVersion: "3.12",
                                            platformVersion: "1.2.3", packageType: .apt))
    }

    @Test func childTagChangesWhenTheParentChanges() throws {
        let before = try DesiredStateResolver.resolve([Fixture.image("root"), Fixture.child("kid", of: "root")], config: config)
        let after = try DesiredStateResolver.resolve(
            [Fixture.image("root", pip: [PipRequirement(name: "numpy")]), Fixture.child("kid", of: "root")], config: config)
        #expect(before[1].specDigest == after[1].specDigest)
        #expect(before[1].tag != after[1].tag)
        #expect(after[1].parentTag == after[0].tag)
    }

    @Test func platformVersionChangesEveryTag() throws {
        let images = [Fixture.image("root"), Fixture.child("kid", of: "root")]
        let a = try DesiredStateResolver.resolve(images, config: config)
        var upgraded = config
        upgraded.platformVersion = "1.3.0"
        let b = try DesiredStateResolver.resolve(images, config: upgraded)
        #expect(a[0].tag != b[0].tag)
        #expect(a[1].tag != b[1].tag)
        #expect(a.map(\.specDigest) == b.map(\.specDigest))
    }

    @Test func lifecyclePolicyChangeKeepsTheTag() throws {
        let a = try DesiredStateResolver.resolve([Fixture.image("root")], config: config)
        let b = try DesiredStateResolver.resolve([Fixture.image("root", lifecycle: .object(["rules": .array([])]))], config: config)
        #expect(a[0].tag == b[0].tag)
        #expect(a[0].lifecyclePolicy != b[0].lifecyclePolicy)
    }

    @Test func tagsDoNotDependOnTheRepositoryPrefix() throws {
        let images = [Fixture.image("root"), Fixture.child("kid", of: "root")]
        let a = try DesiredStateResolver.resolve(images, config: MirConfig(repositoryPrefix: "a/"))
        let b = try DesiredStateResolver.resolve(images, config: MirConfig(repositoryPrefix: "b/"))
        #expect(a.map(\.tag) == b.map(\.tag))
        #expect(a.map(\.repositoryName) != b.map(\.repositoryName))
    }

    @Test func externalBasePackageType() throws {
        var allowing = config
        allowing.allowExternalBaseImages = true
        let rpmOnly = Fixture.image("r", base: .external("registry.example.com/ubi9/python-311:1"),
                                    packages: [PackageRequirement(name: "gcc", type: .rpm)])
        let mixed = Fixture.image("m", base: .external("registry.example.com/ubi9/python-311:1"),
                                  packages: [PackageRequirement(name: "gcc", type: .rpm), PackageRequirement(name: "git")])
        let none = Fixture.image("n", base: .external("registry.example.com/ubi9/python-311:1"))
        let resolved = try DesiredStateResolver.resolve([rpmOnly, mixed, none, Fixture.child("rc", of: "r")], config: allowing)
        let byName = Dictionary(uniqueKeysWithValues: resolved.map { ($0.name, $0) })
        #expect(byName["r"]?.packageType == .rpm)
        #expect(byName["rc"]?.packageType == .rpm)
        #expect(byName["m"]?.packageType == .apt)
        #expect(byName["n"]?.packageType == .apt)
        #expect(byName["r"]?.base == .reference("registry.example.com/ubi9/python-311:1"))
    }

    @Test func catalogPackageTypeIsInherited() throws {
        let catalog = ["ubi": BaseImageCatalogEntry(packageType: .rpm, pythonVersions: ["3.11": "registry.example.com/ubi9/python-311:1"])]
        let resolved = try DesiredStateResolver.resolve(
            [Fixture.image("root", base: .imageType("ubi")), Fixture.child("kid", of: "root")],
            config: MirConfig(baseImages: catalog))
        #expect(resolved.map(\.packageType) == [.rpm, .rpm])
    }

    @Test func errorsAreTypedAndNeverCrash() {
        #expect(throws: ResolutionError.missingParent(image: "kid", parent: "ghost")) {
            try DesiredStateResolver.resolve([Fixture.child("kid", of: "ghost")], config: config)
        }
        #expect(throws: ResolutionError.cycle(["a", "b"])) {
            try DesiredStateResolver.resolve([Fixture.child("a", of: "b"), Fixture.child("b", of: "a")], config: config)
        }
        #expect(throws: ResolutionError.cycle(["self"])) {
            try DesiredStateResolver.resolve([Fixture.child("self", of: "self")], config: config)
        }
        #expect(throws: ResolutionError.duplicateName("a")) {
            try DesiredStateResolver.resolve([Fixture.image("a"), Fixture.image("a")], config: config)
        }
        #expect(throws: ResolutionError.unknownImageType(image: "a", imageType: "gpu")) {
            try DesiredStateResolver.resolve([Fixture.image("a", base: .imageType("gpu"))], config: config)
        }
        #expect(throws: ResolutionError.pythonVersionNotInCatalog(image: "a", imageType: "standard", pythonVersion: "2.7")) {
            try DesiredStateResolver.resolve([Fixture.image("a", python: "2.7")], config: config)
        }
        #expect(throws: ResolutionError.missingPythonVersion(image: "a")) {
            try DesiredStateResolver.resolve([Fixture.image("a", python: nil)], config: config)
        }
        #expect(throws: ResolutionError.externalBaseNotAllowed(image: "a", reference: "x/y:1")) {
            try DesiredStateResolver.resolve([Fixture.image("a", base: .external("x/y:1"))], config: config)
        }
        var kid = Fixture.child("kid", of: "root")
        kid.spec.pythonVersion = "3.12"
        #expect(throws: ResolutionError.self) {
            try DesiredStateResolver.resolve([Fixture.image("root"), kid], config: config)
        }
        // A cycle hanging below a valid root is still found.
        #expect(throws: ResolutionError.self) {
            try DesiredStateResolver.resolve([Fixture.image("root"), Fixture.child("x", of: "y"), Fixture.child("y", of: "x")], config: config)
        }
    }
}
