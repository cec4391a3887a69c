import KeelArch

/// A device on a VM's MMIO bus: registers at offsets inside the range the board gave it.
///
/// A device knows nothing of VMs, vCPUs or the trap path. It is told the accessing vCPU's index
/// only so that banked registers (the GIC's) can be modelled. Whatever must happen outside the
/// device (an interrupt line changes, a vCPU must be kicked) it records in the `EffectQueue` it
/// was built with; the caller applies the queue after the access. Class-bound, so the bus can
/// hold devices of different types in one array (Embedded Swift allows only class existentials).
public protocol MMIODevice: AnyObject {
  /// A load of `size` bytes at `offset`. The bus guarantees `offset + size` lies in the range.
  func read(at offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64
  /// A store of the low `size` bytes of `value` at `offset`.
  func write(_ value: UInt64, at offset: UInt64, size: AccessSize, vcpu: Int)
}

/// For 32-bit register files (the PrimeCell devices): byte and halfword accesses reach the
/// word that holds them, shifted into place (earlycon writes the PL011's DR with `strb`).
public enum WordRegisters {
  @inline(__always) public static func read(at offset: UInt64, size: AccessSize, _ word: (UInt16) -> UInt32) -> UInt64 {
    let shift = UInt64(8 * (offset & 3))
    return UInt64(word(UInt16(truncatingIfNeeded: offset & ~3))) >> shift & size.mask
  }

  @inline(__always) public static func write(_ value: UInt64, at offset: UInt64, _ word: (UInt32, UInt16) -> Void) {
    let shift = UInt64(8 * (offset & 3))
    word(UInt32(truncatingIfNeeded: value << shift), UInt16(truncatingIfNeeded: offset & ~3))
  }
}
