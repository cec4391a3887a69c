import KeelArch

/// Values and places of the host GIC's registers that the hypervisor programs (GICv3: IHI 0069,
/// GICv2: IHI 0048). Pure bit work; the accesses themselves are the hypervisor's.
public enum HostGICEncoding {
  /// Bit n for each private interrupt n (SGI or PPI, INTID < 32) in `intids`, as in
  /// GICR_ISENABLER0, GICR_ISACTIVER0 and their GICv2 distributor counterparts.
  public static func privateMask(_ intids: [UInt32]) -> UInt32 {
    var mask: UInt32 = 0
    for i in intids where i < 32 { mask |= 1 << i }
    return mask
  }

  /// ICC_SGI1R_EL1: SGI `intid` to the one CPU `mpidr` (Aff3.Aff2.Aff1, and Aff0 as a target list bit).
  public static func sgi1r(intid: UInt32, toMPIDR mpidr: UInt64) -> UInt64 {
    (mpidr >> 32 & 0xFF) << 48 | (mpidr >> 16 & 0xFF) << 32 | (mpidr >> 8 & 0xFF) << 16
      | UInt64(1) << (mpidr & 0xF) | UInt64(intid) << 24
  }

  /// GICD_SGIR: SGI `intid` to the GICv2 CPU interfaces in `cpuMask`.
  public static func sgir(intid: UInt32, cpuMask: UInt8) -> UInt32 { UInt32(cpuMask) << 16 | intid }

  /// GICD_IROUTER<n>: the SPI goes to the CPU `mpidr` (its affinity fields, routing mode 0).
  public static func irouter(mpidr: UInt64) -> UInt64 { mpidr & 0xFF_00FF_FFFF }

  /// A register with one bit per interrupt (GICD_ISENABLER, IGROUPR, …): the word's offset in
  /// its block and the interrupt's bit in it.
  public static func bitField(_ intid: UInt32) -> (offset: UInt64, bit: UInt32) {
    (UInt64(intid / 32) * 4, 1 << (intid % 32))
  }

  /// A register with one byte per interrupt (GICD_IPRIORITYR, ITARGETSR): the word's offset in
  /// its block, and `word` with the interrupt's byte set to `byte`.
  public static func byteField(_ intid: UInt32, in word: UInt32, set byte: UInt8) -> (offset: UInt64, word: UInt32) {
    let shift = (intid % 4) * 8
    return (UInt64(intid & ~3), word & ~(0xFF << shift) | UInt32(byte) << shift)
  }

  /// How many list registers the virtual CPU interface has: ICH_VTR_EL2.ListRegs (GICv3) or
  /// GICH_VTR.ListRegs (GICv2), plus one.
  public static func listRegisterCount(vtr: UInt64, version: GICVersion) -> Int {
    Int(vtr & (version == .v3 ? 0x1F : 0x3F)) + 1
  }

  /// Active-priority registers per group (ICH_AP0R<n>/ICH_AP1R<n>): 1, 2 or 4 by the preemption
  /// bits ICH_VTR_EL2.PREbits implements (5, 6 or 7). GICv2 has one.
  public static func activePriorityRegisterCount(vtr: UInt64, version: GICVersion) -> Int {
    version == .v3 ? 1 << (Int(min(max(vtr >> 26 & 7, 4), 6)) - 4) : 1
  }

  /// Each host CPU's GICv3 redistributor (RD_base, in the order of `cpus`' MPIDRs; 0 if none), by
  /// walking the redistributor regions frame by frame and matching GICR_TYPER's affinity, as the
  /// architecture intends. `typer` reads GICR_TYPER of the frame at an address.
  public static func redistributorFrames(regions: [(base: UInt64, size: UInt64)], cpus: [UInt64],
                                         typer: (UInt64) -> UInt64) -> [UInt64] {
    var frames = [UInt64](repeating: 0, count: cpus.count)
    for region in regions {
      var frame = region.base
      while frame < region.base + region.size {
        let value = typer(frame)
        for (slot, mpidr) in cpus.enumerated() where UInt64(Affinity(rawValue: mpidr).packed32) == value >> 32 {
          frames[slot] = frame
        }
        // Last: the region's final frame. VLPIS: two more 64 KiB frames for virtual LPIs.
        if value & (1 << 4) != 0 { break }
        frame += value & (1 << 1) != 0 ? 0x40000 : 0x20000
      }
    }
    return frames
  }
}
