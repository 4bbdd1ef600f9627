import MirBuild
import MirModel
import Testing

/// The render-time re-check answers exactly as MirModel's validator grammar does.
@Suite struct BuildInputGrammarTests {
    @Test(arguments: [
        ("public.ecr.aws/docker/library/python:3.12-slim-bookworm", true), ("docker.io/library/python:3.11-slim", true),
        ("localhost:5000/team/img:v1", true), ("registry.example.com/a/b__c/d-e.f:tag_1", true),
        ("example.com/img@sha256:" + String(repeating: "0", count: 64), true),
        ("example.com/img:tag@sha256:" + String(repeating: "a", count: 64), true),
        // No registry, or a digest other than sha256 with 64 lowercase hex digits: refused (the validator's rule).
        ("python", false), ("python:3.11-slim", false), ("img@sha256:" + String(repeating: "0", count: 64), false),
        ("example.com/img@sha512:" + String(repeating: "0", count: 128), false),
        ("example.com/img@sha256:" + String(repeating: "A", count: 64), false),
        ("example.com/" + String(repeating: "a", count: 256), false),
        ("", false), ("example.com/Python", false), ("example.com/python:", false), ("example.com/-python", false),
        ("example.com/python ", false), ("example.com/a//b", false), ("example.com/a/-b", false), ("example.com/a/b-", false),
        ("example.com/a:tag:tag", false), ("example.com/python:$TAG", false), ("example.com/python\n", false),
        ("example.com/img@sha256:xyz", false), ("ex ample.com/img", false), ("example.com:port/img", false),
        ("example.com/a/b:" + String(repeating: "t", count: 129), false),
    ])
    func imageReferences(reference: String, valid: Bool) {
        #expect(BuildInputGrammar.isImageReference(reference) == valid)
        #expect((SpecGrammar.imageReferenceProblem(reference) == nil) == valid)
    }

    @Test func pipNames() {
        for valid in ["numpy", "zope.interface", "Foo_Bar", "a", "b1", "x-y", String(repeating: "a", count: 128)] {
            #expect(BuildInputGrammar.isPipProjectName(valid), "\(valid)")
        }
        for invalid in ["", "-x", "x-", ".x", "x y", "x;y", "x[extra]", "x==1", "é", "x/y", String(repeating: "a", count: 129)] {
            #expect(!BuildInputGrammar.isPipProjectName(invalid), "\(invalid)")
        }
        #expect(BuildInputGrammar.normalizedPipName("Foo__Bar.-baz") == "foo-bar-baz")
    }

    @Test func pipSpecifiers() {
        #expect(BuildInputGrammar.parsePipSpecifier("1.0.2")?.map(\.description) == ["==1.0.2"])
        #expect(BuildInputGrammar.parsePipSpecifier(">=1.0,<2")?.map(\.description) == [">=1.0", "<2"])
        #expect(BuildInputGrammar.parsePipSpecifier("===1.0-foo")?.map(\.description) == ["===1.0-foo"])
        #expect(BuildInputGrammar.parsePipSpecifier("==1.*")?.map(\.description) == ["==1.*"])
        #expect(BuildInputGrammar.parsePipSpecifier("~=1.4.5,!=1.4.7")?.map(\.op) == [.compatible, .notEqual])
        for invalid in ["", ">=", ">=1,", ",>=1", ">=1.*", "~=1", "=1", ">>1", "1.0,<2", ">=1 ;x", ">=1\n", "@ http://x",
                        // Rules the two grammars disagreed on, now the stricter one:
                        " >= 1.0 , < 2 ", ">=1.0\t", "v1.0", ">=1.0+local", "~=1.0+local", "==1.0rc1.*", "===1.0-",
                        "==1.0foo", ">=" + String(repeating: "1", count: 511)] {
            #expect(BuildInputGrammar.parsePipSpecifier(invalid) == nil, "\(invalid)")
            #expect(SpecGrammar.versionSpecifierProblem(invalid) != nil, "\(invalid)")
        }
    }

    @Test func packages() {
        #expect(BuildInputGrammar.isPackageName("g++", type: .apt))
        #expect(BuildInputGrammar.isPackageName("libssl3", type: .apt))
        #expect(!BuildInputGrammar.isPackageName("LibSSL", type: .apt))
        #expect(!BuildInputGrammar.isPackageName("g", type: .apt))
        #expect(BuildInputGrammar.isPackageName("ImageMagick", type: .rpm))
        #expect(BuildInputGrammar.isPackageName("python3_devel", type: .rpm))
        #expect(!BuildInputGrammar.isPackageName("_private", type: .rpm))
        #expect(!BuildInputGrammar.isPackageName("curl-", type: .apt))
        #expect(!BuildInputGrammar.isPackageName("curl-", type: .rpm))
        #expect(!BuildInputGrammar.isPackageName("curl/bookworm", type: .apt))
        #expect(!BuildInputGrammar.isPackageName(String(repeating: "a", count: 129), type: .rpm))
        #expect(BuildInputGrammar.isPackageVersion("1:2.3.4-5~deb12u1", type: .apt))
        #expect(BuildInputGrammar.isPackageVersion("3.11.5-1.el9_3", type: .rpm))
        #expect(!BuildInputGrammar.isPackageVersion("3.11.5-1.el9_3", type: .apt))
        #expect(!BuildInputGrammar.isPackageVersion("1.0^git1", type: .rpm))
        #expect(!BuildInputGrammar.isPackageVersion("v1.0", type: .apt))
        #expect(!BuildInputGrammar.isPackageVersion("1.0 ", type: .rpm))
    }

    @Test func labelsAndTags() {
        #expect(BuildInputGrammar.isDNSLabel("a-b-1"))
        #expect(!BuildInputGrammar.isDNSLabel(String(repeating: "a", count: 64)))
        #expect(!BuildInputGrammar.isDNSLabel("../x"))
        #expect(BuildInputGrammar.isDNSSubdomain("mir-builder.team"))
        #expect(!BuildInputGrammar.isDNSSubdomain("mir..builder"))
        #expect(BuildInputGrammar.isImageTag("py3.11-0123456789abcdef0123"))
        #expect(BuildInputGrammar.isImageTag("_x"))
        #expect(!BuildInputGrammar.isImageTag(".hidden"))
        #expect(!BuildInputGrammar.isImageTag("a/b"))
        #expect(BuildInputGrammar.isPlatformVersion("2026.11"))
        #expect(!BuildInputGrammar.isPlatformVersion("1.0-"))
        #expect(!BuildInputGrammar.isPlatformVersion(String(repeating: "1", count: 64)))
    }
}
