import Foundation
import MirBuild
import MirModel
import PropertyBased
import Testing

/// Characters that break shells, Dockerfiles, JSON or line structure, plus a few valid ones.
let hostileCharacters: [Character] = Array("aZ09._-+=<>!~*,;|&$`'\"\\ \t\n\r(){}[]#?/:@%^") +
    ["\u{2028}", "\u{2029}", "\u{85}", "\u{0}", "\u{7f}", "\u{1b}", "é", "😀", "\r\n"]
let hostileStrings = Gen<Character?>.element(of: hostileCharacters).map { $0! }.string(of: 0...16)
/// A plausible start, so that some generated values pass the grammar and some fail only late.
let plausiblePrefixes = Gen<String?>.element(of: ["numpy", "curl", ">=1.0", "1.2.3", "", "a", "==2.0,<3", "python:3.11", "example.com/python:3.11"]).map { $0! }

/// The Dockerfile for a request, or the renderer's typed error.
func render(_ request: BuildRequest) -> Result<String, BuildContextError> {
    do { return .success(try BuildContextRenderer.dockerfile(for: request)) } catch { return .failure(error) }
}

/// Checks the structure every rendered Dockerfile must have and returns its RUN argument vectors.
func structure(of dockerfile: String) -> (instructions: [String], runs: [[String]]) {
    #expect(dockerfile.hasSuffix("\n"))
    // Pure printable ASCII plus the line feeds between instructions: no CR, no Unicode line separators.
    #expect(dockerfile.unicodeScalars.allSatisfy { ($0.value >= 0x20 && $0.value < 0x7f) || $0 == "\n" })
    var instructions: [String] = []
    var runs: [[String]] = []
    for line in dockerfile.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
        let keyword = String(line.prefix { $0 != " " })
        #expect(BuildContextRenderer.instructions.contains(keyword), "unknown instruction line: \(line)")
        #expect(!line.hasSuffix("\\"), "line continuation: \(line)")
        instructions.append(keyword)
        if keyword == "RUN" {
            let json = line.dropFirst(4)
            #expect(json.hasPrefix("["), "RUN not in exec form: \(line)")
            let parsed = JSONValue.parse(String(json))?.arrayValue?.compactMap(\.stringValue)
            let count = JSONValue.parse(String(json))?.arrayValue?.count
            #expect(parsed != nil && parsed?.count == count, "RUN is not a JSON array of strings: \(line)")
            runs.append(parsed ?? [])
        }
    }
    return (instructions, runs)
}

