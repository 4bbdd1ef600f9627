import Testing
@Test func placeholder_MirModelTests() {}
