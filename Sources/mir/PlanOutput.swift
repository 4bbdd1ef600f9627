import Foundation
import MirModel
import MirCore

/// Renders plans like `terraform plan`: `+` create, `~` update, `*` build (with its reason), `-` delete.
enum PlanOutput {
    static func symbol(_ a: PlannedAction) -> String {
        switch a.kind {
        case .create: return "+"
        case .update: return "~"
        case .build: return "*"
        case .delete: return "-"
        }
    }

    static func line(_ a: PlannedAction) -> String {
        switch a {
        case .createRepository(let r, _, let p): return "create repository \(r) (deletionPolicy \(p.rawValue))"
        case .adoptRepository(let r, let i, _): return "adopt repository \(r) for image \(i) (adds mir's ownership tags)"
        case .claimRepository(let r, let i, _): return "record this installation and owner on repository \(r) for image \(i) (made before mir recorded them)"
        case .updateDeletionPolicy(let r, _, let p): return "record deletionPolicy \(p.rawValue) on repository \(r)"
        case .putLifecyclePolicy(let r, _, _, let why): return "put lifecycle policy on \(r) (\(why.rawValue))"
        case .build(let i, let t, let why): return "build \(i):\(t) (\(why.rawValue))"
        case .deleteRepository(let r, let force): return "delete repository \(r) (spec removed, deletionPolicy Delete\(force ? ", force" : ""))"
        }
    }

    static func text(_ plan: Plan, registry: String, prefix: String, images: Int, simulatedBuilder: Bool = false) -> String {
        var out = "mir plan for \(images) image(s) on \(registry), prefix \"\(prefix)\"\n"
        if plan.isEmpty {
            out += "\nNo changes. The registry matches the specs.\n"
        } else {
            out += "\n"
            for a in plan.actions {
                let sim = (simulatedBuilder && a.kind == .build) ? " [simulated]" : ""
                out += "  \(symbol(a)) \(line(a))\(sim)\n"
            }
        }
        if !plan.warnings.isEmpty {
            out += "\nWarnings:\n"
            for w in plan.warnings { out += "  ! \(w.description)\n" }
        }
        out += "\n\(plan.summary)\n"
        return out
    }

    static func json(_ plan: Plan) -> JSONValue {
        .object([
            "actions": .array(plan.actions.map(json)),
            "warnings": .array(plan.warnings.map { .string($0.description) }),
            "summary": .object([
                "create": .number(Double(plan.count(.create))),
                "update": .number(Double(plan.count(.update))),
                "build": .number(Double(plan.count(.build))),
                "delete": .number(Double(plan.count(.delete))),
            ]),
        ])
    }

    static func json(_ a: PlannedAction) -> JSONValue {
        var o: [String: JSONValue] = ["symbol": .string(symbol(a)), "description": .string(line(a))]
        switch a {
        case .createRepository(let r, let i, let p):
            o["type"] = .string("createRepository"); o["repository"] = .string(r); o["image"] = .string(i); o["deletionPolicy"] = .string(p.rawValue)
        case .adoptRepository(let r, let i, _):
            o["type"] = .string("adoptRepository"); o["repository"] = .string(r); o["image"] = .string(i)
        case .claimRepository(let r, let i, _):
            o["type"] = .string("claimRepository"); o["repository"] = .string(r); o["image"] = .string(i)
        case .updateDeletionPolicy(let r, let i, let p):
            o["type"] = .string("updateDeletionPolicy"); o["repository"] = .string(r); o["image"] = .string(i); o["deletionPolicy"] = .string(p.rawValue)
        case .putLifecyclePolicy(let r, let i, let policy, let why):
            o["type"] = .string("putLifecyclePolicy"); o["repository"] = .string(r); o["image"] = .string(i)
            o["reason"] = .string(why.rawValue); o["policy"] = policy
        case .build(let i, let t, let why):
            o["type"] = .string("build"); o["image"] = .string(i); o["tag"] = .string(t); o["reason"] = .string(why.rawValue)
        case .deleteRepository(let r, let force):
            o["type"] = .string("deleteRepository"); o["repository"] = .string(r); o["force"] = .bool(force)
        }
        return .object(o)
    }
}

/// Pretty JSON for `-o json` (sorted keys, so output is stable).
func prettyJSON(_ value: some Encodable) -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    enc.dateEncodingStrategy = .iso8601
    return String(decoding: (try? enc.encode(value)) ?? Data("null".utf8), as: UTF8.self)
}
