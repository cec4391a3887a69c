import KeelVM
import Testing
@testable import KeelHost

@Suite struct ManagementProtocolTests {
  static let values = [
    "", "plain", "two words", " leading", "trailing ", "  both  ", "back\\slash", "\\n literally", "line\nbreak",
    "tab\there", "\\", "\\s", " ", "ünïcödé ✓", "a  \t  b", "end\\",
  ]

  @Test(arguments: values)
  func escapingRoundTrips(_ value: String) {
    let escaped = ProtocolEscaping.escape(value)
    #expect(ProtocolEscaping.unescape(escaped) == value)
    // One line, no leading or trailing blanks: safe as "rest of line" after a trimming parser.
    #expect(!escaped.contains("\n") && !escaped.contains("\t"))
    #expect(escaped.first != " " && escaped.last != " ")
  }

  @Test func escapingSpelling() {
    #expect(ProtocolEscaping.escape(" a b ") == "\\sa b\\s")
    #expect(ProtocolEscaping.escape("a\\b\nc\td") == "a\\\\b\\nc\\td")
    #expect(ProtocolEscaping.escape("  ") == "\\s\\s")
    #expect(ProtocolEscaping.unescape("\\q\\") == "\\q\\")  // unknown escapes survive
  }

  @Test func forbiddenBytes() {
    #expect(ProtocolEscaping.forbiddenByte(in: "ok\t\n") == nil)
    #expect(ProtocolEscaping.forbiddenByte(in: "a\u{1C}b") == 0x1C)
    #expect(ProtocolEscaping.forbiddenByte(in: "a\rb") == 0x0D)
    #expect(ProtocolEscaping.forbiddenByte(in: "\u{0}") == 0)
    #expect(ProtocolEscaping.forbiddenByte(in: "\u{7F}") == 0x7F)
  }

  @Test(arguments: values.filter { !$0.isEmpty })
  func requestsRoundTripOverTheSocketLine(_ value: String) throws {
    let request = try ManagementRequest.guestInfo(key: "guestinfo.k", value: value)
    #expect(request == .setGuestInfo(key: "k", value: value))
    #expect(!request.wireLine.contains("\n"))
    #expect(ManagementRequest.parse(wireLine: request.wireLine) == request)
  }

  @Test func requests() throws {
    #expect(try ManagementRequest.guestInfo(key: "ip", value: nil) == .getGuestInfo(key: "ip"))
    #expect(try ManagementRequest.guestInfo(key: "GuestInfo.ip", value: nil) == .getGuestInfo(key: "ip"))
    #expect(throws: ManagementRequest.Problem.badKey("guestinfo.")) { try ManagementRequest.guestInfo(key: "guestinfo.", value: nil) }
    #expect(throws: ManagementRequest.Problem.badKey("a b")) { try ManagementRequest.guestInfo(key: "a b", value: nil) }
    #expect(throws: ManagementRequest.Problem.forbiddenByte(0x1C)) { try ManagementRequest.guestInfo(key: "k", value: "\u{1C}") }
    #expect(throws: ManagementRequest.Problem.emptyValue) { try ManagementRequest.guestInfo(key: "k", value: "") }
    for request in [ManagementRequest.getGuestInfo(key: "a.b"), .pause, .resume] {
      #expect(ManagementRequest.parse(wireLine: request.wireLine) == request)
    }
  }

  @Test func hypervisorCommands() throws {
    #expect(ManagementRequest.getGuestInfo(key: "ip").hypervisorCommand(vm: "web") == "guestinfo web ip")
    #expect(try ManagementRequest.guestInfo(key: "motd", value: " hi there\n").hypervisorCommand(vm: "vm1") == "guestinfo vm1 motd \\shi there\\n")
    #expect(ManagementRequest.pause.hypervisorCommand(vm: "db") == "pause db")
    #expect(ManagementRequest.resume.hypervisorCommand(vm: "db") == "resume db")
  }

  @Test(arguments: ["", "status", "guestinfo", "guestinfo a b\u{1C}", "guestinfo bad/key", "pause web", "guestinfo k \r", "guestinfo k "])
  func malformedRequestsAreRefused(_ line: String) {
    #expect(ManagementRequest.parse(wireLine: line) == nil)
  }

  @Test func replies() {
    #expect(ManagementReply(line: "ok") == .ok(nil))
    #expect(ManagementReply(line: "ok 10.0.0.2\r") == .ok("10.0.0.2"))
    #expect(ManagementReply(line: "error no value for guestinfo.x") == .error("no value for guestinfo.x"))
    #expect(ManagementReply(line: "huh") == .error("unexpected reply: huh"))
    for reply in [ManagementReply.ok(nil), .ok("a b"), .error("bad")] { #expect(ManagementReply(line: reply.line) == reply) }
  }

  @Test func filterTakesRepliesOutAtAnyChunking() {
    let stream = Array("boot\r\nkeel: mgmt: ok 1\r\nguest keel: mgmt: not a reply\nkeel: mgm\nkeel: vm0: x\nkeel: mgmt: error no\n# ".utf8)
    let expectedOutput = Array("boot\r\nguest keel: mgmt: not a reply\nkeel: mgm\nkeel: vm0: x\n# ".utf8)
    for split in 0...stream.count {
      var filter = ManagementReplyFilter()
      let first = filter.feed(stream[..<split])
      let second = filter.feed(stream[split...])
      #expect(first.output + second.output + filter.release() == expectedOutput)
      #expect(first.replies + second.replies == ["ok 1", "error no"])
    }
  }

  @Test func filterHoldsOnlyAPossiblePrefix() {
    var filter = ManagementReplyFilter()
    #expect(filter.feed(Array("x\nkee".utf8)).output == Array("x\n".utf8))
    #expect(filter.isHolding)
    #expect(filter.release() == Array("kee".utf8))
    // After a release the rest of that line is ordinary output.
    #expect(filter.feed(Array("l: mgmt: ok\n".utf8)) == (Array("l: mgmt: ok\n".utf8), []))
    #expect(!filter.isHolding)
  }
}

/// `==` for the filter's tuple result, to keep the expectations readable.
func == (lhs: (output: [UInt8], replies: [String]), rhs: ([UInt8], [String])) -> Bool {
  lhs.output == rhs.0 && lhs.replies == rhs.1
}
