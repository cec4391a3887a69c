import Foundation
import KeelFDT

enum Fixture {
  static func bytes(_ name: String) throws -> [UInt8] {
    guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
      throw FixtureMissing(name: name)
    }
    return [UInt8](try Data(contentsOf: url))
  }

  static let qemuNames = ["virt-gicv3.dtb", "virt-gicv2.dtb", "virt-guest-loader.dtb"]
  static let allNames = qemuNames + ["edge.dtb"]
}

struct FixtureMissing: Error { let name: String }

/// Runs `dtc -I dtb -O dts` when dtc is installed, as an independent check of blobs we write.
enum DTC {
  static let path = "/usr/bin/dtc"
  static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: path) }

  struct Output { let status: Int32; let dts: String; let diagnostics: String }

  static func decompile(_ blob: [UInt8]) throws -> Output {
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("keelfdt-\(UUID().uuidString).dtb")
    try Data(blob).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = ["-I", "dtb", "-O", "dts", input.path]
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let dts = out.fileHandleForReading.readDataToEndOfFile()
    let diagnostics = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Output(status: process.terminationStatus, dts: String(decoding: dts, as: UTF8.self),
                  diagnostics: String(decoding: diagnostics, as: UTF8.self))
  }
}

/// Deterministic xorshift so corruption tests are reproducible.
struct XorShift {
  var state: UInt64
  mutating func next() -> UInt64 {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17
    return state
  }
}

extension MemoryRegion {
  init(_ base: UInt64, _ size: UInt64) { self.init(base: base, size: size) }
}
