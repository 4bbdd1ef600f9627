import Testing
import PropertyBased
import MirModel

@Suite("Grammars")
struct GrammarTests {
    @Test("valid PEP 440 specifiers are accepted", arguments: [
        "==1.0.2", ">=1.2,<2", "~=2.1", "==1.*", "!=1.4.*", "1.0.2", "==v1.0", "===1.0-foo", "==1.0+local.7", "<=2!1.0",
        ">1.0rc1", ">=1.0.post1", ">=1.0-1", "<2.0.dev3", "~=1.4.5a4", ">=1.0b2.post345.dev456", "==2.1.0+cpu", "6.1",
    ])
    func acceptsSpecifier(_ specifier: String) {
        #expect(SpecGrammar.versionSpecifierProblem(specifier) == nil)
    }

    @Test("invalid specifiers are refused with a reason", arguments: [
        ("", "must not be empty"), (">= 1.0", "whitespace"), (">=1.0,", "empty clause"), (",>=1", "empty clause"),
        ("~=1", "two release segments"), ("~=1.*", "wildcard"), ("<1.*", "wildcard"), (">=1.0+abc", "local version"),
        ("==1.0.*.1", "not a valid PEP 440"), ("1.0,>=2", "no comparison operator"), ("=1.0", "neither"),
        ("==", "no version"), ("1.*", "neither"), ("==1.0;", "';'"), ("==1.0\n", "a newline"), ("===$x", "'$'"),
        ("==1.0\u{2003}", "Unicode whitespace U+2003"), (">=1.0\u{200B}", "Unicode whitespace U+200B"),
    ])
    func refusesSpecifier(_ specifier: String, _ reason: String) throws {
        let problem = try #require(SpecGrammar.versionSpecifierProblem(specifier))
        #expect(problem.contains(reason), "\(problem)")
        #expect(!problem.contains("\n"), "messages stay on one line")
    }

