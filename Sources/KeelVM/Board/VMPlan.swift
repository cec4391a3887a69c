import KeelArch
import KeelFDT
import KeelLoader

/// How one VM will be built: where its kernel, initrd and device tree go in its RAM, and its
/// board. Decided from the VM's definition and its boot modules before any host memory is
/// touched, so a bad image is refused with a reason and the other VMs still start.
public struct VMPlan {
  /// Every VM's RAM starts here in IPA space, as on QEMU `virt`.
  public static let ramBase: UInt64 = 0x4000_0000

  public var image: GuestImagePlan
  public var layout: GuestBootLayout
  public var board: GuestBoard

  /// - Parameters: `kernel` is the kernel module's bytes, `bootargs` its command line (from the
  ///   loader), `initrdSize` the initrd's size if there is one, `hostCounterHz` the host's CNTFRQ,
  ///   `pmu` whether the host's CPUs have a PMU to give the guest.
  public init(_ def: VMDefinition, kernel: UnsafeRawBufferPointer, bootargs: [UInt8]?, initrdSize: UInt64?,
              gicVersion: GICVersion, hostCounterHz: UInt64, pmu: Bool) throws(GuestImageError) {
    let ramSize = def.memoryMiB << 20
    image = try GuestImage.plan(kernel, ramBase: Self.ramBase, ramSize: ramSize, loadAddress: def.loadAddress)
    let scaledHz = Self.scaledCounterFrequency(def, hostCounterHz: hostCounterHz)
    layout = try GuestBootLayout.place(after: image, ramBase: Self.ramBase, ramSize: ramSize, initrdSize: initrdSize)
    board = Self.board(cpus: def.cpus, ramSize: ramSize, gicVersion: gicVersion, pmu: pmu)
    // A loader that gives no command line: Linux still gets its console, a bare-metal
    // program (whose argv this is) gets none.
    board.bootargs = bootargs.map { String(decoding: $0, as: UTF8.self) } ?? (image.format == .linuxImage ? "console=ttyAMA0" : "")
    if let node = def.hypervisorNode { board.hypervisorCompatible = String(decoding: node, as: UTF8.self) }
    if def.timeMode == .trapped {
      // Only the physical timer is offered. Its counter (CNTPCT_EL0, trapped) runs at the VM's
      // configured frequency. Linux is not told that rate, on purpose: arm64 Linux at EL1
      // always takes its clocksource from CNTVCT_EL0, which cannot be scaled without FEAT_ECV,
      // so the scaled rate would make its clock run at guest/host speed. It uses the host's
      // CNTFRQ_EL0 for both, keeps correct time, and re-arms its (scaled) physical timer when it
      // fires early. docs/backdoor.md, "Guest time"; docs/conformance.md.
      board.timerPPIs.physicalOnly = true
      // Any other guest at a scaled frequency is told it: CNTFRQ_EL0 on each vCPU (the shell
      // writes `clockFrequency` there), and the timer node's `clock-frequency`.
      if let scaledHz, image.format != .linuxImage { board.timerPPIs.clockFrequency = UInt32(clamping: scaledHz) }
    }
    if let initrdSize, let at = layout.initrdAddress { board.initrd = MemoryRegion(base: at, size: initrdSize) }
  }

  /// A VM's board before its images are placed. Public so that `keel run --bare --board keel`
  /// gives bare QEMU the same device tree, and a comparison measures Keel rather than a board
  /// with fewer devices to probe.
  public static func board(cpus: Int, ramSize: UInt64, gicVersion: GICVersion, pmu: Bool) -> GuestBoard {
    var board = GuestBoard(cpuCount: cpus, memory: MemoryRegion(base: ramBase, size: ramSize), gicVersion: gicVersion)
    // PPI 7: where QEMU virt wires the PMU interrupt.
    if pmu { board.pmuPPI = 7 }
    return board
  }

  /// The counter frequency of a trapped-time VM that differs from the host's; nil when the VM's
  /// counter runs at the host's rate (pass-through time, or no frequency configured).
  public static func scaledCounterFrequency(_ def: VMDefinition, hostCounterHz: UInt64) -> UInt64? {
    guard def.timeMode == .trapped, let hz = def.timeFrequency, hz != hostCounterHz else { return nil }
    return hz
  }
}
