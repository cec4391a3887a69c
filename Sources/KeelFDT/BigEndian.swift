// FDT is big-endian everywhere; these helpers are the only place bytes become integers.

@inline(__always)
func readBE32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32? {
  guard offset >= 0, offset <= bytes.count - 4 else { return nil }
  return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
    | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}

@inline(__always)
func readBE64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64? {
  guard let high = readBE32(bytes, offset), let low = readBE32(bytes, offset + 4) else { return nil }
  return UInt64(high) << 32 | UInt64(low)
}

@inline(__always)
func beBytes(_ value: UInt32) -> [UInt8] {
  [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
   UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

@inline(__always)
func beBytes(_ value: UInt64) -> [UInt8] {
  beBytes(UInt32(truncatingIfNeeded: value >> 32)) + beBytes(UInt32(truncatingIfNeeded: value))
}

extension Array where Element == UInt8 {
  mutating func appendBE(_ value: UInt32) {
    append(UInt8(truncatingIfNeeded: value >> 24)); append(UInt8(truncatingIfNeeded: value >> 16))
    append(UInt8(truncatingIfNeeded: value >> 8)); append(UInt8(truncatingIfNeeded: value))
  }

  mutating func appendBE(_ value: UInt64) {
    appendBE(UInt32(truncatingIfNeeded: value >> 32)); appendBE(UInt32(truncatingIfNeeded: value))
  }

  mutating func setBE(_ value: UInt32, at offset: Int) {
    self[offset] = UInt8(truncatingIfNeeded: value >> 24); self[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
    self[offset + 2] = UInt8(truncatingIfNeeded: value >> 8); self[offset + 3] = UInt8(truncatingIfNeeded: value)
  }

  mutating func padTo4() {
    while count % 4 != 0 { append(0) }
  }
}

/// Byte-wise comparison, so lookups need no Unicode tables in the embedded image.
/// Iterates the strings instead of calling `elementsEqual`: Swift 6.3.1's Embedded build of
/// `elementsEqual(String.UTF8View)` misreads small (inline) strings at -Osize on aarch64
/// (seen as an EL2 data abort while reading QEMU's device tree).
func sameBytes(_ a: String, _ b: String) -> Bool {
  bytes(Array(a.utf8)[...], equal: b)
}

func bytes(_ slice: ArraySlice<UInt8>, equal s: String) -> Bool {
  var i = slice.startIndex
  for b in s.utf8 {
    guard i < slice.endIndex, slice[i] == b else { return false }
    i += 1
  }
  return i == slice.endIndex
}

/// Lowercase hex without leading zeros, as used in unit addresses.
public func hexString(_ value: UInt64) -> String {
  if value == 0 { return "0" }
  let digits: [UInt8] = Array("0123456789abcdef".utf8)
  var out: [UInt8] = []
  var v = value
  while v != 0 { out.append(digits[Int(v & 0xF)]); v >>= 4 }
  return String(decoding: out.reversed(), as: UTF8.self)
}
