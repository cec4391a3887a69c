/// The exact QEMU argv for a run. Pure: paths and sizes in, arguments out.
public struct QEMUCommand: Equatable, Sendable {
  public static let executable = "qemu-system-aarch64"
  public static let defaultGuestCommandLine = "console=ttyAMA0 panic=-1"

  public var arguments: [String]

  public static func guestCommandLine(append: String?) -> String {
    guard let extra = append?.trimmingSpaces(), !extra.isEmpty else { return defaultGuestCommandLine }
    return defaultGuestCommandLine + " " + extra
  }

  /// Keel on QEMU: the hypervisor is the machine's kernel, the guest rides in guest-loader blobs.
  public static func keel(
    hypervisor: String, kernel: String, initrd: String?, layout: HostLayout, options: RunOptions
  ) -> QEMUCommand {
    var hypervisorArgs = "keel.cpus=\(options.cpus) keel.memory=\(options.memoryMiB)"
    if let load = options.loadAddress { hypervisorArgs += " keel.load=\(hex(load))" }
    var args = machine(virtualization: true, options: options)
    args += ["-smp", String(options.effectiveHostCPUs), "-m", String(layout.hostMemoryMiB)]
    args += common(options: options)
    args += ["-kernel", hypervisor, "-append", hypervisorArgs]
    args += ["-device", "guest-loader,addr=\(hex(layout.kernelAddress)),kernel=\(escape(kernel)),bootargs=\(escape(guestCommandLine(append: options.append)))"]
    if let initrd, let address = layout.initrdAddress {
      args += ["-device", "guest-loader,addr=\(hex(address)),initrd=\(escape(initrd))"]
    }
    return QEMUCommand(arguments: args)
  }

  /// The same guest directly on QEMU, as the reference point for comparisons.
  public static func bare(kernel: String, initrd: String?, options: RunOptions) -> QEMUCommand {
    var args = machine(virtualization: false, options: options)
    args += ["-smp", String(options.cpus), "-m", String(options.memoryMiB)]
    args += common(options: options)
    args += ["-kernel", kernel]
    if let initrd { args += ["-initrd", initrd] }
    args += ["-append", guestCommandLine(append: options.append)]
    return QEMUCommand(arguments: args)
  }

  static func machine(virtualization: Bool, options: RunOptions) -> [String] {
    var machine = "virt"
    if virtualization { machine += ",virtualization=on" }
    machine += ",gic-version=\(options.gic),its=off"
    if options.deterministic { machine += ",dtb-randomness=off" }
    return ["-M", machine, "-cpu", "cortex-a72"]
  }

  static func common(options: RunOptions) -> [String] {
    var args = ["-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot"]
    if options.deterministic {
      args += ["-icount", "shift=0,sleep=off", "-rtc", "base=2024-01-01T00:00:00,clock=vm"]
    }
    return args
  }

  /// QEMU splits -device properties on commas; a literal comma is written twice.
  static func escape(_ value: String) -> String {
    var out = ""
    for ch in value { out.append(ch); if ch == "," { out.append(",") } }
    return out
  }
}

extension String {
  func trimmingSpaces() -> String {
    var s = Substring(self)
    while let f = s.first, f == " " || f == "\t" || f == "\n" { s = s.dropFirst() }
    while let l = s.last, l == " " || l == "\t" || l == "\n" { s = s.dropLast() }
    return String(s)
  }
}
