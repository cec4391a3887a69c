import Foundation
import KeelVM
import Logging

/// Errors that mean "the input was wrong": reported as one `keel:` line, exit status 2,
/// and QEMU is never started.
public protocol KeelUsageError: Error, CustomStringConvertible {}

extension VMXError: KeelUsageError {}
extension MachineConfigurationCheck.Problem: KeelUsageError {}
extension ConfigurationModule.Problem: KeelUsageError {}
extension AdmissionProblem: KeelUsageError {}
extension ManagementError: KeelUsageError {}

/// Machine-wide problems of a multi-VM run.
public enum MachineRunError: KeelUsageError, Equatable {
  case memoryTooLarge(totalMiB: Int, hostMiB: Int)

  public var description: String {
    switch self {
    case .memoryTooLarge(let total, let host):
      return "the VMs need \(total) MiB of host memory with their images; the emulated machine has at most \(host) MiB"
    }
  }
}

extension Launcher {
  /// The one path by which Keel boots VMs: config module, QEMU, console with management channel.
  /// - Parameter strictNames: a VM name already served by another `keel run` is an error
  ///   (`.vmx` runs) rather than a warning (flag runs, which are all called `vm0`).
  /// - Parameter resources: the CPU unit and resource groups (already admitted) for the configuration module.
  func bootKeel(
    _ vms: [BootVM], options: RunOptions, root: String?, progress: @escaping @Sendable (String) -> Void, strictNames: Bool,
    resources: HostResources = HostResources()
  ) throws -> Int32 {
    let configurations = vms.map(\.configuration)
    try MachineConfigurationCheck.check(configurations)
    let hostCPUs = options.hostCPUs ?? QEMUCommand.defaultHostCPUs(for: configurations)
    // More vCPUs than host CPUs is fine: the hypervisor's scheduler shares the CPUs out.
    guard (1...RunLimits.maxHostCPUs).contains(hostCPUs) else { throw RunValidationError.hostCPUsOutOfRange(hostCPUs) }
    let layout = MachineLayout(vms: vms.map(\.blobs))
    guard layout.hostMemoryMiB <= RunLimits.maxHostMemoryMiB else {
      throw MachineRunError.memoryTooLarge(totalMiB: layout.hostMemoryMiB, hostMiB: RunLimits.maxHostMemoryMiB)
    }
    let config = try ConfigurationModule.bytes(vms: configurations, layout: layout, resources: resources)

    let management = try ManagementServer(vms: configurations.map(\.name), environment: environment, strict: strictNames)
    defer { management.close() }

    try ensureQEMU(progress: progress)
    let hypervisor = try options.hypervisor ?? HypervisorImage(root: root!, progress: progress).ensureBuilt()
    let configURL = FileManager.default.temporaryDirectory.appendingPathComponent("keel-config-\(getpid())-\(UUID().uuidString).txt")
    try Data(config).write(to: configURL)
    defer { try? FileManager.default.removeItem(at: configURL) }
    logger.debug("hypervisor configuration:\n\(String(decoding: config.dropLast(), as: UTF8.self))")

    let command = QEMUCommand.keel(
      hypervisor: hypervisor, vms: vms, layout: layout, configFile: configURL.path, hostCPUs: hostCPUs, options: options)
    logger.info("\(QEMUCommand.executable) \(command.arguments.map(Self.shellQuoted).joined(separator: " "))")

    let session = ConsoleSession(
      executable: QEMUCommand.executable, arguments: command.arguments, mode: .keel, timeoutSeconds: options.timeoutSeconds)
    session.vmNames = configurations.map(\.name)
    session.management = management
    // One VM's lines carry no prefix, so its file is a copy of the console; with several, each
    // VM's `[name] ` lines go to its own file instead.
    if vms.count == 1, case .file(let path) = configurations[0].serial { session.consoleCopyPath = path }
    if vms.count > 1 {
      session.serialFiles = configurations.compactMap { vm in if case .file(let path) = vm.serial { (vm.name, path) } else { nil } }
    }
    let logger = self.logger
    session.onStart = { pid in logger.debug("qemu pid \(pid)") }
    let result = try session.run()
    if let reason = result.verdict.reason { report(reason) }
    return result.verdict.exitCode
  }
}

/// `keel run [--host HOST.cfg] A.vmx [B.vmx …]`: every `.vmx` file is one VM; the host file adds
/// virtual hosts, resource pools and more VMs; machine-wide settings come from `options`
/// (GIC, host CPUs, timeout, determinism, hypervisor image).
public struct ConfigurationLauncher {
  public var paths: [String]
  public var hostPath: String?
  public var options: RunOptions
  public var executablePath: String
  public var environment: [String: String]
  public var logger: Logger

