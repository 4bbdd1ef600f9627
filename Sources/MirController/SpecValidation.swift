import MirModel
import MirSpec

/// Validation of ManagedImages read from the cluster, with MirSpec's rules (the same as for files).
enum SpecValidation {
    /// Why `name` cannot be built: its own first error (a cycle, a missing or invalid parent, or a problem of its own
    /// spec), chosen by the diagnostics' object and code, never by their text. `chain` is the image and its ancestors.
    static func problem(of name: String, in chain: [ManagedImage], config: MirConfig) -> (reason: String, message: String)? {
        let own = (SpecLoader.validateEach(chain, config: config)[name] ?? []).filter { $0.severity == .error && $0.image == name }
        guard let first = own.first else { return nil }
        var message = first.code == .cycle ? first.message : "ManagedImage \(name): \(first.message)"
        if let field = first.fieldPath, !field.isEmpty { message += " (at \(field))" }
        return (reason(for: first.code), message)
    }

    /// The Ready condition's reason (and the Event's) for a diagnostic code.
    static func reason(for code: Diagnostic.Code) -> String {
        switch code {
        case .cycle: return "CycleDetected"
        case .parentMissing: return "ParentMissing"
        case .parentInvalid: return "ParentInvalid"
        default: return "InvalidSpec"
        }
    }
}
