import Foundation
import Testing

/// Runs the built `keel` binary the way a user would and captures what it printed.
/// These tests need the host build, the embedded build and the guests from `scripts/test.sh`;
/// a missing piece is a failure, never a skip.
enum KeelHarness {
  struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
    var output: String { stdout + "\n" + stderr }
    /// The `keel: <reason>` lines keel itself wrote to stderr.
    var keelLines: [String] { stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("keel: ") } }
    func lines(withPrefix prefix: String) -> [String] {
      stdout.split(whereSeparator: \.isNewline).map { String($0) }.filter { $0.hasPrefix(prefix) }
    }
  }

  struct Missing: Error, CustomStringConvertible { var description: String }

  /// Tests/KeelSystemTests/KeelHarness.swift → package root, unless KEEL_ROOT says otherwise.
  static let root: String = {
    if let root = ProcessInfo.processInfo.environment["KEEL_ROOT"], !root.isEmpty { return root }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
  }()

  static var keelBinary: String { root + "/.build/debug/keel" }
  static var hypervisorImage: String { root + "/.build/aarch64-none-none-elf/release/KeelHypervisor" }
  static var hostileGuest: String { root + "/.build/guests/hostile.elf" }

  static func require(_ path: String, builtBy how: String) throws {
    guard FileManager.default.fileExists(atPath: path) else {
      throw Missing(description: "\(path) is missing; \(how) (scripts/test.sh does this)")
    }
  }

  /// Runs `keel run <arguments>` under Keel with the prebuilt hypervisor image
  /// (passed explicitly: building it from inside `swift test` would wait on SwiftPM's lock).
  static func keelRun(_ arguments: [String], timeout: Int = 600, environment: [String: String] = [:]) throws -> Run {
    try require(keelBinary, builtBy: "run `swift build --product keel`")
    try require(hypervisorImage, builtBy: "run `swift build -c release --triple aarch64-none-none-elf --toolset Support/toolset-el2.json --product KeelHypervisor`")
    return try run(["run", "--hypervisor", hypervisorImage, "--timeout", String(timeout)] + arguments,
                   hardLimit: timeout + 120, environment: environment)
  }

  static func bareRun(_ arguments: [String], timeout: Int = 600) throws -> Run {
    try require(keelBinary, builtBy: "run `swift build --product keel`")
    return try run(["run", "--bare", "--timeout", String(timeout)] + arguments, hardLimit: timeout + 120, environment: [:])
  }

  /// Runs keel itself; `hardLimit` guards against keel hanging (its own --timeout covers QEMU).
  static func run(_ arguments: [String], hardLimit: Int, environment: [String: String]) throws -> Run {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("keel-systest-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: keelBinary)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["KEEL_ROOT"] = root
    for (key, value) in environment { env[key] = value }
    process.environment = env
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let deadline = Date().addingTimeInterval(TimeInterval(hardLimit))
    while process.isRunning && Date() < deadline { usleep(100_000) }
    if process.isRunning {
      process.terminate()  // keel kills its QEMU on SIGTERM
      process.waitUntilExit()
      throw Missing(description: "keel \(arguments.joined(separator: " ")) did not finish within \(hardLimit) s")
    }
    process.waitUntilExit()
    try out.close(); try err.close()
    let stdout = String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self)
    let stderr = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
    return Run(status: process.terminationStatus, stdout: stdout, stderr: stderr)
  }
}

extension KeelHarness {
  /// `keel run A.vmx …` left running in the background: its output read as it grows, its standard
  /// input a pipe the test writes to as a person types at the serial console.
  final class Background {
    let process = Process()
    let directory: URL
    let out: URL, err: URL
    let input = Pipe()
    var environment: [String: String]

