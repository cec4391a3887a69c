import KeelArch

public enum GuestMemoryError: Error, Equatable, Sendable {
  /// `length` bytes at guest-physical `address` are not all inside the VM's RAM.
  case outsideRAM(address: UInt64, length: UInt64)
}

/// A VM's RAM as the hypervisor reads and writes it by guest-physical address (IPA): virtqueues,
/// buffers and anything else a guest hands over by address.
///
/// The rule: an access is carried out only if every byte of it lies inside the VM's RAM
/// (`ram.base` ≤ address and address + length ≤ `ram.end`). Otherwise nothing at all is read or
/// written and `GuestMemoryError.outsideRAM(address:length:)` is thrown. A zero-length access
/// anywhere from `ram.base` up to and including `ram.end` is fine (and touches nothing); an
/// address + length that wraps around the 64-bit space is outside. Integers are little-endian
/// and may sit at any alignment. The guest may change its RAM concurrently: values read are
/// snapshots, to be validated before use.
///
/// Conforming types supply only the two copies, on offsets from `ram.base` that the protocol
/// extension has already checked; everything else is the extension's.
public protocol GuestMemory {
  /// The guest-physical range of the VM's RAM.
  var ram: IPARange { get }
  /// Copy `into.count` bytes from RAM offset `offset` (checked: inside RAM, count > 0).
  func copyOut(offset: UInt64, into: UnsafeMutableRawBufferPointer)
  /// Copy `from.count` bytes to RAM offset `offset` (checked: inside RAM, count > 0).
  func copyIn(offset: UInt64, from: UnsafeRawBufferPointer)
}

extension GuestMemory {
  /// The offset from `ram.base` of `length` bytes at guest-physical `ipa`, if all of them are
  /// inside the VM's RAM; throws `outsideRAM` otherwise (see the rule on `GuestMemory`).
  public func offset(of ipa: UInt64, length: UInt64) throws(GuestMemoryError) -> UInt64 {
    let base = ram.base.rawValue
    guard ipa >= base, ipa &+ length >= ipa else { throw .outsideRAM(address: ipa, length: length) }
    let offset = ipa - base
    guard offset <= ram.size, length <= ram.size - offset else { throw .outsideRAM(address: ipa, length: length) }
    return offset
  }

  /// Whether `length` bytes at `ipa` are all inside the VM's RAM.
  public func contains(_ ipa: UInt64, length: UInt64) -> Bool {
    do throws(GuestMemoryError) { _ = try offset(of: ipa, length: length); return true } catch { return false }
  }

  /// A little-endian integer at guest-physical `ipa`, at any alignment.
  public func read<T: FixedWidthInteger>(_ type: T.Type, at ipa: UInt64) throws(GuestMemoryError) -> T {
    let size = UInt64(MemoryLayout<T>.size)
    let o = try offset(of: ipa, length: size)
    var value = T.zero
    withUnsafeMutableBytes(of: &value) { copyOut(offset: o, into: $0) }
    return T(littleEndian: value)
  }

  /// Store `value` little-endian at guest-physical `ipa`, at any alignment.
  public func write<T: FixedWidthInteger>(_ value: T, at ipa: UInt64) throws(GuestMemoryError) {
    let o = try offset(of: ipa, length: UInt64(MemoryLayout<T>.size))
    var le = value.littleEndian
    withUnsafeBytes(of: &le) { copyIn(offset: o, from: $0) }
  }

  /// Fill `buffer` from guest-physical `ipa` on.
  public func read(at ipa: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(GuestMemoryError) {
    let o = try offset(of: ipa, length: UInt64(buffer.count))
    if buffer.count > 0 { copyOut(offset: o, into: buffer) }
  }

  /// Copy `bytes` to guest-physical `ipa` on.
  public func write(_ bytes: UnsafeRawBufferPointer, at ipa: UInt64) throws(GuestMemoryError) {
    let o = try offset(of: ipa, length: UInt64(bytes.count))
    if bytes.count > 0 { copyIn(offset: o, from: bytes) }
  }

  /// `count` bytes from guest-physical `ipa` on.
  public func read(at ipa: UInt64, count: Int) throws(GuestMemoryError) -> [UInt8] {
    let o = try offset(of: ipa, length: UInt64(count))
    var out = [UInt8](repeating: 0, count: count)
    if count > 0 { out.withUnsafeMutableBytes { copyOut(offset: o, into: $0) } }
    return out
  }

  /// Copy `bytes` to guest-physical `ipa` on.
  public func write(_ bytes: [UInt8], at ipa: UInt64) throws(GuestMemoryError) {
    let o = try offset(of: ipa, length: UInt64(bytes.count))
    if !bytes.isEmpty { bytes.withUnsafeBytes { copyIn(offset: o, from: $0) } }
  }
}

/// A VM's RAM where the hypervisor reaches it through one host pointer to `ram.base` (at EL2,
/// the identity-mapped host physical address the RAM was carved from).
public struct GuestRAM: GuestMemory {
  public let ram: IPARange
  public let host: UnsafeMutableRawPointer

  public init(ram: IPARange, host: UnsafeMutableRawPointer) {
    self.ram = ram
    self.host = host
  }

  public func copyOut(offset: UInt64, into: UnsafeMutableRawBufferPointer) {
    into.copyMemory(from: UnsafeRawBufferPointer(start: host + Int(offset), count: into.count))
  }

  public func copyIn(offset: UInt64, from: UnsafeRawBufferPointer) {
    UnsafeMutableRawBufferPointer(start: host + Int(offset), count: from.count).copyMemory(from: from)
  }
}
