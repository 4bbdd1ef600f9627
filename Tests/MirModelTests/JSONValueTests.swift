import Testing
import PropertyBased
import MirModel

@Suite struct JSONValueCanonicalTextTests {
    @Test func keysSortedNoWhitespaceIntegralNumbersWithoutFraction() {
        let parsed = JSONValue.parse("{ \"b\" : [1.0, 2.5, true, null], \"a\": {\"y\": \"x\", \"x\": -0} }")
        #expect(parsed?.canonicalText == "{\"a\":{\"x\":0,\"y\":\"x\"},\"b\":[1,2.5,true,null]}")
    }

    @Test func everyKindOfValueDecodesAsItself() {
        #expect(JSONValue.parse(#"[true,false,0,-1.5,1e3,"s","1","true",{},{"k":[null]},[],null]"#) == .array([
            .bool(true), .bool(false), .number(0), .number(-1.5), .number(1000), .string("s"), .string("1"), .string("true"),
            .object([:]), .object(["k": .array([.null])]), .array([]), .null]))
    }

    @Test func stringsAreEscaped() {
        let value = JSONValue.string("q\"b\\n\nt\tc\u{01}é")
        #expect(value.canonicalText == "\"q\\\"b\\\\n\\nt\\tc\\u0001é\"")
        #expect(JSONValue.parse(value.canonicalText) == value)
    }

    @Test func parseRejectsInvalidJSON() {
        #expect(JSONValue.parse("{\"a\":") == nil)
        #expect(JSONValue.parse("") == nil)
    }

    @Test func canonicalTextRoundTripsAndIgnoresSpelling() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...Int.max)) { seed in
            var rng = SplitMix64(seed: UInt64(seed))
            let doc = randomValidPolicy(using: &rng)
            let text = scrambledText(doc, using: &rng)
            let reparsed = JSONValue.parse(text)
            #expect(reparsed?.canonicalText == doc.canonicalText)
            #expect(JSONValue.parse(doc.canonicalText) == doc)
        }
    }
}