    /// `files` (name → contents) are written to a fresh directory; the `.vmx` ones are run, in
    /// name order, after `arguments` (unless a `--host` file in `arguments` lists them).
    init(files: [String: String], arguments: [String] = []) throws {
      try KeelHarness.require(KeelHarness.keelBinary, builtBy: "run `swift build --product keel`")
      try KeelHarness.require(KeelHarness.hypervisorImage, builtBy: "run the embedded build")
      directory = FileManager.default.temporaryDirectory.appendingPathComponent("keel-bg-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      for (name, contents) in files { try contents.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
      let folder = directory
      let vmx = arguments.contains("--host") ? [] : files.keys.filter { $0.hasSuffix(".vmx") }.sorted().map { folder.appendingPathComponent($0).path }
      out = directory.appendingPathComponent("out"); err = directory.appendingPathComponent("err")
      FileManager.default.createFile(atPath: out.path, contents: nil)
      FileManager.default.createFile(atPath: err.path, contents: nil)
      environment = ["KEEL_ROOT": KeelHarness.root, "KEEL_RUN_DIR": directory.appendingPathComponent("run").path]
      process.executableURL = URL(fileURLWithPath: KeelHarness.keelBinary)
      process.arguments = ["run", "--hypervisor", KeelHarness.hypervisorImage, "--timeout", "600"] + arguments + vmx
      process.currentDirectoryURL = directory
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
      process.standardInput = input
      process.standardOutput = try FileHandle(forWritingTo: out)
      process.standardError = try FileHandle(forWritingTo: err)
      try process.run()
    }

    var stdout: String { String(decoding: (try? Data(contentsOf: out)) ?? Data(), as: UTF8.self) }
    var output: String { stdout + "\n" + ((try? String(contentsOf: err, encoding: .utf8)) ?? "") }

    /// Bytes into the serial input, as typed.
    func type(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }

    /// A command of the hypervisor's management console: Ctrl-\\, the command, Enter.
    func console(_ command: String) { type("\u{1C}" + command + "\n") }

    /// Waits for a line starting with `prefix` that comes after the first `skipping` such lines;
    /// returns it.
    func waitForLine(_ prefix: String, after skipping: Int = 0, seconds: Double = 600) throws -> String {
      let deadline = Date().addingTimeInterval(seconds)
      while Date() < deadline {
        // Only whole lines: the file may end in the middle of one that is still being written.
        let bytes = (try? Data(contentsOf: out)) ?? Data()
        let complete = bytes.lastIndex(of: 10).map { bytes[...$0] } ?? Data()
        let text = String(decoding: complete, as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline).filter { $0.hasPrefix(prefix) }
        if lines.count > skipping { return String(lines[skipping]) }
        if !process.isRunning, !stdout.contains(prefix) {
          throw KeelHarness.Missing(description: "keel run ended before \(prefix):\n\(output)")
        }
        usleep(20_000)
      }
      throw KeelHarness.Missing(description: "no \(prefix) within \(seconds) s:\n\(output)")
    }

    /// Lines starting with `prefix` so far.
    func lines(_ prefix: String) -> [String] {
      stdout.split(whereSeparator: \.isNewline).filter { $0.hasPrefix(prefix) }.map(String.init)
    }

    func keel(_ arguments: [String]) throws -> KeelHarness.Run {
      try KeelHarness.run(arguments, hardLimit: 60, environment: environment)
    }

    func finish(seconds: Double = 120) -> Int32? {
      let deadline = Date().addingTimeInterval(seconds)
      while process.isRunning && Date() < deadline { usleep(50_000) }
      if process.isRunning { stop(); return nil }
      return process.terminationStatus
    }

    /// Stops keel the way a person does (SIGTERM: keel takes its QEMU down with it); SIGKILL
    /// only if that does not work, which would orphan QEMU.
    func stop() {
      guard process.isRunning else { return }
      kill(process.processIdentifier, SIGTERM)
      let deadline = Date().addingTimeInterval(10)
      while process.isRunning && Date() < deadline { usleep(50_000) }
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
    }

    deinit {
      stop()
      try? FileManager.default.removeItem(at: directory)
    }
  }
}

/// What the default guest's init script printed.
struct GuestReport {
  var initReached: Bool
  var cpusOnline: String?
  /// cpu name → (before, after) arch_timer interrupt counts around `sleep 1`.
  var timers: [String: (Int, Int)]
  var cntvct: UInt64?
  /// "rtc-pl031 9010000.pl031" (or "none") and the year the guest's clock says.
  var rtc: (name: String, year: Int)?

  init(_ run: KeelHarness.Run) {
    let lines = run.stdout.split(whereSeparator: \.isNewline).map { String($0) }
    initReached = lines.contains { $0.hasPrefix("keel-guest: init reached") }
    cpusOnline = lines.first { $0.hasPrefix("keel-guest: cpus online: ") }
      .map { String($0.dropFirst("keel-guest: cpus online: ".count)).trimmingCharacters(in: .whitespaces) }
    timers = [:]
    for line in lines where line.hasPrefix("keel-guest: timer cpu") {
      // "keel-guest: timer cpu0 123 -> 160"
      let words = line.split(separator: " ").map(String.init)
      guard words.count == 6, let before = Int(words[3]), let after = Int(words[5]) else { continue }
      timers[words[2]] = (before, after)
    }
    rtc = lines.first { $0.hasPrefix("keel-guest: rtc ") }.flatMap { line -> (String, Int)? in
      // "keel-guest: rtc rtc-pl031 9010000.pl031 year 2026"
      let words = line.split(separator: " ").map(String.init)
      guard words.count >= 4, let year = Int(words[words.count - 1]), words[words.count - 2] == "year" else { return nil }
      return (words[2..<(words.count - 2)].joined(separator: " "), year)
    }
    cntvct = lines.first { $0.hasPrefix("keel-guest: cntvct=") }
      .flatMap { $0.split(separator: " ").dropFirst().first }
      .flatMap { UInt64($0.dropFirst("cntvct=".count)) }
  }

  /// "0" → ["cpu0"], "0-1" → ["cpu0", "cpu1"], "0,2-3" → …
  static func cpuNames(online: String) -> [String] {
    var names: [String] = []
    for part in online.split(separator: ",") {
      let bounds = part.split(separator: "-").compactMap { Int($0) }
      guard let first = bounds.first else { continue }
      for cpu in first...(bounds.last ?? first) { names.append("cpu\(cpu)") }
    }
    return names
  }
}

/// Every system test boots an emulated machine; one at a time keeps a 2-core host responsive
/// and timings meaningful.
@Suite(.serialized) enum SystemTests {}
