import Foundation
import MirModel

/// A small subset of CEL, enough for the `x-kubernetes-validations` rules mir's CRD uses:
/// literals, `self` field selection, `has()`, `size()`, `!`, `&&`, `||`, `? :`, comparisons, `+`/`-`, list literals,
/// `in`, and the macros `all`, `exists`, `exists_one`, plus the string functions `startsWith`, `endsWith`,
/// `contains`, `matches`, and Kubernetes' `lowerAscii`, `replace`, `split`, `join` (see CELStrings.swift). Anything else fails to parse; such rules are reported as not evaluated (never silently passed).
struct CELRule {
    indirect enum Expr {
        case literal(JSONValue)
        case ident(String)
        case select(Expr, String)
        case has(Expr, String)
        case index(Expr, Expr)
        case list([Expr])
        case call(String, Expr?, [Expr])
        case macro(String, Expr, String, Expr)
        case unary(String, Expr)
        case binary(String, Expr, Expr)
        case ternary(Expr, Expr, Expr)
    }

    struct ParseError: Error { var message: String }
    struct EvalError: Error { var message: String }

    let expression: Expr

    init(_ source: String) throws {
        var parser = CELParser(tokens: try CELParser.tokenize(source))
        expression = try parser.parseExpression()
        guard parser.atEnd else { throw ParseError(message: "unexpected trailing input") }
    }

    /// True when the rule holds for `value` bound to `self` (and `oldSelf` when given).
    func evaluate(self value: JSONValue, oldSelf: JSONValue? = nil) throws -> Bool {
        var env: [String: JSONValue] = ["self": value]
        if let oldSelf { env["oldSelf"] = oldSelf }
        guard case .bool(let b) = try eval(expression, env) else { throw EvalError(message: "rule did not evaluate to a bool") }
        return b
    }

    /// The expression's value with these variables bound (`object`, `oldObject`, `params`, `variables`, … for
    /// admission policies; see ValidatingAdmissionPolicy.swift).
    func value(in env: [String: JSONValue]) throws -> JSONValue { try eval(expression, env) }

    /// Whether the rule mentions `oldSelf` (a transition rule, evaluated only on update).
    var isTransitionRule: Bool { mentions("oldSelf", expression) }

    private func mentions(_ name: String, _ e: Expr) -> Bool {
        switch e {
        case .literal: return false
        case .ident(let n): return n == name
        case .select(let x, _), .has(let x, _), .unary(_, let x): return mentions(name, x)
        case .index(let a, let b), .binary(_, let a, let b): return mentions(name, a) || mentions(name, b)
        case .list(let xs): return xs.contains { mentions(name, $0) }
        case .call(_, let t, let args): return (t.map { mentions(name, $0) } ?? false) || args.contains { mentions(name, $0) }
        case .macro(_, let t, _, let p): return mentions(name, t) || mentions(name, p)
        case .ternary(let a, let b, let c): return mentions(name, a) || mentions(name, b) || mentions(name, c)
        }
    }

