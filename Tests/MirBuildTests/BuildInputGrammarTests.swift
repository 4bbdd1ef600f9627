import MirBuild
import MirModel
import Testing

@Suite struct BuildInputGrammarTests {
    @Test(arguments: [
        ("python", true), ("python:3.11-slim", true), ("public.ecr.aws/docker/library/python:3.12-slim-bookworm", true),
        ("localhost:5000/team/img:v1", true), ("registry.example.com/a/b__c/d-e.f:tag_1", true),
        ("img@sha256:" + String(repeating: "0", count: 64), true), ("img:tag@sha256:" + String(repeating: "a", count: 64), true),
        ("", false), ("Python", false), ("python:", false), ("-python", false), ("python ", false), ("a//b", false),
        ("a/-b", false), ("a/b-", false), ("a:tag:tag", false), ("python:$TAG", false), ("python\n", false),
        ("img@sha256:xyz", false), ("ex ample.com/img", false), ("example.com:port/img", false), ("a/b:" + String(repeating: "t", count: 129), false),
    ])
    func imageReferences(reference: String, valid: Bool) {
        #expect(BuildInputGrammar.isImageReference(reference) == valid)
    }

    @Test func pipNames() {
        for valid in ["numpy", "zope.interface", "Foo_Bar", "a", "b1", "x-y"] { #expect(BuildInputGrammar.isPipProjectName(valid), "\(valid)") }
        for invalid in ["", "-x", "x-", ".x", "x y", "x;y", "x[extra]", "x==1", "é", "x/y"] {
            #expect(!BuildInputGrammar.isPipProjectName(invalid), "\(invalid)")
        }
        #expect(BuildInputGrammar.normalizedPipName("Foo__Bar.-baz") == "foo-bar-baz")
    }

    @Test func pipSpecifiers() {
        #expect(BuildInputGrammar.parsePipSpecifier("1.0.2")?.map(\.description) == ["==1.0.2"])
        #expect(BuildInputGrammar.parsePipSpecifier(" >= 1.0 , < 2 ")?.map(\.description) == [">=1.0", "<2"])
        #expect(BuildInputGrammar.parsePipSpecifier("===1.0-foo")?.map(\.description) == ["===1.0-foo"])
        #expect(BuildInputGrammar.parsePipSpecifier("==1.*")?.map(\.description) == ["==1.*"])
        for invalid in ["", ">=", ">=1,", ",>=1", ">=1.*", "~=1", "=1", ">>1", "1.0,<2", ">=1 ;x", ">=1\n", "@ http://x"] {
            #expect(BuildInputGrammar.parsePipSpecifier(invalid) == nil, "\(invalid)")
        }
    }

    @Test func packages() {
        #expect(BuildInputGrammar.isPackageName("g++", type: .apt))
        #expect(BuildInputGrammar.isPackageName("libssl3", type: .apt))
        #expect(!BuildInputGrammar.isPackageName("LibSSL", type: .apt))
        #expect(BuildInputGrammar.isPackageName("ImageMagick", type: .rpm))
        #expect(BuildInputGrammar.isPackageName("python3_devel", type: .rpm))
        #expect(!BuildInputGrammar.isPackageName("curl-", type: .apt))
        #expect(!BuildInputGrammar.isPackageName("curl/bookworm", type: .apt))
        #expect(BuildInputGrammar.isPackageVersion("1:2.3.4-5~deb12u1", type: .apt))
        #expect(BuildInputGrammar.isPackageVersion("3.11.5-1.el9_3", type: .rpm))
        #expect(!BuildInputGrammar.isPackageVersion("3.11.5-1.el9_3", type: .apt))
        #expect(!BuildInputGrammar.isPackageVersion("v1.0", type: .apt))
        #expect(!BuildInputGrammar.isPackageVersion("1.0 ", type: .rpm))
    }

    @Test func labelsAndTags() {
        #expect(BuildInputGrammar.isDNSLabel("a-b-1"))
        #expect(!BuildInputGrammar.isDNSLabel(String(repeating: "a", count: 64)))
        #expect(!BuildInputGrammar.isDNSLabel("../x"))
        #expect(BuildInputGrammar.isImageTag("py3.11-0123456789abcdef0123"))
        #expect(!BuildInputGrammar.isImageTag(".hidden"))
        #expect(!BuildInputGrammar.isImageTag("a/b"))
    }
}
