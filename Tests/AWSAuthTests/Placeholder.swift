import Testing
@Test func placeholder_AWSAuthTests() {}