  public init(paths: [String], hostPath: String? = nil, options: RunOptions, executablePath: String, environment: [String: String], logger: Logger) {
    self.paths = paths; self.hostPath = hostPath; self.options = options; self.executablePath = executablePath
    self.environment = environment; self.logger = logger
  }

  /// Reads and parses a file in `.vmx` syntax (at most 1 MiB): the file, its name and its folder.
  static func read(path: String) throws(VMXError) -> (file: VMXFile, directory: String) {
    let url = URL(fileURLWithPath: path)
    guard let data = FileManager.default.contents(atPath: path) else {
      let reason = FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"
      throw VMXError(fileName: path, line: nil, key: nil, message: reason)
    }
    guard data.count <= 1 << 20 else { throw VMXError(fileName: url.lastPathComponent, line: nil, key: nil, message: "file is larger than 1 MiB; not a .vmx file?") }
    return (try VMXFile.parse(bytes: [UInt8](data), fileName: url.lastPathComponent), url.deletingLastPathComponent().path)
  }

  /// Reads and validates one `.vmx` file. Relative paths are taken from the file's folder.
  public static func load(path: String) throws(VMXError) -> VMConfiguration { try loadFile(path: path).vm }

  static func loadFile(path: String) throws(VMXError) -> (file: VMXFile, vm: VMConfiguration) {
    let (file, directory) = try read(path: path)
    let baseName = file.fileName.hasSuffix(".vmx") ? String(file.fileName.dropLast(4)) : file.fileName
    return (file, try VMConfiguration(vmx: file, directory: directory, defaultName: baseName))
  }

  /// Reads the host file (if any) and every `.vmx` file, and puts each VM into its resource group
  /// (its `group` becomes the configuration module's name). The host file's VMs come first.
  public static func loadMachine(hostPath: String?, paths: [String]) throws(VMXError) -> (vms: [(file: String, vm: VMConfiguration)], resources: HostResources) {
    var host: HostFile?
    if let hostPath {
      let (file, directory) = try read(path: hostPath)
      host = try HostFile(vmx: file, directory: directory)
    }
    func groupError(_ file: VMXFile, _ message: String) -> VMXError {
      VMXError(fileName: file.fileName, line: file.entry("keel.group")?.line, key: file.entry("keel.group")?.key ?? "keel.group", message: message)
    }
    var loaded: [(file: String, vm: VMConfiguration)] = []
    for entry in host?.vms ?? [] {
      guard FileManager.default.fileExists(atPath: entry.path) else {
        throw VMXError(fileName: host!.fileName, line: entry.line, key: entry.key, message: "no such file: \(entry.path)")
      }
      var (file, vm) = try loadFile(path: entry.path)
      guard let group = host!.groupName(vm.group, in: entry.virtualHost) else {
        let pools = host!.pools[entry.virtualHost] ?? []
        throw groupError(file, "unknown resource group \(quoted(vm.group!)) in virtual host \(entry.virtualHost) (\(host!.fileName) declares \(pools.isEmpty ? "no pools" : pools.joined(separator: ", ")) there)")
      }
      vm.group = group
      loaded.append((file.fileName, vm))
    }
    for path in paths {
      var (file, vm) = try loadFile(path: path)
      if let host {
        do {
          if let virtualHost = try host.virtualHost(forGroup: vm.group) { vm.group = host.groupName(vm.group, in: virtualHost) }
        } catch { throw groupError(file, error.description) }
      } else if let group = vm.group {
        throw groupError(file, "unknown resource group \(quoted(group)) (declare it in a --host file)")
      }
      loaded.append((file.fileName, vm))
    }
    return (qualifyingSharedNames(loaded), host?.resources ?? HostResources())
  }

  /// Virtual hosts name their VMs independently: a name that two virtual hosts both use becomes
  /// `<virtual host>.<name>` on the machine (sockets, console prefixes, `keel stat`), while each
  /// tenant's `@<virtual host>` console view still shows it by its own name. Names used in one
  /// virtual host only stay as they are; two VMs of one name in one virtual host remain an error.
  static func qualifyingSharedNames(_ loaded: [(file: String, vm: VMConfiguration)]) -> [(file: String, vm: VMConfiguration)] {
    func virtualHost(_ vm: VMConfiguration) -> String? { vm.group.map { String($0.prefix { $0 != "/" }) } }
    var hostsByName: [String: Set<String>] = [:]
    for (_, vm) in loaded { if let host = virtualHost(vm) { hostsByName[vm.name, default: []].insert(host) } }
    return loaded.map { entry in
      var entry = entry
      if let host = virtualHost(entry.vm), (hostsByName[entry.vm.name]?.count ?? 0) > 1 {
        entry.vm.name = host + "." + entry.vm.name
      }
      return entry
    }
  }

