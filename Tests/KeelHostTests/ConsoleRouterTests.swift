import Testing
@testable import KeelHost

@Suite struct ConsoleRouterTests {
  /// Feeds `text` in chunks of `chunk` bytes and collects what each destination got.
  func route(_ text: String, names: [String], chunk: Int) -> (console: String, files: [String]) {
    var router = ConsoleRouter(names: names)
    var console: [UInt8] = []
    var files = [[UInt8]](repeating: [], count: names.count)
    let bytes = Array(text.utf8)
    for start in stride(from: 0, to: bytes.count, by: chunk) {
      for (destination, piece) in router.feed(bytes[start..<min(start + chunk, bytes.count)]) {
        switch destination {
        case .console: console += piece
        case .file(let index): files[index] += piece
        }
      }
    }
    console += router.finish()
    return (String(decoding: console, as: UTF8.self), files.map { String(decoding: $0, as: UTF8.self) })
  }

  @Test(arguments: [1, 3, 7, 1000])
  func linesOfVMsWithAFileGoThereWithoutThePrefix(chunk: Int) {
    let text = "keel: booting\n[web] hello\r\n[db] login:\n[    0.1] Linux\n[webby] other\n[web]x\n[web] ~ # "
    let (console, files) = route(text, names: ["web"], chunk: chunk)
    #expect(files == ["hello\r\n~ # "])
    #expect(console == "keel: booting\n[db] login:\n[    0.1] Linux\n[webby] other\n[web]x\n")
  }

  @Test func severalFilesAndAHeldPartialPrefix() {
    let (console, files) = route("[a] 1\n[b] 2\n[a] 3\n[b", names: ["a", "b"], chunk: 2)
    #expect(files == ["1\n3\n", "2\n"])
    // A prefix cut off by the end of the stream is not lost.
    #expect(console == "[b")
  }

  @Test func piecesKeepTheirOrder() {
    var router = ConsoleRouter(names: ["a"])
    let pieces = router.feed(Array("x\n[a] y\nz\n".utf8))
    #expect(pieces.map(\.0) == [.console, .file(0), .console])
    #expect(pieces.map { String(decoding: $0.1, as: UTF8.self) } == ["x\n", "y\n", "z\n"])
  }
}
