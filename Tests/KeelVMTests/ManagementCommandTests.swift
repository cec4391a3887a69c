import Testing
import KeelVM

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct ManagementLineTests {
  /// Feeds `input`, returning what each byte did.
  func feed(_ collector: inout ManagementLine, _ input: [UInt8]) -> [ManagementLine.Input] {
    input.map { collector.consume($0) }
  }

  @Test func bytesOutsideACommandPassThrough() {
    var c = ManagementLine()
    #expect(feed(&c, bytes("ls\r\n")) == [.passThrough, .passThrough, .passThrough, .passThrough])
    #expect(!c.collecting)
  }

  @Test func escapeStartsALineAndCROrLFEndsIt() {
    var c = ManagementLine()
    #expect(c.consume(0x1C) == .taken)
    #expect(feed(&c, bytes("help")) == [.taken, .taken, .taken, .taken])
    #expect(c.consume(13) == .line(bytes("help")))
    #expect(!c.collecting && c.line.isEmpty)
    // With CRLF the LF is no longer part of a command: it goes to the guest.
    #expect(c.consume(10) == .passThrough)
    _ = feed(&c, [0x1C] + bytes("status"))
    #expect(c.consume(10) == .line(bytes("status")))
    // Escape then Enter: an empty line (the status screen).
    #expect(feed(&c, [0x1C, 13]) == [.taken, .line([])])
  }

  @Test func escapeRestartsALine() {
    var c = ManagementLine()
    _ = feed(&c, [0x1C] + bytes("shutdo"))
    #expect(c.consume(0x1C) == .taken)
    #expect(c.line.isEmpty && c.collecting)
    _ = feed(&c, bytes("stat web"))
    #expect(c.consume(13) == .line(bytes("stat web")))
  }

  @Test func linesAreCutAt4096Bytes() {
    var c = ManagementLine()
    _ = c.consume(0x1C)
    let long = [UInt8](repeating: UInt8(ascii: "a"), count: 5000)
    #expect(feed(&c, long).allSatisfy { $0 == .taken })
    #expect(c.line.count == 4096)
    #expect(c.consume(10) == .line([UInt8](repeating: UInt8(ascii: "a"), count: 4096)))
    #expect(c.consume(UInt8(ascii: "a")) == .passThrough)
  }

  @Test func otherControlBytesArePartOfTheLine() {
    var c = ManagementLine()
    _ = c.consume(0x1C)
    _ = feed(&c, [9, 0, 0x7F, 0x1B])
    #expect(c.consume(13) == .line([9, 0, 0x7F, 0x1B]))
  }
}

@Suite struct ManagementCommandTests {
  func parse(_ line: String) -> ParsedCommand { ManagementCommandParser.parse(bytes(line)) }
  func plain(_ command: ManagementCommand, target: String? = nil, scope: String? = nil) -> ParsedCommand {
    ParsedCommand(scope: scope.map(bytes), target: target.map(bytes), command: command)
  }
  let web = bytes("web")

  @Test func words() {
    let w = ManagementCommandParser.words
    #expect(w(bytes("a b  c"), 5) == [bytes("a"), bytes("b"), bytes("c")])
    #expect(w(bytes("  a "), 5) == [bytes("a")])
    #expect(w(bytes(""), 5) == [])
    // The last word takes the rest of the line, spaces and all.
    #expect(w(bytes("a b c d e  f g"), 5) == [bytes("a"), bytes("b"), bytes("c"), bytes("d"), bytes("e  f g")])
    #expect(w(bytes("a b c d  e"), 5) == [bytes("a"), bytes("b"), bytes("c"), bytes("d"), bytes(" e")])
    // A space right after the fourth word leaves an empty fifth.
    #expect(w(bytes("a b c d "), 5) == [bytes("a"), bytes("b"), bytes("c"), bytes("d"), []])
    #expect(w(bytes("a b c "), 5) == [bytes("a"), bytes("b"), bytes("c")])
    #expect(w(bytes("a b"), 1) == [bytes("a b")])
    // Only spaces separate.
    #expect(w(bytes("a\tb"), 5) == [bytes("a\tb")])
  }

  @Test func commandsWithoutAVM() {
    #expect(parse("") == plain(.screen))
    #expect(parse("   ") == plain(.screen))
    #expect(parse("screen") == plain(.screen))
    #expect(parse("top") == plain(.screen))
    #expect(parse("help") == plain(.help))
    #expect(parse("cpus") == plain(.cpus))
    #expect(parse("status") == plain(.status))
    // Extra words are ignored by these.
    #expect(parse("status web extra") == plain(.status))
    #expect(parse("help me") == plain(.help))
  }

  @Test func commandsOnAVM() {
    #expect(parse("stat web") == plain(.stat(vm: web), target: "web"))
    #expect(parse("inspect web") == plain(.inspect(vm: web), target: "web"))
    #expect(parse("focus web") == plain(.focus(vm: web), target: "web"))
    #expect(parse("focus") == plain(.focus(vm: nil)))
    #expect(parse("shutdown web") == plain(.shutdown(vm: web), target: "web"))
    #expect(parse("poweroff web") == plain(.poweroff(vm: web), target: "web"))
    #expect(parse("reset web") == plain(.reset(vm: web), target: "web"))
    #expect(parse("start web") == plain(.start(vm: web), target: "web"))
    #expect(parse("pause web") == plain(.pause(vm: web), target: "web"))
    #expect(parse("resume web") == plain(.resume(vm: web), target: "web"))
    // Extra words after the VM are ignored, except by pause and resume.
    #expect(parse("stat  web  now") == plain(.stat(vm: web), target: "web"))
    #expect(parse("reset web please") == plain(.reset(vm: web), target: "web"))
    #expect(parse("pause web now") == plain(.usage(.pauseResume), target: "web"))
    #expect(parse("resume web now") == plain(.usage(.pauseResume), target: "web"))
  }

