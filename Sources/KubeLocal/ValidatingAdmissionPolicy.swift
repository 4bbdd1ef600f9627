import Foundation
import MirModel

extension BuiltinResources {
    static let validatingAdmissionPolicies = ResourceInfo(group: "admissionregistration.k8s.io", version: "v1",
        kind: "ValidatingAdmissionPolicy", listKind: "ValidatingAdmissionPolicyList", plural: "validatingadmissionpolicies",
        singular: "validatingadmissionpolicy", namespaced: false, categories: ["api-extensions"], hasStatus: true, printerColumns: [age])
    static let validatingAdmissionPolicyBindings = ResourceInfo(group: "admissionregistration.k8s.io", version: "v1",
        kind: "ValidatingAdmissionPolicyBinding", listKind: "ValidatingAdmissionPolicyBindingList",
        plural: "validatingadmissionpolicybindings", singular: "validatingadmissionpolicybinding", namespaced: false,
        categories: ["api-extensions"], hasStatus: false, printerColumns: [age])
}

/// One write as admission sees it.
struct AdmissionAttributes: Sendable {
    var info: ResourceInfo
    var subresource: String?
    /// `CREATE` or `UPDATE`.
    var operation: String
    var name: String
    var namespace: String?
    var object: JSONValue
    var oldObject: JSONValue?

    /// The resource as rules name it: `managedimages`, `managedimages/status`.
    var resource: String { subresource.map { "\(info.plural)/\($0)" } ?? info.plural }

    /// CEL's `request` variable (the fields policies commonly read).
    var request: JSONValue {
        .object([
            "operation": .string(operation), "name": .string(name), "namespace": .string(namespace ?? ""),
            "kind": .object(["group": .string(info.group), "version": .string(info.version), "kind": .string(info.kind)]),
            "resource": .object(["group": .string(info.group), "version": .string(info.version), "resource": .string(info.plural)]),
            "subResource": .string(subresource ?? ""),
        ])
    }
}

/// ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1) evaluated as the API server does, with the CEL
/// subset of `CELRule`: every binding whose policy matches the request (matchConstraints.resourceRules, the
/// binding's matchResources, the policy's matchConditions) gets its params (paramKind + paramRef name/namespace,
/// parameterNotFoundAction), its variables, then its validations (expression, message, messageExpression, reason).
/// A false validation with the `Deny` action refuses the write: HTTP 422 with reason Invalid (or the validation's
/// reason), the message `<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<policy>' with binding
/// '<binding>' denied request: <message>` and one cause with that message, as the API server answers; `Warn`
/// returns a warning. An error (a rule outside the subset, a missing key, missing params) follows failurePolicy
/// (Fail by default: refused; Ignore: skipped). Not supported: paramRef.selector, namespaceSelector/objectSelector
/// (mir's kinds are cluster-scoped), auditAnnotations and the `Audit` action (nothing records audits here).
struct ValidatingAdmission {
    var policies: [JSONValue]
    var bindings: [JSONValue]
    /// Looks a params object up by apiVersion, kind, namespace and name.
    var params: (_ apiVersion: String, _ kind: String, _ namespace: String?, _ name: String) -> JSONValue?

    struct Denial: Error {
        var policy: String
        var binding: String
        var message: String
        var reason: String

        /// The Status the API server answers.
        func apiError(_ attributes: AdmissionAttributes) -> APIError {
            let text = "ValidatingAdmissionPolicy '\(policy)' with binding '\(binding)' denied request: \(message)"
            let info = attributes.info
            return APIError(code: Self.code(reason), reason: reason,
                            message: "\(info.qualifiedName) \"\(attributes.name)\" is forbidden: \(text)",
                            name: attributes.name, group: info.group, kind: info.plural,
                            causes: [.init(reason: "", message: text, field: "")])
        }

        static func code(_ reason: String) -> Int {
            switch reason {
            case "Unauthorized": return 401
            case "Forbidden": return 403
            case "RequestEntityTooLarge": return 413
            default: return 422
            }
        }
    }

