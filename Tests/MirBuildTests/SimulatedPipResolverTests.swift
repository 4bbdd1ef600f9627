import MirBuild
import MirModel
import PropertyBased
import Testing

@Suite struct SimulatedPipResolverTests {
    func version(_ specifier: String) -> String? {
        SimulatedPipResolver.version(satisfying: BuildInputGrammar.parsePipSpecifier(specifier)!)
    }

    @Test func documentedChoices() {
        #expect(version("==1.2.3") == "1.2.3")
        #expect(version("1.2.3") == "1.2.3")
        #expect(version(">=2.5") == "2.5")
        #expect(version("~=1.4.5") == "1.4.5")
        #expect(version("==1.2.*") == "1.2.0")
        #expect(SimulatedPipResolver.version(satisfying: []) == "1.0.0")
    }

    @Test func upperBoundOnlyGivesALowerVersion() throws {
        for bound in ["2", "1", "0.1", "1.5", "3.0.0"] {
            let v = try #require(version("<\(bound)"))
            #expect(SimulatedPipResolver.satisfies(v, VersionClause(op: .less, version: bound)), "\(v) < \(bound)")
        }
    }

    @Test func unsatisfiableSetsAreDetected() {
        #expect(version(">2,<1") == nil)
        #expect(version("==1.0,!=1.0") == nil)
        #expect(version("<0") == nil)
        #expect(version("==1.0,==2.0") == nil)
    }

    @Test func comparisonFollowsPEP440Releases() {
        #expect(SimulatedPipResolver.satisfies("1.0", VersionClause(op: .equal, version: "1.0.0")))
        #expect(SimulatedPipResolver.satisfies("1.10", VersionClause(op: .greater, version: "1.9")))
        #expect(SimulatedPipResolver.satisfies("2.0rc1", VersionClause(op: .less, version: "2.0")))
        #expect(SimulatedPipResolver.satisfies("2.0.post1", VersionClause(op: .greater, version: "2.0")))
        #expect(!SimulatedPipResolver.satisfies("1.20", VersionClause(op: .equal, version: "1.2.*")))
        #expect(SimulatedPipResolver.satisfies("2.9", VersionClause(op: .compatible, version: "2.2")))
        #expect(!SimulatedPipResolver.satisfies("3.0", VersionClause(op: .compatible, version: "2.2")))
        #expect(!SimulatedPipResolver.satisfies("1.5.0", VersionClause(op: .compatible, version: "1.4.5")))
    }

    /// Whatever version is chosen satisfies every clause; random bounds around a pivot.
    @Test func chosenVersionsSatisfyEveryClause() async {
        let ops: [VersionClause.Operator] = [.greaterOrEqual, .greater, .less, .lessOrEqual, .notEqual, .compatible, .equal]
        let clause = zip(Gen<VersionClause.Operator?>.element(of: ops).map { $0! },
                         Gen.int(in: 0...4), Gen.int(in: 0...4))
            .map { op, major, minor in VersionClause(op: op, version: "\(major).\(minor)") }
        await propertyCheck(count: 300, input: clause.array(of: 1...3)) { clauses in
            if let v = SimulatedPipResolver.version(satisfying: clauses) {
                for c in clauses { #expect(SimulatedPipResolver.satisfies(v, c), "\(v) vs \(c)") }
            }
        }
    }

    /// Clause sets built around a witness version are satisfiable, and the resolver finds a version for them.
    @Test func satisfiableSetsAreResolved() async {
        let witness = zip(Gen.int(in: 0...4), Gen.int(in: 0...4))
        let kinds = Gen.int(in: 0...9).array(of: 1...4)
        await propertyCheck(count: 500, input: witness, kinds) { version, kinds in
            let (a, b) = version
            let clauses: [VersionClause] = kinds.compactMap { kind in
                switch kind {
                case 0: VersionClause(op: .greaterOrEqual, version: "\(a).\(b)")
                case 1: b > 0 ? VersionClause(op: .greater, version: "\(a).\(b - 1)") : nil
                case 2: VersionClause(op: .lessOrEqual, version: "\(a).\(b)")
                case 3: VersionClause(op: .less, version: "\(a).\(b + 1)")
                case 4: VersionClause(op: .less, version: "\(a + 1)")
                case 5: VersionClause(op: .equal, version: "\(a).\(b)")
                case 6: VersionClause(op: .notEqual, version: "\(a).\(b + 1)")
                case 7: VersionClause(op: .compatible, version: "\(a).\(b)")
                case 8: VersionClause(op: .equal, version: "\(a).*")
                default: VersionClause(op: .notEqual, version: "\(a + 1).*")
                }
            }
            let chosen = SimulatedPipResolver.version(satisfying: clauses)
            #expect(chosen != nil, "no version found for \(clauses) (satisfied by \(a).\(b))")
            if let chosen { for c in clauses { #expect(SimulatedPipResolver.satisfies(chosen, c), "\(chosen) vs \(c)") } }
        }
    }

    @Test func exclusionsAreSteppedOver() {
        #expect(version("!=1.*") == "2")
        #expect(version("!=1.0.0") == "1.0.1")
    }

    @Test func librariesMergeInheritedAndRequirements() throws {
        let parent = [PipLibrary(name: "pip", version: "24.0"), PipLibrary(name: "NumPy", version: "1.0.0")]
        let libraries = try SimulatedPipResolver.libraries(
            for: [PipRequirement(name: "numpy", versionSpecifier: "==1.26.4"), PipRequirement(name: "pandas"),
                  PipRequirement(name: "Pandas", versionSpecifier: "<3")],
            inheriting: parent)
        #expect(libraries == [PipLibrary(name: "numpy", version: "1.26.4"), PipLibrary(name: "pandas", version: "1.0.0"),
                              PipLibrary(name: "pip", version: "24.0")])
        #expect(throws: SimulatedResolutionError.self) {
            try SimulatedPipResolver.libraries(for: [PipRequirement(name: "x", versionSpecifier: ">=2"),
                                                     PipRequirement(name: "X", versionSpecifier: "<1")], inheriting: [])
        }
    }
}
