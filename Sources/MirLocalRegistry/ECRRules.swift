import Crypto
import Foundation
import MirRegistry

/// ECR's documented input rules (../shared/reference/aws-ecr.md §1–§3), checked the way ECR checks them.
enum ECRRules {
    static let repositoryNameLength = 2...256
    static let modelRepositoryNamePattern = "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*"
    static let maxResultsRange = 1...1000
    static let defaultPageSize = 100
    static let idListRange = 1...100
    static let maxTagsPerRepository = 50
    static let tagKeyLength = 1...128
    static let tagValueLength = 0...256
    static let imageTagLength = 1...300
    static let manifestLength = 1...4_194_304

    /// `^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`, by hand: every `/`-separated
    /// component is alphanumeric runs joined by exactly `.`, `_`, `__`, or one or more `-`.
    static func isValidRepositoryName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return false }
        func isAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        var component: [UInt8] = []
        func componentIsValid() -> Bool {
            guard let first = component.first, let last = component.last, isAlnum(first), isAlnum(last) else { return false }
            var separator: [UInt8] = []
            for b in component {
                if isAlnum(b) {
                    if !separator.isEmpty {
                        let s = String(decoding: separator, as: UTF8.self)
                        guard s == "." || s == "_" || s == "__" || s.allSatisfy({ $0 == "-" }) else { return false }
                        separator.removeAll()
                    }
                } else if b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") {
                    separator.append(b)
                } else {
                    return false
                }
            }
            return true
        }
        for b in bytes {
            if b == UInt8(ascii: "/") {
                guard componentIsValid() else { return false }
                component.removeAll()
            } else {
                component.append(b)
            }
        }
        return componentIsValid()
    }

    /// `^[A-Za-z0-9_][A-Za-z0-9._-]*$`, 1–300.
    static func isValidImageTag(_ tag: String) -> Bool {
        guard imageTagLength.contains(tag.utf8.count) else { return false }
        for (i, b) in tag.utf8.enumerated() {
            let alnum = (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_")
            if alnum { continue }
            if i > 0, b == UInt8(ascii: ".") || b == UInt8(ascii: "-") { continue }
            return false
        }
        return true
    }

    /// Letters, digits, spaces and `+ - = . _ : / @`.
    static func isAllowedTagText(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == " " || "+-=._:/@".unicodeScalars.contains(scalar)
        }
    }

    static func sha256Digest(of text: String) -> String {
        "sha256:" + SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// `InvalidParameterException` worded as ECR words it.
func invalidParameter(_ operation: String, _ parameter: String, _ constraint: String) -> RegistryError {
    RegistryError(.invalidParameter, operation: operation,
                  message: "Invalid parameter at '\(parameter)' failed to satisfy constraint: '\(constraint)'")
}

/// Opaque pagination tokens: they name the operation and the listing they belong to, and carry a checksum,
/// so a token that is garbage or belongs to another listing is refused instead of silently misread.
struct PageToken: Equatable {
    var listing: String
    var position: String

    private static func checksum(_ payload: String) -> String {
        SHA256.hash(data: Data(("mir-local-registry-page\n" + payload).utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    var encoded: String {
        let payload = "1\n\(listing)\n\(position)"
        let raw = Data((payload + "\n" + Self.checksum(payload)).utf8).base64EncodedString()
        return raw.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Decodes a token made by `encoded` for this listing; nil for anything else.
    static func decode(_ token: String, listing: String) -> PageToken? {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        guard let cut = text.lastIndex(of: "\n") else { return nil }
        let payload = String(text[..<cut])
        guard String(text[text.index(after: cut)...]) == checksum(payload) else { return nil }
        let parts = payload.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "1", parts[1] == listing else { return nil }
        return PageToken(listing: listing, position: String(parts[2]))
    }
}