    /// Throws the first denial; returns the warnings of `Warn` bindings.
    func admit(_ attributes: AdmissionAttributes) throws(Denial) -> [String] {
        var warnings: [String] = []
        let sortedBindings = bindings.sorted { ($0["metadata"]?["name"]?.stringValue ?? "") < ($1["metadata"]?["name"]?.stringValue ?? "") }
        for binding in sortedBindings {
            guard let policyName = binding["spec"]?["policyName"]?.stringValue,
                  let policy = policies.first(where: { $0["metadata"]?["name"]?.stringValue == policyName }) else { continue }
            guard Self.matches(policy["spec"]?["matchConstraints"], attributes) else { continue }
            if let resources = binding["spec"]?["matchResources"], resources["resourceRules"] != nil,
               !Self.matches(resources, attributes) { continue }
            let bindingName = binding["metadata"]?["name"]?.stringValue ?? ""
            let actions = binding["spec"]?["validationActions"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let failurePolicy = policy["spec"]?["failurePolicy"]?.stringValue ?? "Fail"
            for outcome in evaluate(policy, binding, attributes) {
                let message: String, reason: String
                switch outcome {
                case .failed(let m, let r): message = m; reason = r
                case .error(let m):
                    if failurePolicy == "Ignore" { continue }
                    message = m; reason = "Invalid"
                }
                if actions.contains("Warn") {
                    warnings.append("Validation failed for ValidatingAdmissionPolicy '\(policyName)' with binding '\(bindingName)': \(message)")
                }
                if actions.contains("Deny") {
                    throw Denial(policy: policyName, binding: bindingName, message: message, reason: reason)
                }
            }
        }
        return warnings
    }

    enum Outcome { case failed(String, reason: String), error(String) }

    /// The validations of one policy under one binding that did not pass.
    func evaluate(_ policy: JSONValue, _ binding: JSONValue, _ attributes: AdmissionAttributes) -> [Outcome] {
        let spec = policy["spec"] ?? .object([:])
        var env: [String: JSONValue] = ["object": attributes.object, "oldObject": attributes.oldObject ?? .null,
                                        "request": attributes.request, "params": .null, "namespaceObject": .null]
        if let paramKind = spec["paramKind"], let apiVersion = paramKind["apiVersion"]?.stringValue,
           let kind = paramKind["kind"]?.stringValue {
            let ref = binding["spec"]?["paramRef"]
            guard let name = ref?["name"]?.stringValue else {
                return [.error("binding has no paramRef.name (paramRef.selector is not supported by mir's local control plane)")]
            }
            let namespace = ref?["namespace"]?.stringValue ?? attributes.namespace
            if let found = params(apiVersion, kind, namespace, name) {
                env["params"] = found
            } else if ref?["parameterNotFoundAction"]?.stringValue == "Allow" {
                return []
            } else {
                return [.error("no params found for policy binding with `Deny` parameterNotFoundAction")]
            }
        }
        for condition in spec["matchConditions"]?.arrayValue ?? [] {
            let expression = condition["expression"]?.stringValue ?? ""
            switch Self.run(expression, env) {
            case .success(.bool(true)): continue
            case .success(.bool(false)): return []
            case .success: return [.error("matchCondition '\(condition["name"]?.stringValue ?? "")' did not evaluate to a bool")]
            case .failure(let message): return [.error("matchCondition '\(condition["name"]?.stringValue ?? "")' resulted in error: \(message)")]
            }
        }
        var variables: [String: JSONValue] = [:]
        for variable in spec["variables"]?.arrayValue ?? [] {
            guard let name = variable["name"]?.stringValue else { continue }
            env["variables"] = .object(variables)
            switch Self.run(variable["expression"]?.stringValue ?? "", env) {
            case .success(let value): variables[name] = value
            case .failure(let message): return [.error("variable '\(name)' resulted in error: \(message)")]
            }
        }
        env["variables"] = .object(variables)
        var outcomes: [Outcome] = []
        for validation in spec["validations"]?.arrayValue ?? [] {
            let expression = validation["expression"]?.stringValue ?? ""
            switch Self.run(expression, env) {
            case .success(.bool(true)): continue
            case .success(.bool(false)):
                var message = validation["message"]?.stringValue ?? "failed expression: \(expression)"
                if let messageExpression = validation["messageExpression"]?.stringValue,
                   case .success(.string(let text)) = Self.run(messageExpression, env),
                   !text.trimmingCharacters(in: .whitespaces).isEmpty, !text.contains("\n") {
                    message = text
                }
                outcomes.append(.failed(message, reason: validation["reason"]?.stringValue ?? "Invalid"))
            case .success:
                outcomes.append(.error("expression '\(expression)' resulted in error: no matching overload (not a bool)"))
            case .failure(let message):
                outcomes.append(.error("expression '\(expression)' resulted in error: \(message)"))
            }
        }
        return outcomes
    }

    enum Evaluation { case success(JSONValue), failure(String) }

    static func run(_ expression: String, _ env: [String: JSONValue]) -> Evaluation {
        let rule: CELRule
        do { rule = try CELRule(expression) } catch {
            return .failure("not supported by mir's local control plane's CEL (\((error as? CELRule.ParseError)?.message ?? "\(error)"))")
        }
        do { return .success(try rule.value(in: env)) } catch {
            return .failure((error as? CELRule.EvalError)?.message ?? "\(error)")
        }
    }

    /// A rule's resource: `*` is every resource (no subresources), `*/*` everything, `r/*` every subresource of
    /// r, `*/s` subresource s of every resource, else the exact `r` or `r/s`.
    static func resourceMatches(_ pattern: String, plural: String, subresource: String?) -> Bool {
        if pattern == "*/*" { return true }
        let parts = pattern.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let resourcePart = parts[0], subPart = parts.count > 1 ? parts[1] : nil
        guard resourcePart == "*" || resourcePart == plural else { return false }
        switch (subPart, subresource) {
        case (nil, nil): return true
        case (nil, _?), (_?, nil): return false
        case (let p?, let s?): return p == "*" || p == s
        }
    }

    /// Whether `constraints.resourceRules` (minus `excludeResourceRules`) match the request.
    static func matches(_ constraints: JSONValue?, _ attributes: AdmissionAttributes) -> Bool {
        guard let constraints else { return false }
        func ruleMatches(_ rule: JSONValue) -> Bool {
            func has(_ key: String, _ value: String) -> Bool {
                let values = rule[key]?.arrayValue?.compactMap(\.stringValue) ?? []
                return values.contains("*") || values.contains(value)
            }
            let resources = rule["resources"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let resourceMatches = resources.contains { Self.resourceMatches($0, plural: attributes.info.plural, subresource: attributes.subresource) }
            let names = rule["resourceNames"]?.arrayValue?.compactMap(\.stringValue) ?? []
            return has("apiGroups", attributes.info.group) && has("apiVersions", attributes.info.version)
                && has("operations", attributes.operation) && resourceMatches
                && (names.isEmpty || names.contains(attributes.name))
        }
        let included = (constraints["resourceRules"]?.arrayValue ?? []).contains(where: ruleMatches)
        let excluded = (constraints["excludeResourceRules"]?.arrayValue ?? []).contains(where: ruleMatches)
        return included && !excluded
    }
}

extension ClusterState {
    /// Runs the stored ValidatingAdmissionPolicies on a create or update (after schema validation); throws the
    /// API server's answer for a denial, returns the warnings.
    func runAdmissionPolicies(_ attributes: AdmissionAttributes) throws -> [String] {
        let group = BuiltinResources.validatingAdmissionPolicies.group
        guard attributes.info.group != group else { return [] }
        let policies = try list(BuiltinResources.validatingAdmissionPolicies, namespace: nil).items.map(\.object)
        guard !policies.isEmpty else { return [] }
        let bindings = try list(BuiltinResources.validatingAdmissionPolicyBindings, namespace: nil).items.map(\.object)
        var lookups: [String: JSONValue] = [:]
        for binding in bindings {
            guard let policyName = binding["spec"]?["policyName"]?.stringValue,
                  let policy = policies.first(where: { $0["metadata"]?["name"]?.stringValue == policyName }),
                  let apiVersion = policy["spec"]?["paramKind"]?["apiVersion"]?.stringValue,
                  let kind = policy["spec"]?["paramKind"]?["kind"]?.stringValue,
                  let name = binding["spec"]?["paramRef"]?["name"]?.stringValue,
                  let info = registry.find(apiVersion: apiVersion, kind: kind) else { continue }
            let namespace = info.namespaced ? (binding["spec"]?["paramRef"]?["namespace"]?.stringValue ?? attributes.namespace) : nil
            if let found = try? get(info, namespace: namespace, name: name) {
                lookups["\(apiVersion)|\(kind)|\(namespace ?? "")|\(name)"] = found
            }
        }
        let admission = ValidatingAdmission(policies: policies, bindings: bindings) { apiVersion, kind, namespace, name in
            lookups["\(apiVersion)|\(kind)|\(namespace ?? "")|\(name)"] ?? lookups["\(apiVersion)|\(kind)||\(name)"]
        }
        do { return try admission.admit(attributes) } catch { throw error.apiError(attributes) }
    }
}
