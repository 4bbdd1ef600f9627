import Testing
@Test func placeholder_MirBuildTests() {}
