import Foundation

/// The string functions of Kubernetes' CEL `strings` extension that mir's CRD uses, as cel-go defines them.
enum CELStrings {
    /// `lowerAscii()`: ASCII letters lowercased, every other character unchanged.
    static func lowerAscii(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            if ("A"..."Z").contains(scalar), let lower = Unicode.Scalar(scalar.value + 32) { out.append(lower) } else { out.append(scalar) }
        }
        return String(out)
    }

    /// `replace(old, new)`: every non-overlapping occurrence, left to right. An empty `old` inserts `new` between
    /// characters and at both ends, as Go's `strings.Replace` does.
    static func replace(_ s: String, _ old: String, _ new: String) -> String {
        if old.isEmpty {
            return new + s.map { String($0) + new }.joined()
        }
        return s.replacingOccurrences(of: old, with: new, options: .literal)
    }
}

extension CELStrings {
    /// `split(separator)`: as Go's `strings.Split` (cel-go's strings extension): an empty separator splits into
    /// characters, and an empty string gives one empty element.
    static func split(_ s: String, _ separator: String) -> [String] {
        if separator.isEmpty { return s.map { String($0) } }
        return s.components(separatedBy: separator)
    }
}
