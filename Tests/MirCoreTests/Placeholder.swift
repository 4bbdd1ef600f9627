import Testing
@Test func placeholder_MirCoreTests() {}
