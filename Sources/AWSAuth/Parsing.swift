import Foundation

/// Tolerant ISO-8601 timestamps as AWS endpoints send them: `2026-11-27T15:42:08Z`, with optional fractional seconds
/// and an optional numeric offset instead of `Z`.
enum ISO8601 {
    static func parse(_ text: String) -> Date? {
        let chars = Array(text.trimmingCharacters(in: .whitespaces).utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= chars.count else { return nil }
            var value = 0
            for byte in chars[range] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard chars.count >= 19, chars[4] == 0x2D, chars[7] == 0x2D, chars[10] == 0x54 || chars[10] == 0x20,
              chars[13] == 0x3A, chars[16] == 0x3A,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var fraction = 0.0
        if index < chars.count, chars[index] == 0x2E {
            index += 1
            var scale = 0.1
            while index < chars.count, chars[index] >= 0x30 && chars[index] <= 0x39 {
                fraction += Double(chars[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        if index < chars.count {
            switch chars[index] {
            case 0x5A, 0x7A: index += 1
            case 0x2B, 0x2D:
                let sign = chars[index] == 0x2B ? 1 : -1
                guard let hours = number(index + 1..<index + 3) else { return nil }
                var cursor = index + 3
                if cursor < chars.count, chars[cursor] == 0x3A { cursor += 1 }
                guard let minutes = number(cursor..<cursor + 2) else { return nil }
                offset = sign * (hours * 3600 + minutes * 60)
                index = cursor + 2
            default: return nil
            }
        }
        guard index == chars.count else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}

/// Just enough XML for the STS query protocol: the text of the first `<name>` element (optionally inside `<parent>`),
/// with the five predefined entities and numeric character references decoded.
enum MiniXML {
    static func text(of name: String, in document: String, inside parent: String? = nil) -> String? {
        var scope = Substring(document)
        if let parent {
            guard let inner = element(parent, in: scope) else { return nil }
            scope = inner
        }
        return element(name, in: scope).map { decodeEntities(String($0)) }
    }

    private static func element(_ name: String, in text: Substring) -> Substring? {
        var searchFrom = text.startIndex
        while let open = text.range(of: "<\(name)", range: searchFrom..<text.endIndex) {
            guard let close = text.range(of: ">", range: open.upperBound..<text.endIndex) else { return nil }
            let between = text[open.upperBound..<close.lowerBound]
            // Reject longer names sharing the prefix (<Code> vs <CodeX>).
            if let first = between.first, first != " " && first != "/" && first != "\t" && first != "\n" {
                searchFrom = close.upperBound
                continue
            }
            if between.hasSuffix("/") { return "" }
            guard let end = text.range(of: "</\(name)>", range: close.upperBound..<text.endIndex) else { return nil }
            return text[close.upperBound..<end.lowerBound]
        }
        return nil
    }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[rest.startIndex..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                out += rest[amp...]
                return out
            }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var scalar: Unicode.Scalar?
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init)
                }
                if let scalar { out.unicodeScalars.append(scalar) } else { out += rest[amp...semi] }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}
