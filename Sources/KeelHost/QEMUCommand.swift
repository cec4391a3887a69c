/// The exact QEMU argv for a run. Pure: paths and sizes in, arguments out.
public struct QEMUCommand: Equatable, Sendable {
  public static let executable = "qemu-system-aarch64"
  /// What Keel puts before `--append` for a Linux kernel: its console on the PL011, and a
  /// reboot (which Keel reports) instead of a hang on panic. Other images (bare-metal programs
  /// whose argv is the command line) get exactly what the user appended.
  public static let defaultGuestCommandLine = "console=ttyAMA0 panic=-1"

  public var arguments: [String]

  public static func guestCommandLine(append: String?, linux: Bool) -> String {
    let extra = append?.trimmingSpaces() ?? ""
    guard linux else { return extra }
    return extra.isEmpty ? defaultGuestCommandLine : defaultGuestCommandLine + " " + extra
  }

  /// The same guest directly on QEMU, as the reference point for comparisons. `dtb` replaces the
  /// device tree QEMU would build (`--board keel`); QEMU still fills in memory and /chosen.
  public static func bare(kernel: String, initrd: String?, linux: Bool, options: RunOptions, dtb: String? = nil) -> QEMUCommand {
    var args = machine(virtualization: false, options: options)
    args += ["-smp", String(options.cpus), "-m", String(options.memoryMiB)]
    args += common(options: options)
    args += ["-kernel", kernel]
    if let initrd { args += ["-initrd", initrd] }
    if let dtb { args += ["-dtb", dtb] }
    let commandLine = guestCommandLine(append: options.append, linux: linux)
    if !commandLine.isEmpty { args += ["-append", commandLine] }
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