@Suite struct BuildContextRendererTests {
    @Test func rendersTheDocumentedInstructions() throws {
        let request = Fixture.rawRequest(
            pip: [PipRequirement(name: "numpy", versionSpecifier: "1.0.2"),
                  PipRequirement(name: "pandas", versionSpecifier: ">=2.0,<3"),
                  PipRequirement(name: "requests")],
            packages: [PackageRequirement(name: "curl", versionSpecifier: "7.88.1-10"),
                       PackageRequirement(name: "git"),
                       PackageRequirement(name: "gcc", versionSpecifier: "11.4.1", type: .rpm)])
        let dockerfile = try BuildContextRenderer.dockerfile(for: request)
        let lines = dockerfile.split(separator: "\n").map(String.init)
        #expect(lines.first == "FROM docker.io/library/python:3.11-slim")
        let apt = DockerfileText.execForm(["sh", "-c", BuildContextRenderer.aptScript, "apt-install", "curl=7.88.1-10", "git"])
        let dnf = DockerfileText.execForm(["sh", "-c", BuildContextRenderer.dnfScript, "dnf-install", "gcc-11.4.1"])
        #expect(lines.contains("RUN " + apt))
        #expect(lines.contains("RUN " + dnf))
        #expect(lines.contains(#"RUN ["python","-m","pip","install","--no-cache-dir","--disable-pip-version-check","--","numpy==1.0.2","pandas>=2.0,<3","requests"]"#))
        #expect(lines.last?.hasPrefix(#"RUN ["python","-c",""#) == true)
        #expect(lines.last?.contains("/opt/mir/pip-list.json") == true)
        // OS packages before pip, the report last; apt's lists are removed in the same RUN that fetched them.
        let install = lines.firstIndex(of: "RUN " + apt)!
        let pip = lines.firstIndex { $0.contains(#""pip","install""#) }!
        #expect(install < pip && pip < lines.count - 1)
        #expect(BuildContextRenderer.aptScript.hasSuffix("rm -rf /var/lib/apt/lists/*"))
        #expect(BuildContextRenderer.aptScript.hasPrefix("set -e; apt-get update;"))
        let s = structure(of: dockerfile)
        #expect(s.instructions == ["FROM", "LABEL", "ARG", "RUN", "RUN", "RUN", "RUN"])
    }

    @Test func nonRootBaseSwitchesToRootForPackagesAndTheReportAndBack() throws {
        var request = Fixture.rawRequest(pip: [PipRequirement(name: "six")], packages: [PackageRequirement(name: "jq")])
        request.image.baseUser = "1001"
        let lines = try BuildContextRenderer.dockerfile(for: request).split(separator: "\n").map(String.init)
        let apt = lines.firstIndex { $0.contains(#""apt-install""#) }!
        let pip = lines.firstIndex { $0.contains(#""pip","install""#) }!
        #expect(lines[apt - 2] == "USER root" && lines[apt - 1].hasPrefix("ARG "))
        #expect(lines[apt + 1] == "USER 1001")
        // pip installs as the image's user (into its environment); the report is saved as root, then the user is back.
        #expect(lines[pip - 1] == "USER 1001")
        #expect(Array(lines.suffix(3)).map { String($0.prefix(8)) } == ["USER roo", "RUN [\"py", "USER 100"])
        #expect(lines.last == "USER 1001")

        // Without OS packages only the report step switches.
        var plain = Fixture.rawRequest(pip: [PipRequirement(name: "six")])
        plain.image.baseUser = "app:app"
        let text = try BuildContextRenderer.dockerfile(for: plain)
        #expect(text.components(separatedBy: "USER root").count == 2)
        #expect(text.hasSuffix("USER app:app\n"))
        // A root base gets no USER lines at all.
        #expect(!(try BuildContextRenderer.dockerfile(for: Fixture.rawRequest(packages: [PackageRequirement(name: "jq")]))).contains("USER"))
    }

    @Test func hostileBaseUserIsRefused() throws {
        for user in ["1001 && rm -rf /", "$(id)", "root\nRUN x", "", "a:b:c", "-1"] {
            var request = Fixture.rawRequest(packages: [PackageRequirement(name: "jq")])
            request.image.baseUser = user
            #expect(throws: BuildContextError.self) { try BuildContextRenderer.dockerfile(for: request) }
        }
    }

    @Test func goldenDockerfile() throws {
        let request = Fixture.rawRequest(
            pip: [PipRequirement(name: "numpy", versionSpecifier: "1.26.4"), PipRequirement(name: "requests", versionSpecifier: ">=2.31,<3")],
            packages: [PackageRequirement(name: "git"), PackageRequirement(name: "curl", versionSpecifier: "7.88.1-10+deb12u5")],
            base: "public.ecr.aws/docker/library/python:3.11-slim-bookworm")
        let expected = """
            FROM public.ecr.aws/docker/library/python:3.11-slim-bookworm
            LABEL dev.mir.image="demo" dev.mir.tag="py3.11-0123456789abcdef0123" dev.mir.platform-version="0.1.0"
            ARG DEBIAN_FRONTEND=noninteractive
            RUN ["sh","-c","set -e; apt-get update; apt-get install -y --no-install-recommends -- \\"$@\\"; apt-get clean; rm -rf /var/lib/apt/lists/*","apt-install","git","curl=7.88.1-10+deb12u5"]
            RUN ["python","-m","pip","install","--no-cache-dir","--disable-pip-version-check","--","numpy==1.26.4","requests>=2.31,<3"]
            RUN ["python","-c","import os,subprocess,sys; os.makedirs('/opt/mir',exist_ok=True); out=subprocess.run([sys.executable,'-m','pip','list','--format=json','--disable-pip-version-check'],check=True,stdout=subprocess.PIPE).stdout; open('/opt/mir/pip-list.json','wb').write(out)"]

            """
        #expect(try BuildContextRenderer.dockerfile(for: request) == expected)
    }

    @Test func minimalImageHasOnlyTheReportStep() throws {
        let dockerfile = try BuildContextRenderer.dockerfile(for: Fixture.rawRequest())
        #expect(structure(of: dockerfile).instructions == ["FROM", "LABEL", "RUN"])
        #expect(!dockerfile.contains("apt-get") && !dockerfile.contains("dnf"))
    }

    @Test func reportScriptIsFixed() throws {
        let a = try BuildContextRenderer.dockerfile(for: Fixture.rawRequest(pip: [PipRequirement(name: "numpy")]))
        let b = try BuildContextRenderer.dockerfile(for: Fixture.rawRequest(pip: [PipRequirement(name: "scipy")], name: "other"))
        #expect(a.split(separator: "\n").last == b.split(separator: "\n").last)
        #expect(structure(of: a).runs.last == ["python", "-c", BuildContextRenderer.pipListScript])
    }

    @Test(arguments: [
        ("name", PipRequirement(name: "numpy; rm -rf /")),
        ("name", PipRequirement(name: "-r/etc/passwd")),
        ("name", PipRequirement(name: "numpy\nRUN curl evil")),
        ("name", PipRequirement(name: "git+https://evil/x")),
        ("versionSpecifier", PipRequirement(name: "numpy", versionSpecifier: ">=1.0; os_name=='nt'")),
        ("versionSpecifier", PipRequirement(name: "numpy", versionSpecifier: "1.0\"]\nRUN [\"sh")),
        ("versionSpecifier", PipRequirement(name: "numpy", versionSpecifier: "@ https://evil/x.whl")),
        ("versionSpecifier", PipRequirement(name: "numpy", versionSpecifier: ">=1.0\u{2028}RUN x")),
        ("versionSpecifier", PipRequirement(name: "numpy", versionSpecifier: ">= 1.0")),
        ("versionSpecifier", PipRequirement(name: "numpy", versionSpecifier: ">=1.0+local")),
    ])
    func hostilePipInputThrowsNamingTheField(field: String, requirement: PipRequirement) {
        let request = Fixture.rawRequest(pip: [PipRequirement(name: "ok"), requirement])
        #expect(throws: BuildContextError.self) { try BuildContextRenderer.dockerfile(for: request) }
        do {
            _ = try BuildContextRenderer.dockerfile(for: request)
        } catch {
            #expect(error.field == "spec.pipRequirements[1].\(field)")
        }
    }

    @Test func hostilePackagesAndBaseThrow() {
        let cases: [(BuildRequest, String)] = [
            (Fixture.rawRequest(packages: [PackageRequirement(name: "curl-")]), "spec.packageRequirements[0].name"),
            (Fixture.rawRequest(packages: [PackageRequirement(name: "Curl")]), "spec.packageRequirements[0].name"),
            (Fixture.rawRequest(packages: [PackageRequirement(name: "curl", versionSpecifier: "latest")]), "spec.packageRequirements[0].versionSpecifier"),
            (Fixture.rawRequest(packages: [PackageRequirement(name: "curl", versionSpecifier: "1.0 && id")]), "spec.packageRequirements[0].versionSpecifier"),
            (Fixture.rawRequest(packages: [PackageRequirement(name: "*", type: .rpm)]), "spec.packageRequirements[0].name"),
            (Fixture.rawRequest(packages: [PackageRequirement(name: "@group", type: .rpm)]), "spec.packageRequirements[0].name"),
            (Fixture.rawRequest(base: "python:3.11\nRUN id"), "baseImageReference"),
            (Fixture.rawRequest(base: "--platform=linux/arm64 python"), "baseImageReference"),
            (Fixture.rawRequest(base: "python:$TAG"), "baseImageReference"),
            (Fixture.rawRequest(base: "python:3.11-slim"), "baseImageReference"),
            (Fixture.rawRequest(packages: [PackageRequirement(name: "_g", type: .rpm)]), "spec.packageRequirements[0].name"),
            (Fixture.rawRequest(packages: [PackageRequirement(name: "g", versionSpecifier: "1^2", type: .rpm)]), "spec.packageRequirements[0].versionSpecifier"),
            (Fixture.rawRequest(platformVersion: "1.0-"), "platformVersion"),
            (Fixture.rawRequest(name: "Demo"), "metadata.name"),
            (Fixture.rawRequest(platformVersion: "1.0\"x"), "platformVersion"),
        ]
        for (request, field) in cases {
            do {
                _ = try BuildContextRenderer.dockerfile(for: request)
                Issue.record("expected \(field) to be refused")
            } catch {
                #expect(error.field == field)
            }
        }
    }

    @Test func acceptsRealisticValues() throws {
        let request = Fixture.rawRequest(
            pip: [PipRequirement(name: "zope.interface", versionSpecifier: "~=6.0"),
                  PipRequirement(name: "torch", versionSpecifier: "==2.1.0+cpu"),
                  PipRequirement(name: "Django", versionSpecifier: "!=4.0.*,>=3.2"),
                  PipRequirement(name: "pkg", versionSpecifier: "===1.0-foo"),
                  PipRequirement(name: "epoch", versionSpecifier: ">=1!2.0")],
            packages: [PackageRequirement(name: "g++"), PackageRequirement(name: "libssl3", versionSpecifier: "3.0.11-1~deb12u2"),
                       PackageRequirement(name: "python3-devel", versionSpecifier: "3.11.5-1.el9_3", type: .rpm)],
            base: "123456789012.dkr.ecr.us-east-1.amazonaws.com:443/team/base-image__x@sha256:" + String(repeating: "ab", count: 32))
        let s = structure(of: try BuildContextRenderer.dockerfile(for: request))
        #expect(s.runs.contains { $0.contains("Django!=4.0.*,>=3.2") })
        #expect(s.runs.contains { $0.contains("libssl3=3.0.11-1~deb12u2") })
        #expect(s.runs.contains { $0.contains("python3-devel-3.11.5-1.el9_3") })
    }

    @Test func jsonStringIsPureASCIIAndRoundTrips() async {
        await propertyCheck(input: hostileStrings) { s in
            let literal = DockerfileText.jsonString(s)
            #expect(literal.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7f })
            #expect(JSONValue.parse("[\(literal)]")?.arrayValue?.first?.stringValue == s)
        }
    }

    // MARK: Injection properties: hostile values either throw or stay inside one JSON string literal.

    @Test func hostilePipNamesAndSpecifiers() async {
        await propertyCheck(count: 300, input: plausiblePrefixes, hostileStrings, Gen.bool) { prefix, suffix, asSpecifier in
            let value = prefix + suffix
            let requirement = asSpecifier ? PipRequirement(name: "numpy", versionSpecifier: value) : PipRequirement(name: value)
            switch render(Fixture.rawRequest(pip: [requirement])) {
            case .success(let dockerfile):
                let s = structure(of: dockerfile)
                #expect(s.instructions == ["FROM", "LABEL", "RUN", "RUN"])
                let install = s.runs[0]
                #expect(Array(install.prefix(7)) == ["python", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "--"])
                #expect(install.count == 8)
                let expected = asSpecifier ? "numpy" + ImageTaggerCompatible.clauses(value) : value
                #expect(install[7] == expected)
                #expect(!install[7].hasPrefix("-"))
            case .failure(let error):
                #expect(error.field == (asSpecifier ? "spec.pipRequirements[0].versionSpecifier" : "spec.pipRequirements[0].name"))
            }
        }
    }

    @Test func hostilePackageNamesAndVersions() async {
        await propertyCheck(count: 300, input: plausiblePrefixes, hostileStrings, Gen<PackageType>.case) { prefix, suffix, type in
            for asVersion in [false, true] {
                let value = prefix + suffix
                let requirement = asVersion ? PackageRequirement(name: "curl", versionSpecifier: value, type: type)
                                            : PackageRequirement(name: value, type: type)
                switch render(Fixture.rawRequest(packages: [requirement])) {
                case .success(let dockerfile):
                    let s = structure(of: dockerfile)
                    let install = s.runs.first { $0.first == "sh" }!
                    // A fixed program; the package is its only positional parameter, never shell text.
                    let script = type == .apt ? BuildContextRenderer.aptScript : BuildContextRenderer.dnfScript
                    #expect(Array(install.prefix(3)) == ["sh", "-c", script])
                    #expect(install.count == 5)
                    let argument = install.last!
                    #expect(!argument.hasPrefix("-"))
                    #expect(argument.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f })
                    let separator = type == .apt ? "=" : "-"
                    #expect(argument == (asVersion ? "curl" + separator + value : value))
                case .failure(let error):
                    #expect(error.field.hasPrefix("spec.packageRequirements[0]."))
                }
            }
        }
    }

    @Test func hostileBaseReferences() async {
        await propertyCheck(count: 300, input: plausiblePrefixes, hostileStrings) { prefix, suffix in
            let reference = prefix + suffix
            switch render(Fixture.rawRequest(base: reference)) {
            case .success(let dockerfile):
                let s = structure(of: dockerfile)
                #expect(s.instructions.first == "FROM")
                #expect(dockerfile.hasPrefix("FROM \(reference)\n"))
                #expect(reference.allSatisfy { $0.isASCII && !$0.isWhitespace && $0 != "$" && $0 != "\\" && $0 != "\"" })
            case .failure(let error):
                #expect(error.field == "baseImageReference")
            }
        }
    }
}

/// The clause text the renderer writes for a specifier, computed independently of the renderer.
enum ImageTaggerCompatible {
    static func clauses(_ specifier: String) -> String {
        let trimmed = specifier.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        if trimmed.first?.isNumber == true { return "==" + trimmed }
        return trimmed.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.filter { $0 != " " && $0 != "\t" } }
            .joined(separator: ",")
    }
}

@Suite struct BaseUserResolutionTests {
    @Test func childrenInheritTheRootsUserAndTheUserIsPartOfTheTag() throws {
        func config(user: String?) -> MirConfig {
            MirConfig(baseImages: ["ubi": BaseImageCatalogEntry(packageType: .rpm, pythonVersions: ["3.11": "registry.example.com/ubi/python:3.11"], user: user)])
        }
        let images = [Fixture.image("root", base: .imageType("ubi"), pip: [PipRequirement(name: "six")]), Fixture.child("kid", of: "root")]
        let withUser = try DesiredStateResolver.resolve(images, config: config(user: "1001"))
        let without = try DesiredStateResolver.resolve(images, config: config(user: nil))
        #expect(withUser.map(\.baseUser) == ["1001", "1001"])
        #expect(without.map(\.baseUser) == [nil, nil])
        #expect(withUser[0].tag != without[0].tag && withUser[1].tag != without[1].tag)
        // Without a user the tag is what it always was (no new tag input).
        #expect(without[0].tag == ImageTagger.tag(specDigest: without[0].specDigest, base: without[0].base, pythonVersion: "3.11",
                                                  platformVersion: MirConfig().platformVersion, packageType: .rpm))
    }
}
