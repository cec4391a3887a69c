import KeelVM

/// One VM as the user described it, in a `.vmx` file or with `keel run` flags.
/// Paths are absolute (a `.vmx` file's relative paths are resolved against its folder).
public struct VMConfiguration: Equatable, Sendable {
  public enum TimeMode: String, Equatable, Sendable { case passthrough, trapped }

  /// `sched.cpu.shares`: VMware's named levels or an explicit share count.
  public enum CPUShares: Equatable, Sendable { case low, normal, high, custom(Int) }

  /// `serial0.*`: where the VM's console goes.
  public enum Serial: Equatable, Sendable {
    case console
    case file(String)
  }

  public var name: String
  public var cpus: Int
  public var memoryMiB: Int
  /// nil: the default guest's kernel.
  public var kernel: String?
  /// nil with a default kernel: the default guest's initramfs.
  public var initrd: String?
  /// Appended to `QEMUCommand.defaultGuestCommandLine` for a Linux kernel, like `--append`;
  /// the whole command line of any other image.
  public var commandLine: String?
  public var loadAddress: UInt64?
  public var group: String?
  public var timeMode: TimeMode
  public var timeFrequencyHz: UInt64?
  public var hypervisorNode: String?
  /// Which built-in guest to use when `keel.kernel` is absent (`keel.guest`).
  public var guestFlavour: GuestFlavour = .default
  /// Keys without the `guestinfo.` prefix, in file order.
  public var guestInfo: [GuestInfoEntry]
  public var serial: Serial
  public var cpuShares: CPUShares?
  public var cpuMinMHz: Int?
  public var cpuMaxMHz: Int?
  public var memoryMaxMiB: Int?

  public struct GuestInfoEntry: Equatable, Sendable {
    public var key: String
    public var value: String
    public init(key: String, value: String) { self.key = key; self.value = value }
  }

  public init(
    name: String, cpus: Int = 1, memoryMiB: Int = RunLimits.defaultMemoryMiB, kernel: String? = nil,
    initrd: String? = nil, commandLine: String? = nil, loadAddress: UInt64? = nil, group: String? = nil,
    timeMode: TimeMode = .passthrough, timeFrequencyHz: UInt64? = nil, hypervisorNode: String? = nil,
    guestInfo: [GuestInfoEntry] = [], serial: Serial = .console, cpuShares: CPUShares? = nil,
    cpuMinMHz: Int? = nil, cpuMaxMHz: Int? = nil, memoryMaxMiB: Int? = nil
  ) {
    self.name = name; self.cpus = cpus; self.memoryMiB = memoryMiB; self.kernel = kernel; self.initrd = initrd
    self.commandLine = commandLine; self.loadAddress = loadAddress; self.group = group; self.timeMode = timeMode
    self.timeFrequencyHz = timeFrequencyHz; self.hypervisorNode = hypervisorNode; self.guestInfo = guestInfo
    self.serial = serial; self.cpuShares = cpuShares; self.cpuMinMHz = cpuMinMHz; self.cpuMaxMHz = cpuMaxMHz
    self.memoryMaxMiB = memoryMaxMiB
  }

  public static let maxCPUs = 8
  public static let minFrequencyHz: UInt64 = 1_000_000
  public static let maxFrequencyHz: UInt64 = 1_000_000_000
  /// Names the hypervisor's console protocol already uses for itself.
  public static let reservedNames: Set<String> = ["mgmt", "PANIC"]

  /// `[A-Za-z0-9._-]{1,32}`, the config module's rule for VM names (they also name sockets).
  public static func isValidName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    return (1...32).contains(bytes.count) && bytes.allSatisfy { VMXFile.isKeyByte($0) && $0 != UInt8(ascii: ":") }
      && bytes.first != UInt8(ascii: ".")
  }

  /// Guestinfo keys: what a `.vmx` key may contain, and not empty.
  public static func isValidGuestInfoKey(_ key: String) -> Bool {
    !key.isEmpty && key.utf8.count <= 128 && key.utf8.allSatisfy(VMXFile.isKeyByte)
  }
}

