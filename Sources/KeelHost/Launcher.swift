import Foundation
import Logging

/// `keel run`: validate, fetch or build what is missing, launch QEMU, and turn the console into
/// an exit status. Returns the process exit code; every failure is reported as one `keel: ` line.
public struct Launcher {
  public var options: RunOptions
  public var executablePath: String
  public var environment: [String: String]
  public var logger: Logger

  public init(options: RunOptions, executablePath: String, environment: [String: String], logger: Logger) {
    self.options = options; self.executablePath = executablePath; self.environment = environment; self.logger = logger
  }

  public func run() -> Int32 {
    do {
      return try launch()
    } catch let error as RunValidationError {
      report(error.description)
      return RunVerdict.usage
    } catch let error as KeelUsageError {
      report(error.description)
      return RunVerdict.usage
    } catch {
      report("\(error)")
      return RunVerdict.guestFailure
    }
  }

  func report(_ line: String) { writeAll(STDERR_FILENO, Array("keel: \(line)\n".utf8)) }

  func launch() throws -> Int32 {
    try options.checkLimits()
    // User-supplied paths are checked before anything slow happens.
    for path in [options.kernel, options.initrd, options.hypervisor].compactMap({ $0 }) { try Self.checkReadable(path) }

    let progress: @Sendable (String) -> Void = { line in writeAll(STDERR_FILENO, Array("keel: \(line)\n".utf8)) }
    let root = PackageRoot.locate(executablePath: executablePath, environment: environment)
    let needsRoot = options.kernel == nil || options.guest != .default || (!options.bare && options.hypervisor == nil)
    if needsRoot && root == nil {
      throw KeelHostError.setup("cannot find the Keel package root from \(executablePath); set KEEL_ROOT")
    }

    var kernelPath = options.kernel
    var initrdPath = options.initrd
    if let root, kernelPath == nil || options.guest != .default {
      let guest = DefaultGuest(root: root, cache: DefaultGuest.cacheDirectory(environment: environment), progress: progress)
      if kernelPath == nil { kernelPath = try guest.kernel() }
      if initrdPath == nil { initrdPath = try guest.initramfs(flavour: options.guest) }
    }
    guard let kernelPath else { throw KeelHostError.setup("no kernel") }

    let kernel = try Self.readFile(kernelPath)
    let initrdSize = try initrdPath.map { UInt64(try Self.fileSize($0)) }
    let placement = try GuestImageCheck.check(
      kernel: kernel, kernelPath: kernelPath, initrdSize: initrdSize, initrdPath: initrdPath, options: options)
    logger.debug("guest image: \(placement.plan.format) entry \(hex(placement.plan.entry)), \(kernel.count) bytes")

    if !options.bare {
      // The flag form is a one-VM configuration named vm0, booted like a .vmx run.
      let vm = VMConfiguration(
        name: "vm0", cpus: options.cpus, memoryMiB: options.memoryMiB, kernel: kernelPath, initrd: initrdPath,
        commandLine: options.append, loadAddress: options.loadAddress)
      let boot = BootVM(configuration: vm, kernelPath: kernelPath, initrdPath: initrdPath,
                        kernelSize: placement.kernelFileSize, initrdSize: placement.initrdFileSize,
                        linux: placement.plan.format == .linuxImage)
      return try bootKeel([boot], options: options, root: root, progress: progress, strictNames: false)
    }
    try ensureQEMU(progress: progress)
    var dtbPath: String?
    if options.board == .keel {
      let url = FileManager.default.temporaryDirectory.appendingPathComponent("keel-board-\(getpid())-\(UUID().uuidString).dtb")
      try Data(BareBoard.keelDeviceTree(options: options)).write(to: url)
      dtbPath = url.path
    }
    defer { if let dtbPath { try? FileManager.default.removeItem(atPath: dtbPath) } }
    let command = QEMUCommand.bare(
      kernel: kernelPath, initrd: initrdPath, linux: placement.plan.format == .linuxImage, options: options, dtb: dtbPath)
    logger.info("\(QEMUCommand.executable) \(command.arguments.map(Self.shellQuoted).joined(separator: " "))")

    let session = ConsoleSession(
      executable: QEMUCommand.executable, arguments: command.arguments,
      mode: .bare, timeoutSeconds: options.timeoutSeconds)
    session.onStart = { pid in logger.debug("qemu pid \(pid)") }
    let result = try session.run()
    if let reason = result.verdict.reason { report(reason) }
    return result.verdict.exitCode
  }

  func ensureQEMU(progress: @Sendable (String) -> Void) throws {
    if Subprocess.which(QEMUCommand.executable) != nil { return }
    progress("installing qemu-system-arm…")
    do {
      try Subprocess.run(["apt-get", "install", "-y", "qemu-system-arm"], echo: true)
    } catch {
      try Subprocess.run(["apt-get", "update"], echo: true)
      try Subprocess.run(["apt-get", "install", "-y", "qemu-system-arm"], echo: true)
    }
  }

  static func checkReadable(_ path: String) throws(RunValidationError) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw .unreadable(path: path, reason: "no such file")
    }
    if isDirectory.boolValue { throw .unreadable(path: path, reason: "is a directory") }
    guard FileManager.default.isReadableFile(atPath: path) else { throw .unreadable(path: path, reason: "permission denied") }
  }

  static func readFile(_ path: String) throws(RunValidationError) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path, reason: "read failed") }
    return [UInt8](data)
  }

  static func fileSize(_ path: String) throws(RunValidationError) -> Int {
    guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber else {
      throw .unreadable(path: path, reason: "cannot stat")
    }
    return size.intValue
  }

  static func shellQuoted(_ word: String) -> String {
    if !word.isEmpty && word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,@".contains($0) }) { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }
}
