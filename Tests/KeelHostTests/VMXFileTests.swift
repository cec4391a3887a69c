import Testing
@testable import KeelHost

@Suite struct VMXFileTests {
  func parse(_ text: String) throws(VMXError) -> VMXFile { try VMXFile.parse(text, fileName: "web.vmx") }

  func error(_ text: String) -> VMXError? {
    do { _ = try parse(text); return nil } catch { return error }
  }

  @Test func parsesKeysValuesCommentsAndBlankLines() throws {
    let file = try parse("""
      # a VM
      .encoding = "UTF-8"

      displayName = "web server"   # trailing comment
        numvcpus="2"
      memsize = 512
      keel.cmdline = "quiet # not a comment"
      guestinfo.empty = ""
      """)
    #expect(file.entries.map(\.key) == [".encoding", "displayName", "numvcpus", "memsize", "keel.cmdline", "guestinfo.empty"])
    #expect(file.entries.map(\.value) == ["UTF-8", "web server", "2", "512", "quiet # not a comment", ""])
    #expect(file.entries.map(\.line) == [2, 4, 5, 6, 7, 8])
  }

  @Test func keysAreCaseInsensitive() throws {
    let file = try parse("DisplayName = \"x\"\n")
    #expect(file.entry("displayname")?.value == "x")
    #expect(file.entry("DISPLAYNAME")?.line == 1)
    #expect(file.entry("memsize") == nil)
  }

  @Test func crlfAndByteOrderMark() throws {
    let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("a = \"1\"\r\nb = \"2\"\r\n".utf8)
    let file = try VMXFile.parse(bytes: bytes, fileName: "w.vmx")
    #expect(file.entries.map(\.key) == ["a", "b"])
    #expect(file.entries.map(\.value) == ["1", "2"])
  }

  @Test func hexEscapes() throws {
    let file = try parse(#"guestinfo.x = "say |22hi|22 |7C pipe |7c lower |0A|23""#)
    #expect(file.entries[0].value == "say \"hi\" | pipe | lower \n#")
  }

  @Test(arguments: ["", "plain", "with \"quotes\"", "a|b", "#hash", "tab\there", "new\nline", "ünïcödé ✓", " spaces "])
  func quoteRoundTrips(_ value: String) throws {
    let file = try parse("k = \(VMXFile.quote(value))\n")
    #expect(file.entries[0].value == value)
  }

  @Test func emptyFileHasNoEntries() throws {
    #expect(try parse("").entries.isEmpty)
    #expect(try parse("\n\n# only comments\n   \n").entries.isEmpty)
  }

  // Every error names the file and line, and the key once there is one.
  @Test(arguments: [
    ("= \"x\"", 1, nil as String?, "missing key before '='"),
    ("nu m = \"2\"", 1, "nu", "expected '=' after the key"),
    ("numvcpus \"2\"", 1, "numvcpus", "expected '=' after the key"),
    ("numvcpus", 1, "numvcpus", "expected '=' after the key"),
    ("a/b = \"1\"", 1, nil, "\"a/b\" is not a valid key"),
    ("numvcpus =", 1, "numvcpus", "missing value"),
    ("numvcpus = # none", 1, "numvcpus", "missing value"),
    ("\nx = \"abc", 2, "x", "unterminated quoted value"),
    ("x = \"a|2\"", 1, "x", "bad escape \"|2\"\""),
    ("x = \"a|ZZ\"", 1, "x", "bad escape \"|ZZ\""),
    ("x = \"a|", 1, "x", "bad escape \"|\""),
    ("x = \"a\" b", 1, "x", "unexpected text after the value: \"b\""),
    ("x = a\"b", 1, "x", "stray quote"),
    ("x = \"a\u{1}b\"", 1, "x", "control character 0x01"),
    ("x = \"|FF\"", 1, "x", "not valid UTF-8"),
    ("a = \"1\"\n# c\nA = \"2\"", 3, "A", "duplicate key (first set on line 1)"),
  ])
  func errors(_ text: String, _ line: Int, _ key: String?, _ fragment: String) {
    guard let error = error(text) else { Issue.record("no error for \(text)"); return }
    #expect(error.fileName == "web.vmx")
    #expect(error.line == line)
    #expect(error.key == key)
    #expect(error.message.contains(fragment), "\(error.message)")
    let prefix = key.map { "web.vmx:\(line): \($0): " } ?? "web.vmx:\(line): "
    #expect(error.description.hasPrefix(prefix), "\(error.description)")
  }

  @Test func errorDescriptionFormat() {
    #expect(VMXError(fileName: "web.vmx", line: 7, key: "numvcpus", message: "\"two\" is not a number").description
      == "web.vmx:7: numvcpus: \"two\" is not a number")
    #expect(VMXError(fileName: "web.vmx", line: nil, key: nil, message: "no such file").description == "web.vmx: no such file")
  }
}
