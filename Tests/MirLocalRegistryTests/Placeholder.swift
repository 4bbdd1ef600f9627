import Testing
@Test func placeholder_MirLocalRegistryTests() {}
