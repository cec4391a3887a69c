import ArgumentParser
import Foundation
import KeelHost
import Logging

@main
struct Keel: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "keel",
    abstract: "Run guests under the Keel hypervisor on QEMU's emulated arm64 machine.",
    subcommands: [Run.self, GuestInfoCommand.self, PauseCommand.self, ResumeCommand.self, StatCommand.self,
                  StopCommand.self, ResetCommand.self])

  /// Usage errors exit 2 (not ArgumentParser's 64), the same as invalid input found later.
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      let code = exitCode(for: error)
      if code == .validationFailure {
        FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
        Foundation.exit(2)
      }
      exit(withError: error)
    }
  }
}

extension GuestFlavour: ExpressibleByArgument {}
extension BareBoard: ExpressibleByArgument {}

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Boot a guest (default: Debian's arm64 kernel with Keel's busybox initramfs), or the VMs of .vmx files.",
    discussion: "With .vmx files (or --host), each file is one VM and only machine-wide options apply (--gic, --host-cpus, --timeout, --deterministic, --hypervisor). vCPUs may outnumber host CPUs: the hypervisor schedules them.")

  @Argument(help: "VM configuration files (VMware .vmx syntax with keel.* keys), one VM each.")
  var configurations: [String] = []

  @Option(name: .customLong("host"), help: "Host configuration (.vmx syntax): CPU unit, virtual hosts, resource pools and their VMs (docs/hosts.md).")
  var hostFile: String?

  @Option(help: "Guest kernel: arm64 Linux Image, aarch64 ELF, or raw binary with --load-address.")
  var kernel: String?
  @Option(help: "Guest physical load address for a raw image (hex 0x… or decimal).")
  var loadAddress: String?
  @Option(help: "Initial ramdisk for the guest.")
  var initrd: String?
  @Option(help: "Guest command line. A Linux kernel gets it after Keel's \"\(QEMUCommand.defaultGuestCommandLine)\"; any other image (ELF, raw binary) gets exactly this.")
  var append: String?
  @Option(help: "Guest vCPUs (default: 1).")
  var cpus: Int?
  @Option(help: "Guest memory in MiB (default: \(RunLimits.defaultMemoryMiB)).")
  var memory: Int?
  @Option(help: "GIC version of the machine: 2 or 3.")
  var gic: Int = 3
  @Option(help: "Physical CPUs of the emulated machine (default: --cpus, at most \(RunLimits.maxHostCPUs)).")
  var hostCpus: Int?
  @Option(help: "Kill QEMU and fail after this many seconds.")
  var timeout: Int?
  @Flag(help: "Instruction-counted, reproducible timing (-icount shift=0,sleep=off, fixed RTC, no DTB randomness).")
  var deterministic = false
  @Flag(help: "Boot the guest directly on QEMU, without Keel (for comparisons).")
  var bare = false
  @Option(help: "With --bare: the board the guest sees, virt (QEMU's own, the default) or keel (the one Keel gives it, for like-for-like comparisons).")
  var board: BareBoard?
  @Option(help: "Hypervisor ELF to use instead of building KeelHypervisor.")
  var hypervisor: String?
  @Option(help: "Guest initramfs to build: default (busybox), tools (plus Debian's open-vm-tools) or latency (plus cyclictest and stress-ng).")
  var guest: GuestFlavour = .default
  @Flag(name: .shortAndLong, help: "More log output (repeat for trace).")
  var verbose: Int

  func run() throws {
    let level: Logger.Level = verbose >= 2 ? .trace : verbose == 1 ? .debug : .notice
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    var logger = Logger(label: "keel")
    logger.logLevel = level

    var load: UInt64?
    if let text = loadAddress {
      do { load = try parseAddress(text) } catch {
        FileHandle.standardError.write(Data("keel: \(error)\n".utf8))
        throw ExitCode(2)
      }
    }
    let options = RunOptions(
      kernel: kernel, loadAddress: load, initrd: initrd, append: append, cpus: cpus ?? 1, memoryMiB: memory ?? RunLimits.defaultMemoryMiB,
      gic: gic, hostCPUs: hostCpus, timeoutSeconds: timeout, deterministic: deterministic, bare: bare,
      board: board, hypervisor: hypervisor, guest: guest)
    if !configurations.isEmpty || hostFile != nil {
      let perVM: [(String, Bool)] = [
        ("--kernel", kernel != nil), ("--load-address", loadAddress != nil), ("--initrd", initrd != nil),
        ("--append", append != nil), ("--cpus", cpus != nil), ("--memory", memory != nil), ("--bare", bare),
        ("--board", board != nil),
        ("--guest", guest != .default),
      ]
      if let flag = perVM.first(where: \.1)?.0 {
        FileHandle.standardError.write(Data("keel: \(flag) describes a VM; with .vmx files or --host, set it in the .vmx file instead\n".utf8))
        throw ExitCode(2)
      }
      let code = ConfigurationLauncher(
        paths: configurations, hostPath: hostFile, options: options, executablePath: CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0] : executablePath(),
        environment: ProcessInfo.processInfo.environment, logger: logger).run()
      if code != 0 { throw ExitCode(code) }
      return
    }
    let launcher = Launcher(
      options: options, executablePath: CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0] : executablePath(),
      environment: ProcessInfo.processInfo.environment, logger: logger)
    let code = launcher.run()
    if code != 0 { throw ExitCode(code) }
  }

  private func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
  }
}
