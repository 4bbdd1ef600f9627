import Foundation

/// Regular expressions as the API server evaluates CRD `pattern`s and CEL `matches` (RE2, ECMA-262-like): `$` matches
/// only at the end of the input. ICU (NSRegularExpression) would also match `$` before a final newline, so that
/// `^[a-z]+$` accepted "abc\n"; here an unescaped `$` outside a character class is read as `\z`.
enum ECMAPattern {
    static func matches(_ pattern: String, _ value: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: translate(pattern)) else { return false }
        return regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    }

    static func translate(_ pattern: String) -> String {
        var out = ""
        var escaped = false
        var inClass = false
        for c in pattern {
            if escaped { out.append(c); escaped = false; continue }
            switch c {
            case "\\": out.append(c); escaped = true
            case "[": inClass = true; out.append(c)
            case "]": inClass = false; out.append(c)
            case "$" where !inClass: out += "\\z"
            default: out.append(c)
            }
        }
        return out
    }
}