  @Test func usageErrors() {
    #expect(parse("stat") == plain(.usage(.stat)))
    #expect(parse("inspect") == plain(.usage(.inspect)))
    #expect(parse("shutdown") == plain(.usage(.shutdown)))
    #expect(parse("poweroff") == plain(.usage(.poweroff)))
    #expect(parse("reset") == plain(.usage(.reset)))
    #expect(parse("start") == plain(.usage(.start)))
    #expect(parse("pause") == plain(.usage(.pauseResume)))
    #expect(parse("resume") == plain(.usage(.pauseResume)))
    #expect(parse("guestinfo") == plain(.usage(.guestInfo)))
    // The VM word is still the target: an unknown VM is reported before the usage.
    #expect(parse("guestinfo web") == plain(.usage(.guestInfo), target: "web"))
    #expect(ManagementUsage.guestInfo.text == "usage: guestinfo <vm> <key> [<value>]")
    #expect(ManagementUsage.pauseResume.text == "usage: pause|resume <vm>")
    #expect(ManagementUsage.focus.text == "usage: focus [<vm>]")
  }

  @Test func unknownCommands() {
    #expect(parse("frobnicate") == plain(.unknown(name: bytes("frobnicate"))))
    #expect(parse("frobnicate web") == plain(.unknown(name: bytes("frobnicate"))))
    // Names are case-sensitive and exact.
    #expect(parse("Help") == plain(.unknown(name: bytes("Help"))))
    #expect(parse("stats web") == plain(.unknown(name: bytes("stats"))))
    #expect(parse("\tstatus") == plain(.unknown(name: bytes("\tstatus"))))
  }

  @Test func guestInfo() {
    let key = bytes("keel.ip")
    #expect(parse("guestinfo web keel.ip") == plain(.guestInfoGet(vm: web, key: key), target: "web"))
    #expect(parse("guestinfo web guestinfo.keel.ip") == plain(.guestInfoGet(vm: web, key: key), target: "web"))
    #expect(parse("guestinfo web keel.ip 10.0.0.2") == plain(.guestInfoSet(vm: web, key: key, value: bytes("10.0.0.2")), target: "web"))
    #expect(parse("guestinfo web guestinfo.keel.ip 10.0.0.2") == plain(.guestInfoSet(vm: web, key: key, value: bytes("10.0.0.2")), target: "web"))
    // The value is the rest of the line, unescaped.
    #expect(parse("guestinfo web note a b  c") == plain(.guestInfoSet(vm: web, key: bytes("note"), value: bytes("a b  c")), target: "web"))
    #expect(parse("guestinfo web note \\sx\\ty\\n\\\\") == plain(.guestInfoSet(vm: web, key: bytes("note"), value: bytes(" x\ty\n\\")), target: "web"))
    // A trailing space after the key alone is still a read; after a value it is kept.
    #expect(parse("guestinfo web note ") == plain(.guestInfoGet(vm: web, key: bytes("note")), target: "web"))
    #expect(parse("guestinfo web note v ") == plain(.guestInfoSet(vm: web, key: bytes("note"), value: bytes("v ")), target: "web"))
    // `guestinfo.` alone leaves an empty key.
    #expect(parse("guestinfo web guestinfo.") == plain(.guestInfoGet(vm: web, key: []), target: "web"))
  }

  @Test func scope() {
    #expect(parse("@tenantA status") == plain(.status, scope: "tenantA"))
    #expect(parse("@tenantA") == plain(.screen, scope: "tenantA"))
    #expect(parse("@tenantA stat web") == plain(.stat(vm: web), target: "web", scope: "tenantA"))
    #expect(parse("  @tenantA   focus") == plain(.focus(vm: nil), scope: "tenantA"))
    #expect(parse("@ help") == plain(.help, scope: ""))
    // Only the first word is a scope.
    #expect(parse("@a @b help") == plain(.unknown(name: bytes("@b")), scope: "a"))
    #expect(parse("status @a") == plain(.status))
    #expect(parse("@tenantA guestinfo web note a b") == plain(.guestInfoSet(vm: web, key: bytes("note"), value: bytes("a b")), target: "web", scope: "tenantA"))
    // The scope takes one of the five words: a trailing space after the key is an empty value then.
    #expect(parse("@tenantA guestinfo web note ") == plain(.guestInfoSet(vm: web, key: bytes("note"), value: []), target: "web", scope: "tenantA"))
  }

  @Test func collectedLinesParse() {
    var c = ManagementLine()
    var parsed: [ParsedCommand] = []
    for b in [0x1C] + bytes("@t poweroff web\r\n") + [0x1C] + bytes("focus\n") {
      if case .line(let line) = c.consume(b) { parsed.append(ManagementCommandParser.parse(line)) }
    }
    #expect(parsed == [plain(.poweroff(vm: web), target: "web", scope: "t"), plain(.focus(vm: nil))])
  }
}
