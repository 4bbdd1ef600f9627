import Testing
@Test func placeholder_AWSSigV4Tests() {}