extension VMConfiguration {
  /// Builds a configuration from a parsed `.vmx` file.
  /// - Parameters:
  ///   - directory: the `.vmx` file's folder, for relative paths (no trailing slash needed).
  ///   - defaultName: used when there is no `displayName` (the file's base name).
  public init(vmx: VMXFile, directory: String, defaultName: String) throws(VMXError) {
    func fail(_ entry: VMXFile.Entry, _ message: String) -> VMXError {
      VMXError(fileName: vmx.fileName, line: entry.line, key: entry.key, message: message)
    }
    func integer(_ entry: VMXFile.Entry) throws(VMXError) -> Int {
      guard let value = Int(entry.value.trimmingSpaces()) else { throw fail(entry, "\(quoted(entry.value)) is not a number") }
      return value
    }
    func path(_ entry: VMXFile.Entry) throws(VMXError) -> String {
      let text = entry.value
      guard !text.isEmpty else { throw fail(entry, "empty path") }
      if text.hasPrefix("/") { return text }
      return directory.hasSuffix("/") ? directory + text : directory + "/" + text
    }
    func lineOf(_ key: String) -> Int? { vmx.entry(key)?.line }

    self.init(name: defaultName)
    var nameEntry: VMXFile.Entry?
    var serialType: VMXFile.Entry?
    var serialFile: VMXFile.Entry?
    var frequencyEntry: VMXFile.Entry?
    var minEntry: VMXFile.Entry?

    for entry in vmx.entries {
      let key = VMXFile.foldCase(entry.key)
      if key.hasPrefix("guestinfo.") {
        let infoKey = String(entry.key.dropFirst("guestinfo.".count))
        guard Self.isValidGuestInfoKey(infoKey) else { throw fail(entry, "missing key after \"guestinfo.\"") }
        guard ProtocolEscaping.forbiddenByte(in: entry.value) == nil else {
          throw fail(entry, "control character \(VMXFile.hexByte(ProtocolEscaping.forbiddenByte(in: entry.value)!)) cannot be passed to the guest (only tab and newline)")
        }
        guestInfo.append(GuestInfoEntry(key: infoKey, value: entry.value))
        continue
      }
      switch key {
      case ".encoding", "config.version", "virtualhw.version":
        continue  // VMware bookkeeping; Keel reads UTF-8 and has one hardware version.
      case "displayname":
        nameEntry = entry
        name = entry.value
      case "numvcpus":
        cpus = try integer(entry)
        guard (1...Self.maxCPUs).contains(cpus) else { throw fail(entry, "\(cpus) vCPUs is out of range (1…\(Self.maxCPUs))") }
      case "memsize":
        memoryMiB = try integer(entry)
        guard memoryMiB >= RunLimits.minMemoryMiB else { throw fail(entry, "\(memoryMiB) MiB is below the minimum of \(RunLimits.minMemoryMiB) MiB") }
        let ceiling = RunLimits.maxHostMemoryMiB - 2 * RunLimits.hostReserveMiB
        guard memoryMiB <= ceiling else { throw fail(entry, "\(memoryMiB) MiB is more than the \(ceiling) MiB the emulated machine can give a guest") }
      case "keel.kernel": kernel = try path(entry)
      case "keel.initrd": initrd = try path(entry)
      case "keel.cmdline":
        guard !entry.value.utf8.contains(where: { $0 < 0x20 }) else { throw fail(entry, "the kernel command line cannot contain control characters") }
        commandLine = entry.value
      case "keel.loadaddress":
        do { loadAddress = try parseAddress(entry.value) } catch { throw fail(entry, "\(quoted(entry.value)) is not an address (use hex 0x… or decimal)") }
        guard loadAddress! % RunLimits.loadAlignment == 0 else { throw fail(entry, "\(entry.value) is not aligned to \(RunLimits.loadAlignment) bytes") }
      case "keel.group":
        guard Self.isValidName(entry.value) else { throw fail(entry, "\(quoted(entry.value)) is not a valid group name (1–32 of A-Z a-z 0-9 . _ -)") }
        group = entry.value
      case "keel.time.mode":
        guard let mode = TimeMode(rawValue: entry.value) else { throw fail(entry, "\(quoted(entry.value)) is not a time mode (passthrough or trapped)") }
        timeMode = mode
      case "keel.time.frequency":
        guard let hz = UInt64(entry.value.trimmingSpaces()) else { throw fail(entry, "\(quoted(entry.value)) is not a number (Hz)") }
        guard (Self.minFrequencyHz...Self.maxFrequencyHz).contains(hz) else { throw fail(entry, "\(hz) Hz is out of range (1 MHz…1 GHz)") }
        timeFrequencyHz = hz
        frequencyEntry = entry
      case "keel.guest":
        guard let flavour = GuestFlavour(rawValue: entry.value) else {
          throw fail(entry, "\(quoted(entry.value)) is not a built-in guest (\(GuestFlavour.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guestFlavour = flavour
      case "keel.hypervisornode":
        guard (1...64).contains(entry.value.utf8.count),
          entry.value.utf8.allSatisfy({ VMXFile.isKeyByte($0) || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "+") })
        else { throw fail(entry, "\(quoted(entry.value)) is not a device-tree compatible string (e.g. \"vmware\")") }
        hypervisorNode = entry.value
      case "serial0.filetype": serialType = entry
      case "serial0.filename": serialFile = entry
      case "sched.cpu.shares":
        switch entry.value.lowercased() {
        case "low": cpuShares = .low
        case "normal": cpuShares = .normal
        case "high": cpuShares = .high
        default:
          guard let shares = Int(entry.value), shares > 0 else { throw fail(entry, "\(quoted(entry.value)) is not low, normal, high or a positive number") }
          cpuShares = .custom(shares)
        }
      case "sched.cpu.min":
        cpuMinMHz = try integer(entry)
        guard cpuMinMHz! >= 0 else { throw fail(entry, "must not be negative") }
        minEntry = entry
      case "sched.cpu.max":
        cpuMaxMHz = try integer(entry)
        guard cpuMaxMHz! > 0 else { throw fail(entry, "must be positive (MHz)") }
      case "sched.mem.max":
        memoryMaxMiB = try integer(entry)
        guard memoryMaxMiB! >= RunLimits.minMemoryMiB else { throw fail(entry, "\(memoryMaxMiB!) MiB is below the minimum of \(RunLimits.minMemoryMiB) MiB") }
      default:
        throw fail(entry, "unknown key")
      }
    }

    guard Self.isValidName(name) else {
      let message = "\(quoted(name)) is not a valid VM name (1–32 of A-Z a-z 0-9 . _ -)"
      if let nameEntry { throw fail(nameEntry, message) }
      throw VMXError(fileName: vmx.fileName, line: nil, key: nil, message: message + "; set displayName")
    }
    guard !Self.reservedNames.contains(name) else {
      let message = "\(quoted(name)) is reserved by Keel's console protocol; choose another name"
      if let nameEntry { throw fail(nameEntry, message) }
      throw VMXError(fileName: vmx.fileName, line: nil, key: nil, message: message + "; set displayName")
    }
    if let frequencyEntry, timeMode != .trapped {
      throw fail(frequencyEntry, "a guest counter frequency needs keel.time.mode = \"trapped\"")
    }
    if let minEntry, let max = cpuMaxMHz, let min = cpuMinMHz, min > max {
      throw fail(minEntry, "\(min) MHz is above sched.cpu.max (\(max) MHz, line \(lineOf("sched.cpu.max") ?? 0))")
    }
    if let serialType {
      guard serialType.value.lowercased() == "file" else {
        throw fail(serialType, "\(quoted(serialType.value)) is not supported (only \"file\")")
      }
      guard let serialFile else { throw fail(serialType, "needs serial0.fileName") }
      serial = .file(try path(serialFile))
    } else if let serialFile {
      throw fail(serialFile, "needs serial0.fileType = \"file\"")
    }
    if loadAddress != nil && kernel == nil, let entry = vmx.entry("keel.loadAddress") {
      throw fail(entry, "a load address needs keel.kernel (the default guest is an arm64 Image)")
    }
  }

  /// The fields the hypervisor sees, checked on their own (for flag-built configurations).
  public func checkLimits() throws(RunValidationError) {
    guard cpus >= 1 else { throw .cpusBelowOne(cpus) }
    guard memoryMiB >= RunLimits.minMemoryMiB else { throw .memoryTooSmall(memoryMiB) }
  }
}

/// Checks that span all VMs of one `keel run`.
public enum MachineConfigurationCheck {
  public enum Problem: Error, Equatable, CustomStringConvertible {
    case noVMs
    case duplicateName(String)
    /// `<virtual host>.<name>`, given to a name two virtual hosts share, is longer than 32 bytes.
    case qualifiedNameTooLong(String)
    /// A VM is called `vm<j>`, which is another VM's index alias.
    case nameShadowsAlias(name: String, index: Int)
    /// Two VMs would overwrite each other's console file.
    case sharedSerialFile(String, String)

