/// What the user asked `keel run` for, before any file is opened.
/// Validation is split in two: `checkLimits()` needs no files; `GuestImageCheck` reads the images.
public struct RunOptions: Equatable, Sendable {
  public var kernel: String?
  public var loadAddress: UInt64?
  public var initrd: String?
  public var append: String?
  public var cpus: Int
  public var memoryMiB: Int
  public var gic: Int
  public var hostCPUs: Int?
  public var timeoutSeconds: Int?
  public var deterministic: Bool
  public var bare: Bool
  /// The board of a `--bare` run; nil: QEMU's own (`virt`).
  public var board: BareBoard?
  public var hypervisor: String?
  /// The initramfs Keel builds when no `--initrd` is given.
  public var guest: GuestFlavour

  public init(
    kernel: String? = nil, loadAddress: UInt64? = nil, initrd: String? = nil, append: String? = nil,
    cpus: Int = 1, memoryMiB: Int = RunLimits.defaultMemoryMiB, gic: Int = 3, hostCPUs: Int? = nil,
    timeoutSeconds: Int? = nil, deterministic: Bool = false, bare: Bool = false, board: BareBoard? = nil,
    hypervisor: String? = nil, guest: GuestFlavour = .default
  ) {
    self.kernel = kernel; self.loadAddress = loadAddress; self.initrd = initrd; self.append = append
    self.cpus = cpus; self.memoryMiB = memoryMiB; self.gic = gic; self.hostCPUs = hostCPUs
    self.timeoutSeconds = timeoutSeconds; self.deterministic = deterministic; self.bare = bare
    self.board = board; self.hypervisor = hypervisor; self.guest = guest
  }

  /// Host CPUs default to the guest's vCPU count (each vCPU gets a CPU of its own when it can;
  /// fewer host CPUs overcommit them, and the hypervisor's scheduler shares them out).
  public var effectiveHostCPUs: Int { hostCPUs ?? min(cpus, RunLimits.maxHostCPUs) }

  /// Checks everything that does not need the image files.
  public func checkLimits() throws(RunValidationError) {
    guard cpus >= 1 else { throw .cpusBelowOne(cpus) }
    guard cpus <= VMConfiguration.maxCPUs else { throw .cpusAboveMaximum(cpus) }
    guard (1...RunLimits.maxHostCPUs).contains(effectiveHostCPUs) else {
      throw .hostCPUsOutOfRange(effectiveHostCPUs)
    }
    guard memoryMiB >= RunLimits.minMemoryMiB else { throw .memoryTooSmall(memoryMiB) }
    // The exact ceiling depends on image sizes (GuestImageCheck); this catches absurd values early.
    let ceiling = RunLimits.maxHostMemoryMiB - 2 * RunLimits.hostReserveMiB
    guard memoryMiB <= ceiling else { throw .memoryTooLarge(requested: memoryMiB, maximum: ceiling) }
    guard gic == 2 || gic == 3 else { throw .unsupportedGIC(gic) }
    if let address = loadAddress, address % RunLimits.loadAlignment != 0 {
      throw .loadAddressMisaligned(address)
    }
    if let timeout = timeoutSeconds, timeout < 1 { throw .timeoutNotPositive(timeout) }
    // A guest flavour is an initramfs; a second one would silently lose.
    if guest != .default, initrd != nil { throw .guestWithInitrd(guest.rawValue) }
    // Under Keel the guest always gets Keel's board; accepting the option there would suggest otherwise.
    if let board, !bare { throw .boardWithoutBare(board.rawValue) }
  }
}

public enum RunLimits {
  public static let defaultMemoryMiB = 512
  public static let minMemoryMiB = 16
  /// Keel's own ceiling for the emulated machine, so a run never asks QEMU for more than the host can back.
  public static let maxHostMemoryMiB = 16 * 1024
  public static let maxHostCPUs = 8
  /// CNTFRQ_EL0 of QEMU's emulated Arm CPUs (a 16 ns tick in QEMU 7.2).
  public static let hostCounterHz: UInt64 = 62_500_000
  /// Hypervisor image region below the first guest-loader blob, and slack after guest RAM.
  public static let hostReserveMiB = 64
  public static let loadAlignment: UInt64 = 4096
  /// Guest physical RAM as the guest sees it (QEMU virt's RAM base).
  public static let guestRAMBase: UInt64 = 0x4000_0000
  /// Where QEMU's guest-loader drops the guest kernel for the hypervisor to pick up.
  public static let kernelBlobAddress: UInt64 = 0x4400_0000
  public static let blobAlignment: UInt64 = 2 << 20
}

public enum RunValidationError: Error, Equatable, CustomStringConvertible {
  case cpusBelowOne(Int)
  case hostCPUsOutOfRange(Int)
  case cpusAboveMaximum(Int)
  case memoryTooSmall(Int)
  case memoryTooLarge(requested: Int, maximum: Int)
  case unsupportedGIC(Int)
  case loadAddressMisaligned(UInt64)
  case timeoutNotPositive(Int)
  case unreadable(path: String, reason: String)
  case badKernel(path: String, reason: String)
  case initrdDoesNotFit(path: String, reason: String)
  case badAddress(String)
  case guestWithInitrd(String)
  case boardWithoutBare(String)

  public var description: String {
    switch self {
    case .cpusBelowOne(let n): return "--cpus must be at least 1 (got \(n))"
    case .hostCPUsOutOfRange(let n): return "--host-cpus must be between 1 and \(RunLimits.maxHostCPUs) (got \(n))"
    case .cpusAboveMaximum(let n): return "--cpus \(n) is above the maximum of \(VMConfiguration.maxCPUs) vCPUs per VM"
    case .memoryTooSmall(let m): return "--memory \(m) MiB is below the minimum of \(RunLimits.minMemoryMiB) MiB"
    case .memoryTooLarge(let m, let max):
      return "--memory \(m) MiB is too large: at most \(max) MiB fits in the \(RunLimits.maxHostMemoryMiB) MiB emulated machine"
    case .unsupportedGIC(let g): return "--gic must be 2 or 3 (got \(g))"
    case .loadAddressMisaligned(let a): return "--load-address \(hex(a)) is not aligned to \(RunLimits.loadAlignment) bytes"
    case .timeoutNotPositive(let t): return "--timeout must be at least 1 second (got \(t))"
    case .unreadable(let p, let r): return "cannot read \(p): \(r)"
    case .badKernel(let p, let r): return "\(p): \(r)"
    case .initrdDoesNotFit(let p, let r): return "initrd \(p) does not fit: \(r)"
    case .badAddress(let s): return "not an address: \(s) (use hex 0x… or decimal)"
    case .guestWithInitrd(let g): return "--guest \(g) builds its own initramfs; it cannot be combined with --initrd"
    case .boardWithoutBare(let b): return "--board \(b) chooses the board of a --bare run; under Keel the guest always gets Keel's board"
    }
  }
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

/// Parses `0x…` hex or decimal, as accepted by `--load-address`.
public func parseAddress(_ text: String) throws(RunValidationError) -> UInt64 {
  let trimmed = text.replacingUnderscores()
  let lower = trimmed.lowercased()
  let parsed: UInt64?
  if lower.hasPrefix("0x") { parsed = UInt64(lower.dropFirst(2), radix: 16) } else { parsed = UInt64(lower, radix: 10) }
  guard let value = parsed else { throw .badAddress(text) }
  return value
}

extension String {
  fileprivate func replacingUnderscores() -> String { String(self.filter { $0 != "_" }) }
}
