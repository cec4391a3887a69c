// Fuzz target `mmio`: the data-abort decoder the trap handler runs on every guest MMIO access
// (Trap.swift handleDataAbort). Deliberately thin: ISS, IPA and the register value come from the
// input; only MMIOAccess(_:address:), storeValue and registerValue(afterLoading:) are called.
import KeelArch
import KeelVM

private func le64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
  var value: UInt64 = 0
  for index in 0..<8 where offset + index < bytes.count { value |= UInt64(bytes[offset + index]) << UInt64(8 * index) }
  return value
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMMIO(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = UnsafeRawBufferPointer(start: data, count: size)
  // ESR_EL2 (8 bytes), HPFAR_EL2 (8), FAR_EL2 (8), register value (8); missing bytes read as 0.
  let esr = ExceptionSyndrome(rawValue: le64(input, 0))
  let ipa = IPA(hpfar: le64(input, 8), far: le64(input, 16))
  let value = le64(input, 24)
  guard let access = MMIOAccess(DataAbortISS(esr.iss), address: ipa) else { return 0 }
  let stored = access.storeValue(fromRegister: value)
  precondition(stored & ~access.size.mask == 0, "store value wider than the access")
  let loaded = access.registerValue(afterLoading: value)
  precondition(access.signExtend || loaded & ~access.size.mask == 0, "zero-extended load wider than the access")
  precondition(access.to64Bit || access.size == .doubleword || loaded >> 32 == 0, "W-register load above 32 bits")
  return 0
}
