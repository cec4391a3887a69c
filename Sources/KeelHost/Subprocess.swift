import Foundation

/// Runs setup tools (apt, dpkg-deb, clang, swift build). Their chatter goes to our stderr so that
/// stdout stays the guest console.
public struct Subprocess: Sendable {
  public struct Failure: Error, CustomStringConvertible {
    public var command: [String]
    public var status: Int32
    public var output: String
    public var description: String {
      let tail = output.split(separator: "\n").suffix(5).joined(separator: "\n")
      return "`\(command.joined(separator: " "))` failed with status \(status)" + (tail.isEmpty ? "" : ":\n\(tail)")
    }
  }

  /// Runs and returns stdout. With `echo`, stdout and stderr go to our stderr and nothing is captured.
  @discardableResult
  public static func run(_ command: [String], in directory: String? = nil, echo: Bool = false) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.standardInput = FileHandle.nullDevice
    let outPipe = Pipe()
    process.standardOutput = echo ? FileHandle.standardError : outPipe
    // Diagnostics stay visible instead of being swallowed.
    process.standardError = FileHandle.standardError
    try process.run()
    let outputData = echo ? Data() : outPipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: outputData, as: UTF8.self)
    guard process.terminationStatus == 0 else {
      throw Failure(command: command, status: process.terminationStatus, output: output)
    }
    return output
  }

  /// Whether an executable is on PATH.
  public static func which(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
      let candidate = "\(dir)/\(name)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }
}
