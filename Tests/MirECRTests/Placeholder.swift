import Testing
@Test func placeholder_MirECRTests() {}
