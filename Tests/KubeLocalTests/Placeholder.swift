import Testing
@Test func placeholder_KubeLocalTests() {}
