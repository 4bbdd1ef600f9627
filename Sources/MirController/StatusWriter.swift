import Foundation
import KubeClient
import MirCore
import MirBuild
import MirModel

/// Condition types on a ManagedImage.
public enum ConditionType {
    public static let ready = "Ready"
    public static let repositorySynced = "RepositorySynced"
    public static let lifecyclePolicySynced = "LifecyclePolicySynced"
    public static let buildSucceeded = "BuildSucceeded"
    public static let parentMissing = "ParentMissing"
    public static let deletionBlocked = "DeletionBlocked"
    /// Whether the current image's pip list is complete (`BuildReportComplete`), cut (`BuildReportTruncated`, with
    /// the total) or unknown (`BuildReportUnreadable`).
    public static let buildReport = "BuildReport"
}

/// metav1.Condition rules: one condition per type; `lastTransitionTime` changes only when `status` changes;
/// `observedGeneration` is the generation the condition was computed from; reasons are CamelCase.
public enum Conditions {
    /// `conditions` with `new` set (replacing the same type), keeping the old transition time when the status is unchanged.
    public static func set(_ new: Condition, in conditions: [Condition]) -> [Condition] {
        var result = conditions
        if let index = result.firstIndex(where: { $0.type == new.type }) {
            var updated = new
            if result[index].status == new.status { updated.lastTransitionTime = result[index].lastTransitionTime }
            result[index] = updated
        } else {
            result.append(new)
        }
        return result
    }

    public static func find(_ type: String, in conditions: [Condition]?) -> Condition? {
        conditions?.first { $0.type == type }
    }

    /// True when `reason` is CamelCase as metav1.Condition requires (`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`).
    public static func isValidReason(_ reason: String) -> Bool {
        guard let first = reason.unicodeScalars.first, first.isASCIILetter else { return false }
        let allowed = reason.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "_" || $0 == "," || $0 == ":" }
        return allowed && !(reason.hasSuffix(",") || reason.hasSuffix(":"))
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}

/// Writes the status subresource of a ManagedImage, only when it changed, retrying on conflicts.
public struct StatusWriter: Sendable {
    public let client: KubeClient

    public init(client: KubeClient) { self.client = client }

    /// Applies `mutate` to the latest status and writes it when it changed. Returns the object as stored.
    /// `current`: the object as this reconcile read it (saves a GET; a conflict re-reads).
    @discardableResult
    public func update(_ name: String, current: ManagedImageResource? = nil,
                       _ mutate: @escaping @Sendable (inout ManagedImageStatus, ObjectMeta) -> Void) async throws -> ManagedImageResource {
        try await client.modify(ManagedImageResource.self, name: name, subresource: "status", startingFrom: current) { object in
            let before = object.status ?? ManagedImageStatus()
            var status = before
            mutate(&status, object.metadata)
            guard status != before else { return false }
            object.status = status
            return true
        }
    }
}

extension BuildReason {
    /// CamelCase, for `status.build.reason` and condition reasons.
    public var camelCase: String {
        switch self {
        case .new: "NewImage"
        case .specChanged: "SpecChanged"
        case .platformUpgraded: "PlatformUpgraded"
        case .parentRebuilt: "ParentRebuilt"
        case .manual: "ManualRebuild"
        }
    }
}