    private func eval(_ e: Expr, _ env: [String: JSONValue]) throws -> JSONValue {
        switch e {
        case .literal(let v): return v
        case .ident(let n):
            guard let v = env[n] else { throw EvalError(message: "undeclared reference to '\(n)'") }
            return v
        case .select(let target, let field):
            let t = try eval(target, env)
            guard let v = t[field] else { throw EvalError(message: "no such key: \(field)") }
            return v
        case .has(let target, let field):
            return .bool(try eval(target, env)[field] != nil)
        case .index(let target, let indexExpr):
            let t = try eval(target, env), i = try eval(indexExpr, env)
            if let a = t.arrayValue, let n = i.intValue, a.indices.contains(n) { return a[n] }
            if let k = i.stringValue, let v = t[k] { return v }
            throw EvalError(message: "index out of range")
        case .list(let items): return .array(try items.map { try eval($0, env) })
        case .unary(let op, let x):
            let v = try eval(x, env)
            if op == "!", case .bool(let b) = v { return .bool(!b) }
            if op == "-", let n = v.numberValue { return .number(-n) }
            throw EvalError(message: "no matching overload for '\(op)'")
        case .ternary(let c, let a, let b):
            guard case .bool(let cond) = try eval(c, env) else { throw EvalError(message: "no matching overload for '_?_:_'") }
            return try eval(cond ? a : b, env)
        case .binary(let op, let l, let r):
            if op == "&&" || op == "||" {
                guard case .bool(let lb) = try eval(l, env) else { throw EvalError(message: "no matching overload for '\(op)'") }
                if op == "&&" && !lb { return .bool(false) }
                if op == "||" && lb { return .bool(true) }
                guard case .bool(let rb) = try eval(r, env) else { throw EvalError(message: "no matching overload for '\(op)'") }
                return .bool(rb)
            }
            let lv = try eval(l, env), rv = try eval(r, env)
            switch op {
            case "==": return .bool(lv == rv)
            case "!=": return .bool(lv != rv)
            case "in":
                if let a = rv.arrayValue { return .bool(a.contains(lv)) }
                if let o = rv.objectValue, let k = lv.stringValue { return .bool(o[k] != nil) }
                throw EvalError(message: "no matching overload for 'in'")
            case "+":
                if let a = lv.numberValue, let b = rv.numberValue { return .number(a + b) }
                if let a = lv.stringValue, let b = rv.stringValue { return .string(a + b) }
                if let a = lv.arrayValue, let b = rv.arrayValue { return .array(a + b) }
            case "-":
                if let a = lv.numberValue, let b = rv.numberValue { return .number(a - b) }
            case "<", "<=", ">", ">=":
                if let a = lv.numberValue, let b = rv.numberValue { return .bool(compare(op, a < b, a == b)) }
                if let a = lv.stringValue, let b = rv.stringValue { return .bool(compare(op, a < b, a == b)) }
            default: break
            }
            throw EvalError(message: "no matching overload for '\(op)'")
        case .call(let name, let target, let args):
            let t = try target.map { try eval($0, env) }
            let a = try args.map { try eval($0, env) }
            switch (name, t, a.count) {
            case ("size", nil, 1): return .number(Double(try size(a[0])))
            case ("size", let v?, 0): return .number(Double(try size(v)))
            case ("startsWith", .string(let s)?, 1): return .bool(s.hasPrefix(a[0].stringValue ?? "\u{0}"))
            case ("endsWith", .string(let s)?, 1): return .bool(s.hasSuffix(a[0].stringValue ?? "\u{0}"))
            case ("contains", .string(let s)?, 1): return .bool(s.contains(a[0].stringValue ?? "\u{0}"))
            case ("lowerAscii", .string(let s)?, 0): return .string(CELStrings.lowerAscii(s))
            case ("replace", .string(let s)?, 2):
                guard let old = a[0].stringValue, let new = a[1].stringValue else { break }
                return .string(CELStrings.replace(s, old, new))
            case ("matches", .string(let s)?, 1):
                guard let pattern = a[0].stringValue else { break }
                return .bool(ECMAPattern.matches(pattern, s))
            case ("split", .string(let s)?, 1):
                guard let separator = a[0].stringValue else { break }
                return .array(CELStrings.split(s, separator).map { .string($0) })
            case ("join", .array(let items)?, 0), ("join", .array(let items)?, 1):
                let parts = items.compactMap(\.stringValue)
                guard parts.count == items.count else { break }
                return .string(parts.joined(separator: a.first?.stringValue ?? ""))
            default: break
            }
            throw EvalError(message: "found no matching overload for '\(name)'")
        case .macro(let name, let target, let variable, let predicate):
            let t = try eval(target, env)
            let elements: [JSONValue] = t.arrayValue ?? t.objectValue.map { $0.keys.sorted().map { JSONValue.string($0) } } ?? []
            var count = 0
            for element in elements {
                var inner = env
                inner[variable] = element
                guard case .bool(let b) = try eval(predicate, inner) else { throw EvalError(message: "predicate is not a bool") }
                if b { count += 1 }
            }
            switch name {
            case "all": return .bool(count == elements.count)
            case "exists": return .bool(count > 0)
            default: return .bool(count == 1)
            }
        }
    }

    private func compare(_ op: String, _ less: Bool, _ equal: Bool) -> Bool {
        switch op {
        case "<": return less
        case "<=": return less || equal
        case ">": return !less && !equal
        default: return !less
        }
    }

    private func size(_ v: JSONValue) throws -> Int {
        switch v {
        case .string(let s): return s.count
        case .array(let a): return a.count
        case .object(let o): return o.count
        default: throw EvalError(message: "found no matching overload for 'size'")
        }
    }
}

private struct CELParser {
    enum Token: Equatable { case ident(String), number(Double), string(String), op(String) }

    var tokens: [Token]
    var position = 0
    var atEnd: Bool { position == tokens.count }

