import Testing
@testable import KeelHost

/// Reads newc archives back, independently of the writer's code.
struct NewcEntry: Equatable {
  var name: String
  var mode: UInt32
  var nlink: UInt32
  var rdevMajor: UInt32
  var rdevMinor: UInt32
  var data: [UInt8]
}

func parseNewc(_ bytes: [UInt8]) throws -> [NewcEntry] {
  struct Malformed: Error { var reason: String }
  var entries: [NewcEntry] = []
  var offset = 0
  func field(_ index: Int) throws -> UInt32 {
    let start = offset + 6 + index * 8
    guard start + 8 <= bytes.count, let value = UInt32(String(decoding: bytes[start..<start + 8], as: UTF8.self), radix: 16) else {
      throw Malformed(reason: "bad field \(index) at \(offset)")
    }
    return value
  }
  while true {
    guard offset % 4 == 0 else { throw Malformed(reason: "entry at \(offset) not 4-byte aligned") }
    guard offset + 110 <= bytes.count, String(decoding: bytes[offset..<offset + 6], as: UTF8.self) == "070701" else {
      throw Malformed(reason: "bad magic at \(offset)")
    }
    let mode = try field(1), nlink = try field(4), size = Int(try field(6))
    let rmaj = try field(9), rmin = try field(10), nameSize = Int(try field(11))
    let nameStart = offset + 110
    guard nameSize >= 1, nameStart + nameSize <= bytes.count, bytes[nameStart + nameSize - 1] == 0 else {
      throw Malformed(reason: "bad name at \(offset)")
    }
    let name = String(decoding: bytes[nameStart..<nameStart + nameSize - 1], as: UTF8.self)
    let dataStart = (nameStart + nameSize + 3) & ~3
    guard dataStart + size <= bytes.count else { throw Malformed(reason: "data past end for \(name)") }
    if name == "TRAILER!!!" {
      guard (dataStart + size + 3) & ~3 == bytes.count else { throw Malformed(reason: "bytes after trailer") }
      return entries
    }
    entries.append(NewcEntry(name: name, mode: mode, nlink: nlink, rdevMajor: rmaj, rdevMinor: rmin,
                             data: Array(bytes[dataStart..<dataStart + size])))
    offset = (dataStart + size + 3) & ~3
  }
}

@Suite struct CPIOArchiveTests {
  @Test func roundTripsEveryEntryKind() throws {
    var archive = CPIOArchive()
    archive.addDirectory("/bin")
    archive.addFile("bin/tool", contents: Array("hello, world".utf8), mode: 0o755)
    archive.addSymlink("bin/sh", target: "busybox")
    archive.addCharacterDevice("dev/console", major: 5, minor: 1)
    archive.addFile("empty", contents: [])
    let entries = try parseNewc(archive.serialized())
    #expect(entries.map(\.name) == ["bin", "bin/tool", "bin/sh", "dev/console", "empty"])
    #expect(entries[0].mode == 0o040755 && entries[0].nlink == 2)
    #expect(entries[1].mode == 0o100755 && entries[1].data == Array("hello, world".utf8))
    #expect(entries[2].mode == 0o120777 && entries[2].data == Array("busybox".utf8))
    #expect(entries[3].mode == 0o020600 && entries[3].rdevMajor == 5 && entries[3].rdevMinor == 1)
    #expect(entries[4].data.isEmpty && entries[4].mode == 0o100644)
  }

  @Test(arguments: 0..<8)
  func paddingHoldsForAnyNameAndDataLength(_ extra: Int) throws {
    var archive = CPIOArchive()
    let name = "f" + String(repeating: "x", count: extra)
    let data = [UInt8](repeating: 0xAB, count: 13 + extra)
    archive.addFile(name, contents: data)
    archive.addFile("next", contents: [1, 2, 3])
    let entries = try parseNewc(archive.serialized())
    #expect(entries.map(\.name) == [name, "next"])
    #expect(entries[0].data == data)
    #expect(entries[1].data == [1, 2, 3])
  }

  @Test func outputIsReproducible() {
    func build() -> [UInt8] {
      var archive = CPIOArchive()
      archive.addDirectory("a"); archive.addFile("a/b", contents: [9, 9])
      return archive.serialized()
    }
    #expect(build() == build())
  }

  @Test func defaultGuestLayoutHasConsoleInitAndShell() throws {
    let archive = DefaultGuest.initramfsArchive(initScript: Array("#!/bin/sh\n".utf8), busybox: [1, 2, 3], helper: [4, 5])
    let entries = try parseNewc(archive.serialized())
    let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })
    #expect(byName["init"]?.mode == 0o100755)
    #expect(byName["dev/console"]?.rdevMajor == 5)
    #expect(byName["bin/sh"]?.data == Array("busybox".utf8))
    #expect(byName["bin/busybox"]?.data == [1, 2, 3])
    #expect(byName["bin/keel-cntvct"]?.data == [4, 5])
    // Directories come before what they contain.
    for (index, entry) in entries.enumerated() where entry.name.contains("/") {
      let parent = String(entry.name[..<entry.name.lastIndex(of: "/")!])
      #expect(entries[..<index].contains { $0.name == parent }, "\(entry.name) before \(parent)")
    }
  }
}