  public func run() -> Int32 {
    let launcher = Launcher(options: options, executablePath: executablePath, environment: environment, logger: logger)
    do {
      return try launch(launcher)
    } catch let error as KeelUsageError {
      launcher.report(error.description)
      return RunVerdict.usage
    } catch let error as RunValidationError {
      launcher.report(error.description)
      return RunVerdict.usage
    } catch {
      launcher.report("\(error)")
      return RunVerdict.guestFailure
    }
  }

  func launch(_ launcher: Launcher) throws -> Int32 {
    try options.checkLimits()
    if let hypervisor = options.hypervisor { try Launcher.checkReadable(hypervisor) }
    let (loaded, resources) = try Self.loadMachine(hostPath: hostPath, paths: paths)
    try MachineConfigurationCheck.check(loaded.map(\.vm))
    // Admission before anything slow: the same checks the hypervisor's scheduler makes.
    try resources.admit(loaded.map(\.vm), hostCPUs: options.hostCPUs ?? QEMUCommand.defaultHostCPUs(for: loaded.map(\.vm)))
    // Every user-named file is checked before anything slow (downloads, builds) happens.
    for (file, vm) in loaded {
      for (key, path) in [("keel.kernel", vm.kernel), ("keel.initrd", vm.initrd)] {
        guard let path else { continue }
        do { try Launcher.checkReadable(path) } catch {
          throw VMXError(fileName: file, line: nil, key: key, message: error.description)
        }
      }
    }

    let progress: @Sendable (String) -> Void = { line in writeAll(STDERR_FILENO, Array("keel: \(line)\n".utf8)) }
    let root = PackageRoot.locate(executablePath: executablePath, environment: environment)
    let needsRoot = loaded.contains { $0.vm.kernel == nil } || options.hypervisor == nil
    if needsRoot && root == nil {
      throw KeelHostError.setup("cannot find the Keel package root from \(executablePath); set KEEL_ROOT")
    }
    var defaultKernel: String?
    var defaultInitramfs: [GuestFlavour: String] = [:]

    var vms: [BootVM] = []
    for (file, vm) in loaded {
      var kernelPath = vm.kernel
      var initrdPath = vm.initrd
      if kernelPath == nil, let root {
        let guest = DefaultGuest(root: root, cache: DefaultGuest.cacheDirectory(environment: environment), progress: progress)
        if defaultKernel == nil { defaultKernel = try guest.kernel() }
        kernelPath = defaultKernel
        if initrdPath == nil {
          if defaultInitramfs[vm.guestFlavour] == nil { defaultInitramfs[vm.guestFlavour] = try guest.initramfs(flavour: vm.guestFlavour) }
          initrdPath = defaultInitramfs[vm.guestFlavour]
        }
      }
      guard let kernelPath else { throw KeelHostError.setup("no kernel") }
      let kernel = try Launcher.readFile(kernelPath)
      let initrdSize = try initrdPath.map { UInt64(try Launcher.fileSize($0)) }
      let guestOptions = RunOptions(loadAddress: vm.loadAddress, cpus: vm.cpus, memoryMiB: vm.memoryMiB)
      let placement: GuestPlacement
      do {
        placement = try GuestImageCheck.check(
          kernel: kernel, kernelPath: kernelPath, initrdSize: initrdSize, initrdPath: initrdPath, options: guestOptions)
      } catch {
        throw VMXError(fileName: file, line: nil, key: nil, message: error.description)
      }
      logger.debug("\(vm.name): \(placement.plan.format) entry \(hex(placement.plan.entry)), \(kernel.count) bytes")
      vms.append(BootVM(
        configuration: vm, kernelPath: kernelPath, initrdPath: initrdPath,
        kernelSize: placement.kernelFileSize, initrdSize: placement.initrdFileSize,
        linux: placement.plan.format == .linuxImage))
    }
    return try launcher.bootKeel(vms, options: options, root: root, progress: progress, strictNames: true, resources: resources)
  }
}