    public var description: String {
      switch self {
      case .noVMs: return "no VM to run"
      case .qualifiedNameTooLong(let n): return "\(quoted(n)): two virtual hosts name a VM alike, and the name qualified by its virtual host is over 32 bytes; shorten one of them"
      case .duplicateName(let n): return "two VMs are named \(quoted(n)); names must be unique (set displayName)"
      case .nameShadowsAlias(let n, let i): return "VM name \(quoted(n)) is also the alias of VM number \(i); rename it"
      case .sharedSerialFile(let a, let b): return "\(a) and \(b) have the same serial0.fileName; give each VM its own"
      }
    }
  }

  public static func check(_ vms: [VMConfiguration]) throws(Problem) {
    guard !vms.isEmpty else { throw .noVMs }
    var seen: Set<String> = []
    for vm in vms {
      guard VMConfiguration.isValidName(vm.name) else { throw .qualifiedNameTooLong(vm.name) }
      guard seen.insert(vm.name).inserted else { throw .duplicateName(vm.name) }
    }
    for (index, vm) in vms.enumerated() {
      let alias = "vm\(index)"
      if let other = vms.firstIndex(where: { $0.name == alias }), other != index { throw .nameShadowsAlias(name: alias, index: index) }
      if case .file(let path) = vm.serial,
        let other = vms[..<index].first(where: { if case .file(path) = $0.serial { true } else { false } }) {
        throw .sharedSerialFile(other.name, vm.name)
      }
    }
  }
}
