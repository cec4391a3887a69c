/// A writer for the SVR4 "newc" cpio format that Linux unpacks as an initramfs
/// (Documentation/driver-api/early-userspace/buffer-format.rst).
/// Written in-process so device nodes like /dev/console need no root and output is reproducible
/// (fixed mtime, uid, gid and inode numbering).
public struct CPIOArchive: Sendable {
  public enum Entry: Equatable, Sendable {
    case directory(path: String, mode: UInt32)
    case file(path: String, mode: UInt32, contents: [UInt8])
    case symlink(path: String, target: String)
    case characterDevice(path: String, mode: UInt32, major: UInt32, minor: UInt32)
  }

  public private(set) var entries: [Entry] = []

  public init() {}

  public mutating func append(_ entry: Entry) { entries.append(entry) }

  public mutating func addDirectory(_ path: String, mode: UInt32 = 0o755) { append(.directory(path: path, mode: mode)) }
  public mutating func addFile(_ path: String, contents: [UInt8], mode: UInt32 = 0o644) {
    append(.file(path: path, mode: mode, contents: contents))
  }
  public mutating func addSymlink(_ path: String, target: String) { append(.symlink(path: path, target: target)) }
  public mutating func addCharacterDevice(_ path: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600) {
    append(.characterDevice(path: path, mode: mode, major: major, minor: minor))
  }

  static let typeDirectory: UInt32 = 0o040000
  static let typeRegular: UInt32 = 0o100000
  static let typeSymlink: UInt32 = 0o120000
  static let typeCharacter: UInt32 = 0o020000

  public func serialized() -> [UInt8] {
    var out: [UInt8] = []
    var inode: UInt32 = 1
    for entry in entries {
      switch entry {
      case .directory(let path, let mode):
        Self.emit(&out, name: path, mode: Self.typeDirectory | (mode & 0o7777), inode: inode, nlink: 2, data: [])
      case .file(let path, let mode, let contents):
        Self.emit(&out, name: path, mode: Self.typeRegular | (mode & 0o7777), inode: inode, nlink: 1, data: contents)
      case .symlink(let path, let target):
        Self.emit(&out, name: path, mode: Self.typeSymlink | 0o777, inode: inode, nlink: 1, data: Array(target.utf8))
      case .characterDevice(let path, let mode, let major, let minor):
        Self.emit(&out, name: path, mode: Self.typeCharacter | (mode & 0o7777), inode: inode, nlink: 1, data: [],
                  rdevMajor: major, rdevMinor: minor)
      }
      inode += 1
    }
    Self.emit(&out, name: "TRAILER!!!", mode: 0, inode: 0, nlink: 1, data: [])
    return out
  }

  static func emit(
    _ out: inout [UInt8], name: String, mode: UInt32, inode: UInt32, nlink: UInt32, data: [UInt8],
    rdevMajor: UInt32 = 0, rdevMinor: UInt32 = 0
  ) {
    // Paths inside the archive are relative ("bin/sh"); the kernel accepts both, tools prefer this.
    var relative = Substring(name)
    while relative.first == "/" { relative = relative.dropFirst() }
    let nameBytes = Array(relative.utf8) + [0]
    let fields: [UInt32] = [
      inode, mode, 0, 0, nlink, 0, UInt32(data.count),
      0, 0, rdevMajor, rdevMinor, UInt32(nameBytes.count), 0,
    ]
    out += Array("070701".utf8)
    for field in fields { out += hex8(field) }
    out += nameBytes
    pad4(&out)
    out += data
    pad4(&out)
  }

  static func hex8(_ value: UInt32) -> [UInt8] {
    let digits = Array("0123456789ABCDEF".utf8)
    return (0..<8).map { i in digits[Int((value >> UInt32((7 - i) * 4)) & 0xF)] }
  }

  static func pad4(_ out: inout [UInt8]) {
    while out.count % 4 != 0 { out.append(0) }
  }
}
