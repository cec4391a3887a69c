import KeelArch
import KeelFDT

/// Host memory for guest RAM, handed out from the top down in 2 MiB-aligned pieces, above
/// `floor` (everything Keel and the loaded modules — kernels, initrds, the configuration —
/// occupy lies below it).
public struct GuestRAMAllocator: Sendable {
  /// What is left of each host memory region, highest base first.
  public private(set) var ceiling: [MemoryRegion]
  public let floor: UInt64

  /// `memory`: the host's RAM regions (any order); `floor`: the lowest address guest RAM may use.
  public init(memory: [MemoryRegion], floor: UInt64) {
    self.floor = floor
    ceiling = memory.sorted(by: { $0.base > $1.base })
  }

  /// The lowest address guest RAM may use: above the hypervisor's image and heap (ending at
  /// `imageEnd`), every loaded module and every reserved region.
  public static func floor(above imageEnd: UInt64, modules: [GuestModule], reserved: [MemoryRegion]) -> UInt64 {
    var floor = imageEnd
    for m in modules { floor = max(floor, m.region.end) }
    for r in reserved { floor = max(floor, r.end) }
    return floor
  }

  /// `size` bytes at the top of the highest region where they fit, 2 MiB-aligned and at or
  /// above `floor`; that region then ends below them. Nil when no region has room.
  public mutating func take(_ size: UInt64) -> UInt64? {
    for (i, region) in ceiling.enumerated() where region.size >= size {
      let base = alignDown(region.end - size, 0x20_0000)
      guard base >= max(floor, region.base) else { continue }
      ceiling[i] = MemoryRegion(base: region.base, size: base - region.base)
      return base
    }
    return nil
  }
}