    static func tokenize(_ s: String) throws -> [Token] {
        var out: [Token] = []
        let chars = Array(s)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c.isLetter || c == "_" {
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                out.append(.ident(String(chars[i..<j]))); i = j; continue
            }
            if c.isNumber {
                var j = i
                while j < chars.count, chars[j].isNumber || chars[j] == "." { j += 1 }
                guard let n = Double(String(chars[i..<j])) else { throw CELRule.ParseError(message: "bad number") }
                out.append(.number(n)); i = j; continue
            }
            if c == "\"" || c == "'" {
                var j = i + 1
                var text = ""
                while j < chars.count, chars[j] != c {
                    if chars[j] == "\\", j + 1 < chars.count { j += 1 }
                    text.append(chars[j]); j += 1
                }
                guard j < chars.count else { throw CELRule.ParseError(message: "unterminated string") }
                out.append(.string(text)); i = j + 1; continue
            }
            let two = i + 1 < chars.count ? String(chars[i...i + 1]) : ""
            if ["&&", "||", "==", "!=", "<=", ">="].contains(two) { out.append(.op(two)); i += 2; continue }
            if "!<>+-?:.,()[]".contains(c) { out.append(.op(String(c))); i += 1; continue }
            throw CELRule.ParseError(message: "unexpected character \(c)")
        }
        return out
    }

    mutating func peek(_ op: String) -> Bool { position < tokens.count && tokens[position] == .op(op) }

    mutating func take(_ op: String) -> Bool {
        if peek(op) { position += 1; return true }
        return false
    }

    mutating func expect(_ op: String) throws {
        guard take(op) else { throw CELRule.ParseError(message: "expected \(op)") }
    }

    mutating func parseExpression() throws -> CELRule.Expr {
        let condition = try parseBinary(0)
        if take("?") {
            let a = try parseExpression()
            try expect(":")
            let b = try parseExpression()
            return .ternary(condition, a, b)
        }
        return condition
    }

    private static let levels: [[String]] = [["||"], ["&&"], ["==", "!=", "<", "<=", ">", ">=", "in"], ["+", "-"]]

    mutating func parseBinary(_ level: Int) throws -> CELRule.Expr {
        if level == Self.levels.count { return try parseUnary() }
        var lhs = try parseBinary(level + 1)
        while position < tokens.count {
            let token = tokens[position]
            let op: String
            switch token {
            case .op(let o) where Self.levels[level].contains(o): op = o
            case .ident("in") where level == 2: op = "in"
            default: return lhs
            }
            position += 1
            lhs = .binary(op, lhs, try parseBinary(level + 1))
        }
        return lhs
    }

    mutating func parseUnary() throws -> CELRule.Expr {
        if take("!") { return .unary("!", try parseUnary()) }
        if take("-") { return .unary("-", try parseUnary()) }
        return try parsePostfix()
    }

    mutating func parsePostfix() throws -> CELRule.Expr {
        var e = try parsePrimary()
        while true {
            if take(".") {
                guard position < tokens.count, case .ident(let name) = tokens[position] else { throw CELRule.ParseError(message: "expected field") }
                position += 1
                if take("(") {
                    if ["all", "exists", "exists_one"].contains(name) {
                        guard position < tokens.count, case .ident(let variable) = tokens[position] else { throw CELRule.ParseError(message: "expected variable") }
                        position += 1
                        try expect(",")
                        let predicate = try parseExpression()
                        try expect(")")
                        e = .macro(name, e, variable, predicate)
                    } else {
                        guard ["size", "startsWith", "endsWith", "contains", "matches", "lowerAscii", "replace", "split", "join"].contains(name) else {
                            throw CELRule.ParseError(message: "unsupported function \(name)")
                        }
                        e = .call(name, e, try parseArguments())
                    }
                } else {
                    e = .select(e, name)
                }
            } else if take("[") {
                let index = try parseExpression()
                try expect("]")
                e = .index(e, index)
            } else {
                return e
            }
        }
    }

    mutating func parseArguments() throws -> [CELRule.Expr] {
        var args: [CELRule.Expr] = []
        if take(")") { return args }
        repeat { args.append(try parseExpression()) } while take(",")
        try expect(")")
        return args
    }

    mutating func parsePrimary() throws -> CELRule.Expr {
        guard position < tokens.count else { throw CELRule.ParseError(message: "unexpected end") }
        let token = tokens[position]
        position += 1
        switch token {
        case .number(let n): return .literal(.number(n))
        case .string(let s): return .literal(.string(s))
        case .ident("true"): return .literal(.bool(true))
        case .ident("false"): return .literal(.bool(false))
        case .ident("null"): return .literal(.null)
        case .ident("has"):
            try expect("(")
            let arg = try parsePostfix()
            try expect(")")
            guard case .select(let target, let field) = arg else { throw CELRule.ParseError(message: "invalid argument to has() macro") }
            return .has(target, field)
        case .ident(let name):
            if take("(") {
                guard name == "size" else { throw CELRule.ParseError(message: "unsupported function \(name)") }
                return .call(name, nil, try parseArguments())
            }
            return .ident(name)
        case .op("("):
            let e = try parseExpression()
            try expect(")")
            return e
        case .op("["):
            var items: [CELRule.Expr] = []
            if take("]") { return .list(items) }
            repeat { items.append(try parseExpression()) } while take(",")
            try expect("]")
            return .list(items)
        default:
            throw CELRule.ParseError(message: "unexpected token")
        }
    }
}
