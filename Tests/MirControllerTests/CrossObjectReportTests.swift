import Foundation
import Testing
import KubeClient
import MirModel
@testable import MirController

/// Checks across objects stay with the controller (apply order must not matter): each is reported on the object itself
/// with a Ready=False condition carrying the reason (the REASON column) and a Warning Event, and the status shows the
/// effective Python version (a child's is its parent's).
@Suite struct CrossObjectReportTests {
    @Test func eachMemberOfACycleIsToldItIsInTheCycle() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(50))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("a", spec: spec(parent: "c"))
        try await h.create("b", spec: spec(parent: "a"))
        try await h.create("c", spec: spec(parent: "b"))
        let expected = ["a": "ManagedImage a is in the cycle a → c → b → a",
                        "b": "ManagedImage b is in the cycle b → a → c → b",
                        "c": "ManagedImage c is in the cycle c → b → a → c"]
        for (name, message) in expected.sorted(by: { $0.key < $1.key }) {
            let object = try await h.waitFor(name, "Ready=False CycleDetected") { condition($0, "Ready")?.reason == "CycleDetected" }
            #expect(condition(object, "Ready")?.status == "False")
            #expect(condition(object, "Ready")?.message.hasPrefix(message) == true, "\(condition(object, "Ready")?.message ?? "")")
            #expect(object.status?.phase == "Failed")
            let events = try await h.events(reason: "CycleDetected", object: name)
            #expect(!events.isEmpty)
            #expect(events.allSatisfy { $0.message?.hasPrefix(message) == true && $0.type == "Warning" })
        }
    }

    @Test func aMissingParentIsReadyFalseWithAnEvent() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(50))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("kid", spec: spec(parent: "nobody"))
        let object = try await h.waitFor("kid", "Ready=False ParentMissing") { condition($0, "Ready")?.reason == "ParentMissing" }
        #expect(condition(object, "Ready")?.status == "False")
        #expect(condition(object, "Ready")?.message == "ManagedImage kid: base ManagedImage nobody does not exist (or is being deleted)")
        #expect(condition(object, "ParentMissing")?.status == "True")
        #expect(try await !h.events(reason: "ParentMissing", object: "kid").isEmpty)
    }

    @Test func statusCarriesTheEffectivePythonVersion() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(50))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("base", spec: spec())
        try await h.create("kid", spec: spec(pip: ["flask"], parent: "base"))
        let kid = try await h.waitFor("kid", "Ready") { $0.status?.phase == "Ready" }
        #expect(kid.spec?["pythonVersion"] == nil)
        #expect(kid.status?.pythonVersion == "3.12")
        #expect(try await h.image("base").status?.pythonVersion == "3.12")
    }
}
