// Fuzz target `image`: a guest kernel image (arm64 Image, ELF or raw) planned into guest RAM, then
// the DTB and initrd placed after it, as createVM (Hypervisor.swift) and `keel run` do.
//
// Input: a 40-byte parameter block, then the image bytes (shorter inputs are all image, with
// the hypervisor's defaults). Parameters, little-endian u64s:
//   [0..8)   flags: bit 0 a load address is given, bit 1 RAM base/size are taken raw, bit 2 an initrd
//   [8..16)  load address          [16..24) RAM base (raw RAM only)
//   [24..32) RAM size, or MiB (low 20 bits) at 0x4000_0000    [32..40) initrd size
// A plan or layout that the loader accepts is checked against what its doc comments promise,
// because the hypervisor copies bytes on their word.
import KeelLoader

private func le64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
  var value: UInt64 = 0
  for index in 0..<8 { value |= UInt64(bytes[offset + index]) << UInt64(8 * index) }
  return value
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGuestImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = UnsafeRawBufferPointer(start: data, count: size)
  var ramBase: UInt64 = 0x4000_0000, ramSize: UInt64 = 256 << 20
  var loadAddress: UInt64? = nil, initrdSize: UInt64? = nil
  var image = input
  if input.count >= 40 {
    let flags = le64(input, 0)
    if flags & 1 != 0 { loadAddress = le64(input, 8) }
    if flags & 2 != 0 { ramBase = le64(input, 16); ramSize = le64(input, 24) } else { ramSize = (le64(input, 24) & 0xF_FFFF) << 20 }
    if flags & 4 != 0 { initrdSize = le64(input, 32) }
    image = UnsafeRawBufferPointer(rebasing: input[40...])
  }

  guard let plan = try? GuestImage.plan(image, ramBase: ramBase, ramSize: ramSize, loadAddress: loadAddress) else { return 0 }
  let ramEnd = ramBase + ramSize   // plan succeeded, so RAM is valid
  var entryLoaded = false
  for segment in plan.segments {
    precondition(segment.fileOffset >= 0 && segment.fileSize >= 0 && segment.fileOffset <= image.count
                 && segment.fileSize <= image.count - segment.fileOffset, "segment outside the image")
    precondition(UInt64(segment.fileSize) <= segment.memorySize, "segment file size above its memory size")
    precondition(segment.guestAddress >= ramBase && segment.guestAddress <= ramEnd
                 && segment.memorySize <= ramEnd - segment.guestAddress, "segment outside guest RAM")
    if plan.entry >= segment.guestAddress && plan.entry - segment.guestAddress < segment.memorySize { entryLoaded = true }
  }
  precondition(entryLoaded, "entry point outside every loaded segment")
  precondition(plan.lowestAddress >= ramBase && plan.endAddress <= ramEnd && plan.lowestAddress <= plan.endAddress,
               "plan bounds outside guest RAM")

  guard let boot = try? GuestBootLayout.place(after: plan, ramBase: ramBase, ramSize: ramSize, initrdSize: initrdSize) else { return 0 }
  precondition(boot.dtbAddress >= plan.endAddress && boot.dtbAddress % GuestBootLayout.dtbSlotSize == 0
               && boot.dtbAddress <= ramEnd && GuestBootLayout.dtbSlotSize <= ramEnd - boot.dtbAddress, "DTB slot misplaced")
  if let initrd = boot.initrdAddress {
    precondition(initrd >= boot.dtbAddress + GuestBootLayout.dtbSlotSize && initrd <= ramEnd
                 && boot.initrdSize <= ramEnd - initrd, "initrd misplaced")
  }
  return 0
}
