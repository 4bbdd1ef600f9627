extension SpecGrammar {
    /// A base image's user as a Dockerfile `USER` takes it: a name or uid, optionally `:group` (name or gid); each
    /// part 1–32 of `[A-Za-z0-9_.-]`, starting with a letter, digit or `_`. Nothing else (no blanks, no `$`) ever
    /// reaches a Dockerfile.
    public static func isImageUser(_ value: String) -> Bool {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            let s = Array(part.unicodeScalars)
            guard (1...32).contains(s.count), isAlnum(s[0]) || s[0] == "_" else { return false }
            return s.allSatisfy { isAlnum($0) || $0 == "_" || $0 == "." || $0 == "-" }
        }
    }
}
