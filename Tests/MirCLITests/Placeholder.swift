import Testing
@Test func placeholder_MirCLITests() {}
