import Testing
import KeelVM

@Suite struct GuestConsoleLinesTests {
  /// Writes `text`; returns the lines emitted and the bytes to show raw.
  func write(_ lines: inout GuestConsoleLines, _ text: [UInt8], raw: Bool) -> (lines: [[UInt8]], raw: [UInt8]) {
    var emitted: [[UInt8]] = []
    var shown: [UInt8] = []
    for b in text where lines.write(b, raw: raw, emit: { emitted.append($0) }) { shown.append(b) }
    return (emitted, shown)
  }

  @Test func sharedConsolesGetWholeLinesWithoutCR() {
    var lines = GuestConsoleLines()
    let out = write(&lines, Array("login: \r\nroot\r\npart".utf8), raw: false)
    #expect(out.lines == [Array("login: \n".utf8), Array("root\n".utf8)])
    #expect(out.raw.isEmpty)
    #expect(lines.line == Array("part".utf8))
    var flushed: [[UInt8]] = []
    lines.flush(ending: true) { flushed.append($0) }
    #expect(flushed == [Array("part\n".utf8)])
    lines.flush(ending: true) { flushed.append($0) }
    #expect(flushed.count == 1)
  }

  @Test func longLinesAreCut() {
    var lines = GuestConsoleLines()
    let out = write(&lines, [UInt8](repeating: 65, count: GuestConsoleLines.maxLine + 1), raw: false)
    #expect(out.lines == [[UInt8](repeating: 65, count: GuestConsoleLines.maxLine) + [10]])
    #expect(lines.line == [65])
  }

  @Test func rawOutputFlushesThePartialLineFirst() {
    var lines = GuestConsoleLines()
    _ = write(&lines, Array("ab".utf8), raw: false)
    let out = write(&lines, Array("c\r".utf8), raw: true)
    // The partial line goes out as it is (no line end), then the bytes are shown, CR included.
    #expect(out.lines == [Array("ab".utf8)])
    #expect(out.raw == Array("c\r".utf8))
    #expect(lines.line.isEmpty)
  }
}

@Suite struct ConsoleFramingTests {
  func text(_ body: (inout ConsoleFraming, (UInt8) -> Void) -> Void, _ framing: inout ConsoleFraming) -> String {
    var out: [UInt8] = []
    body(&framing) { out.append($0) }
    return String(decoding: out, as: UTF8.self)
  }

  @Test func keelLinesStartAtColumnZeroAndEndInCRLF() {
    var framing = ConsoleFraming()
    #expect(text({ $0.log("hello\nworld", put: $1) }, &framing) == "keel: hello\r\nworld\r\n")
    #expect(framing.atLineStart)
    #expect(text({ $0.guestByte(UInt8(ascii: "$"), put: $1) }, &framing) == "$")
    #expect(!framing.atLineStart)
    #expect(text({ $0.log("x", put: $1) }, &framing) == "\r\nkeel: x\r\n")
  }

  @Test func guestLinesArePrefixed() {
    var framing = ConsoleFraming()
    #expect(text({ $0.guestLine("web", Array("up\n".utf8), put: $1) }, &framing) == "[web] up\r\n")
    #expect(framing.atLineStart)
    #expect(text({ $0.guestLine("db", Array("partial".utf8), put: $1) }, &framing) == "[db] partial")
    #expect(text({ $0.guestLine("web", Array("next\n".utf8), put: $1) }, &framing) == "\r\n[web] next\r\n")
  }

  @Test func rawTextLeavesTheCursorAtALineStart() {
    var framing = ConsoleFraming()
    #expect(text({ $0.raw("\u{1B}[2J screen", put: $1) }, &framing) == "\u{1B}[2J screen")
    #expect(framing.atLineStart)
    #expect(text({ $0.log("x", put: $1) }, &framing) == "keel: x\r\n")
  }
}
