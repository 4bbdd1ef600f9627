import Testing
@Test func placeholder_MirSpecTests() {}
