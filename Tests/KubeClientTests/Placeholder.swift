import Testing
@Test func placeholder_KubeClientTests() {}
