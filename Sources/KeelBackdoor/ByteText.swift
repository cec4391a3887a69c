// Protocol text is handled as raw bytes with plain loops: generic algorithms over `String.UTF8View`
// miscompile for small strings at -Osize on aarch64-none-none-elf in this toolchain, and bytes are
// what the guest sends anyway. Literals come from `StaticString`, whose UTF-8 is plain memory.

/// Literals must be at least two characters: a one-scalar StaticString may lack a pointer.
@inline(__always)
func literalByte(_ literal: StaticString, _ index: Int) -> UInt8 {
  literal.utf8Start[index]
}

/// Whether `text[offset...]` starts with `literal`.
func hasLiteral(_ text: [UInt8], at offset: Int, _ literal: StaticString) -> Bool {
  let length = literal.utf8CodeUnitCount
  guard offset >= 0, text.count - offset >= length else { return false }
  var index = 0
  while index < length {
    if text[offset + index] != literalByte(literal, index) { return false }
    index += 1
  }
  return true
}

/// Whether `text[start..<end]` is exactly `literal`.
func isLiteral(_ text: [UInt8], from start: Int, to end: Int, _ literal: StaticString) -> Bool {
  end - start == literal.utf8CodeUnitCount && hasLiteral(text, at: start, literal)
}

func append(_ literal: StaticString, to output: inout [UInt8]) {
  var index = 0
  while index < literal.utf8CodeUnitCount {
    output.append(literalByte(literal, index))
    index += 1
  }
}

func append(_ source: [UInt8], from start: Int, to end: Int, to output: inout [UInt8]) {
  var index = start
  while index < end {
    output.append(source[index])
    index += 1
  }
}

func appendLittleEndian(_ value: UInt32, to output: inout [UInt8]) {
  for shift in stride(from: 0, to: 32, by: 8) { output.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
}

func appendLittleEndian(_ value: UInt64, to output: inout [UInt8]) {
  for shift in stride(from: 0, to: 64, by: 8) { output.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
}

func appendBigEndian(_ value: UInt32, to output: inout [UInt8]) {
  for shift in stride(from: 24, through: 0, by: -8) { output.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
}

func equalBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
  guard a.count == b.count else { return false }
  var index = 0
  while index < a.count {
    if a[index] != b[index] { return false }
    index += 1
  }
  return true
}

/// Index of the first `byte` in `bytes[start..<end]`, or `end`.
func firstIndex(of byte: UInt8, in bytes: [UInt8], from start: Int, to end: Int) -> Int {
  var index = start
  while index < end && bytes[index] != byte { index += 1 }
  return index
}

/// Decimal digits only (surrounding spaces allowed); nil on anything else or overflow.
func parseDecimalUInt32(_ bytes: [UInt8], from start: Int, to end: Int) -> UInt32? {
  var first = start
  var last = end
  while first < last && bytes[first] == 0x20 { first += 1 }
  while last > first && bytes[last - 1] == 0x20 { last -= 1 }
  guard first < last else { return nil }
  var value: UInt32 = 0
  var index = first
  while index < last {
    let digit = bytes[index] &- 0x30
    guard digit < 10 else { return nil }
    let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
    let (sum, overflow2) = times10.addingReportingOverflow(UInt32(digit))
    guard !overflow1 && !overflow2 else { return nil }
    value = sum
    index += 1
  }
  return value
}