    @Test("names, packages and image references")
    func namesAndReferences() {
        #expect(SpecGrammar.pipNameProblem("zope.interface") == nil)
        #expect(SpecGrammar.pipNameProblem("A") == nil)
        #expect(SpecGrammar.pipNameProblem("_private") != nil)
        #expect(SpecGrammar.pipNameProblem("numpy-") != nil)
        #expect(SpecGrammar.normalizedPipName("Scikit__Learn.x") == "scikit-learn-x")
        #expect(SpecGrammar.packageNameProblem("libstdc++6", type: .apt) == nil)
        #expect(SpecGrammar.packageNameProblem("g", type: .apt) != nil)
        #expect(SpecGrammar.packageNameProblem("_g", type: .rpm) != nil)
        #expect(SpecGrammar.packageNameProblem("curl-", type: .rpm)?.contains("must not end with '-'") == true)
        #expect(SpecGrammar.packageNameProblem(String(repeating: "a", count: 129), type: nil)?.contains("longer than 128") == true)
        #expect(SpecGrammar.pipNameProblem(String(repeating: "a", count: 129))?.contains("longer than 128") == true)
        #expect(SpecGrammar.packageVersionProblem("1.0_1", type: .apt)?.contains("not allowed in apt versions") == true)
        #expect(SpecGrammar.packageVersionProblem("1.0_1", type: .rpm) == nil)
        #expect(SpecGrammar.packageVersionProblem("1.0_1") == nil)
        #expect(SpecGrammar.versionSpecifierProblem("v1.0") != nil)
        #expect(SpecGrammar.versionSpecifierProblem("==v1.0") == nil)
        #expect(SpecGrammar.versionClauses(">=1.2,!=1.3.*") == [VersionClause(op: .greaterOrEqual, version: "1.2"),
                                                                VersionClause(op: .notEqual, version: "1.3.*")])
        #expect(SpecGrammar.versionClauses("2.0") == [VersionClause(op: .equal, version: "2.0")])
        #expect(SpecGrammar.platformVersionProblem("2026.11") == nil)
        #expect(SpecGrammar.platformVersionProblem("2026.") != nil)
        #expect(SpecGrammar.packageNameProblem("Libx", type: .apt) != nil)
        #expect(SpecGrammar.packageVersionProblem("1:2.3-4ubuntu1~20.04") == nil)
        #expect(SpecGrammar.isPythonVersion("3.10"))
        #expect(!SpecGrammar.isPythonVersion("3.1.0"))
        #expect(!SpecGrammar.isPythonVersion("03.10"))
        #expect(!SpecGrammar.isPythonVersion("3"))
        #expect(SpecGrammar.imageReferenceProblem("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/base:1.2") == nil)
        #expect(SpecGrammar.imageReferenceProblem("localhost:5000/base@sha256:" + String(repeating: "a", count: 64)) == nil)
        #expect(SpecGrammar.imageReferenceProblem("registry.example.com:8443/a/b:tag@sha256:" + String(repeating: "0", count: 64)) == nil)
        #expect(SpecGrammar.imageReferenceProblem("python:3.10")?.contains("registry") == true)
        #expect(SpecGrammar.imageReferenceProblem("registry.example.com/Team/base") != nil)
        #expect(SpecGrammar.imageReferenceProblem("registry.example.com/base@sha256:abc") != nil)
        #expect(SpecGrammar.imageReferenceProblem("registry.example.com/base:$(id)") != nil)
        #expect(SpecGrammar.isECRRepositoryName("mir/xgboost102-tf"))
        #expect(!SpecGrammar.isECRRepositoryName("mir//x"))
        #expect(!SpecGrammar.isECRRepositoryName("a"))
        #expect(SpecGrammar.repositoryPrefixProblem("team-a/mir/") == nil)
        // Issue 8: an empty prefix reaches every repository; one not ending with '/' reaches its neighbours' names.
        #expect(SpecGrammar.repositoryPrefixProblem("")?.contains("must not be empty") == true)
        #expect(SpecGrammar.repositoryPrefixProblem("team-a/mir-")?.contains("must end with '/'") == true)
        #expect(SpecGrammar.repositoryPrefixProblem("Mir/") != nil)
        #expect(SpecGrammar.repositoryPrefixProblem("mir//") != nil)
        #expect(SpecGrammar.imageNameProblem(String(repeating: "a", count: 63), repositoryPrefix: "mir/") == nil)
    }

    @Test("quoted values keep messages on one line")
    func quoting() {
        #expect(SpecGrammar.quoted("a\nb\t\u{A0}\"") == #""a\nb\t\u{A0}\"""#)
    }

    // MARK: - Properties

    /// Characters no name, specifier or package field may contain.
    static let hostile: [String] = [";", "$(", "`", "|", "&", "\n", "\t", " ", "\r", "\u{A0}", "\u{2028}", "\u{200B}",
                                    "\u{3000}", "\u{FEFF}", "'", "\"", "\\", "(", ")", "#", "\u{0}", "\u{1B}"]
    static let safeText = Gen.letterOrNumber.string(of: 1...8)

    @Test("any value with a shell metacharacter or whitespace trick is refused everywhere")
    func hostileCharactersAreRefused() async {
        await propertyCheck(input: GrammarTests.safeText, Gen.element(of: GrammarTests.hostile), GrammarTests.safeText) { prefix, bad, suffix in
            let value = prefix + bad! + suffix
            #expect(SpecGrammar.pipNameProblem(value) != nil)
            #expect(SpecGrammar.versionSpecifierProblem("==1.0" + bad! + suffix) != nil)
            #expect(SpecGrammar.versionSpecifierProblem(value) != nil)
            for type in [PackageType.apt, .rpm, nil] { #expect(SpecGrammar.packageNameProblem(value, type: type) != nil) }
            #expect(SpecGrammar.packageVersionProblem("1" + value) != nil)
            #expect(SpecGrammar.imageReferenceProblem("registry.example.com/" + value.lowercased()) != nil)
            #expect(SpecGrammar.imageNameProblem(value.lowercased(), repositoryPrefix: "mir/") != nil)
        }
    }

    static let release = Gen.int(in: 0...99).array(of: 1...4).map { $0.map(String.init).joined(separator: ".") }
    static let suffix = Gen.element(of: ["", "a1", "b2", "rc3", ".post1", ".dev0", "rc1.post2.dev3", "-1", "c1", ".post"])
    static let op = Gen.element(of: ["==", "!=", ">=", "<=", "<", ">", "~="])

    @Test("generated PEP 440 specifier sets are accepted")
    func generatedSpecifiersAreAccepted() async {
        let clause = zip(GrammarTests.op, GrammarTests.release, GrammarTests.suffix, Gen.bool).map { parts in
            let (op, release, suffix, wildcard) = parts
            var version = release
            if op! == "~=" && !version.contains(".") { version += ".0" }
            if wildcard && (op! == "==" || op! == "!=") { return op! + version + ".*" }
            return op! + version + suffix!
        }
        await propertyCheck(input: clause.array(of: 1...3)) { clauses in
            let specifier = clauses.joined(separator: ",")
            #expect(SpecGrammar.versionSpecifierProblem(specifier) == nil, "\(specifier)")
        }
    }

    @Test("generated valid names are accepted; PEP 503 spellings of one name are duplicates")
    func generatedNames() async {
        let separator = Gen.element(of: ["-", "_", ".", "--", "_."])
        await propertyCheck(input: Gen.lowercaseLetter.string(of: 1...6), Gen.lowercaseLetter.string(of: 1...6), separator, separator) { a, b, s1, s2 in
            let one = a + s1! + b
            let other = a.uppercased() + s2! + b
            #expect(SpecGrammar.pipNameProblem(one) == nil)
            #expect(SpecGrammar.normalizedPipName(one) == SpecGrammar.normalizedPipName(other))
            #expect(SpecGrammar.packageNameProblem(a + "-" + b, type: .apt) == nil)
            #expect(SpecGrammar.imageNameProblem(a + "-" + b, repositoryPrefix: "team-a/mir-") == nil)
        }
    }
}
