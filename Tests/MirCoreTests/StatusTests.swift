import Foundation
import MirModel
import MirBuild
import Testing
@testable import MirCore

/// StatusDeriver: when an image counts as Ready on a tag.
@Suite struct StatusTests {
    let image = resolved("web", tag: "py3.11-new")

    func status(records: [BuildRecord], registryTags: Set<String>) -> ImageStatus {
        let observed = ObservedState(repositories: ["mir/web": observedRepo("mir/web", tags: ownedTags("web"), images: registryTags)],
                                     buildRecords: records)
        return StatusDeriver.statuses(desired: desired([image]), observed: observed)[0]
    }

    /// A build Job pushes first and reports its pip list after: a pushed tag whose build still runs is not Ready on
    /// that tag yet; the previous image stays current (Rebuilding), and a first build stays BuildingFirstTime.
    @Test func aPushedTagIsReadyOnlyOnceItsBuildIsOver() {
        let previous = record("web", tag: "py3.11-old", at: 0)
        let running = record("web", tag: "py3.11-new", state: .running, at: 10)
        let rebuilding = status(records: [previous, running], registryTags: ["py3.11-old", "py3.11-new"])
        #expect(rebuilding.phase == .rebuilding)
        #expect(rebuilding.currentTag == "py3.11-old")

        let first = status(records: [running], registryTags: ["py3.11-new"])
        #expect(first.phase == .buildingFirstTime && first.currentTag == nil)

        var finished = running
        finished.state = .succeeded
        let ready = status(records: [previous, finished], registryTags: ["py3.11-old", "py3.11-new"])
        #expect(ready.phase == .ready && ready.currentTag == "py3.11-new")
        #expect(ready.pipLibraries == finished.pipLibraries)

        // An image in the registry with no record of its build (e.g. records lost) is Ready on it.
        let unrecorded = status(records: [], registryTags: ["py3.11-new"])
        #expect(unrecorded.phase == .ready && unrecorded.currentTag == "py3.11-new")
    }
}
