import Testing
@testable import KeelHost

@Suite struct ContentKeyTests {
  @Test func keyIsTheSHA256Prefix() {
    // SHA-256("abc") = ba7816bf8f01cfea… (FIPS 180-4 example).
    #expect(contentKey(Array("abc".utf8)) == "ba7816bf8f01cfea")
    #expect(contentKey([1, 2, 3]) != contentKey([1, 2, 4]))
  }
}

@Suite struct DefaultGuestTests {
  @Test func resolvesKernelFromAptCacheDepends() {
    let output = """
      linux-image-arm64:arm64
        Depends: linux-image-6.1.0-56-arm64:arm64
      """
    #expect(DefaultGuest.kernelPackage(fromAptCacheDepends: output) == "linux-image-6.1.0-56-arm64")
    #expect(DefaultGuest.kernelPackage(fromAptCacheDepends: "linux-image-arm64:arm64\n  |Depends: linux-image-6.5.0-1-arm64\n") == "linux-image-6.5.0-1-arm64")
    #expect(DefaultGuest.kernelPackage(fromAptCacheDepends: "  Depends: <linux-image-virtual>\n") == nil)
    #expect(DefaultGuest.kernelPackage(fromAptCacheDepends: "") == nil)
  }

  @Test func cacheDirectoryHonoursEnvironment() {
    #expect(DefaultGuest.cacheDirectory(environment: ["KEEL_CACHE": "/c", "HOME": "/h"]) == "/c")
    #expect(DefaultGuest.cacheDirectory(environment: ["HOME": "/h"]) == "/h/.cache/keel")
  }
}

@Suite struct GuestImageCheckTests {
  /// A minimal arm64 Image header (Documentation/arch/arm64/booting.rst): text_offset 0, image_size, magic "ARM\x64".
  func image(size: Int, imageSize: UInt64) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: size)
    for i in 0..<8 { bytes[16 + i] = UInt8(truncatingIfNeeded: imageSize >> UInt64(8 * i)) }
    bytes[56] = 0x41; bytes[57] = 0x52; bytes[58] = 0x4D; bytes[59] = 0x64
    return bytes
  }

  @Test func acceptsAnImageThatFits() throws {
    let kernel = image(size: 8192, imageSize: 4 << 20)
    let placement = try GuestImageCheck.check(kernel: kernel, kernelPath: "k", initrdSize: 1 << 20, initrdPath: "i", options: RunOptions(memoryMiB: 64))
    #expect(placement.kernelFileSize == 8192)
    #expect(placement.plan.lowestAddress >= RunLimits.guestRAMBase)
  }

  @Test func rejectsRandomBytesUnlessALoadAddressIsGiven() throws {
    var generator = SystemRandomNumberGenerator()
    let junk = (0..<4096).map { _ in UInt8.random(in: 1...255, using: &generator) }
    #expect(throws: RunValidationError.self) {
      try GuestImageCheck.check(kernel: junk, kernelPath: "j", initrdSize: nil, initrdPath: nil, options: RunOptions())
    }
    let raw = try GuestImageCheck.check(kernel: junk, kernelPath: "j", initrdSize: nil, initrdPath: nil,
                                        options: RunOptions(loadAddress: 0x4100_0000))
    #expect(raw.plan.entry == 0x4100_0000)
  }

  @Test func rejectsAnInitrdThatDoesNotFit() {
    let kernel = image(size: 8192, imageSize: 4 << 20)
    #expect {
      try GuestImageCheck.check(kernel: kernel, kernelPath: "k", initrdSize: 64 << 20, initrdPath: "big", options: RunOptions(memoryMiB: 32))
    } throws: { error in
      guard case RunValidationError.initrdDoesNotFit(let path, _) = error else { return false }
      return path == "big"
    }
  }

  @Test func detectsATruncatedEFIStubImage() {
    var kernel = image(size: 4096, imageSize: 8 << 20)
    // "MZ", PE header at 0x40 with one section whose raw data ends at 0x3000.
    kernel[0] = 0x4D; kernel[1] = 0x5A; kernel[0x3C] = 0x40
    kernel[0x40] = 0x50; kernel[0x41] = 0x45
    kernel[0x46] = 1            // NumberOfSections
    kernel[0x54] = 0            // SizeOfOptionalHeader
    let section = 0x40 + 24
    kernel[section + 16] = 0x00; kernel[section + 17] = 0x20  // SizeOfRawData 0x2000
    kernel[section + 20] = 0x00; kernel[section + 21] = 0x10  // PointerToRawData 0x1000
    #expect(EFIStub.sectionsEnd(kernel) == 0x3000)
    #expect {
      try GuestImageCheck.check(kernel: kernel, kernelPath: "k", initrdSize: nil, initrdPath: nil, options: RunOptions())
    } throws: { error in
      guard case RunValidationError.badKernel(_, let reason) = error else { return false }
      return reason.contains("truncated")
    }
    let whole = kernel + [UInt8](repeating: 0, count: 0x3000 - kernel.count)
    #expect(throws: Never.self) {
      try GuestImageCheck.check(kernel: whole, kernelPath: "k", initrdSize: nil, initrdPath: nil, options: RunOptions())
    }
  }

  @Test func hostMemoryCeilingCountsTheBlobs() {
    let kernel = image(size: 8192, imageSize: 4 << 20)
    let ceiling = RunLimits.maxHostMemoryMiB - 2 * RunLimits.hostReserveMiB
    #expect(throws: RunValidationError.self) {
      try GuestImageCheck.check(kernel: kernel, kernelPath: "k", initrdSize: 10 << 20, initrdPath: "i", options: RunOptions(memoryMiB: ceiling))
    }
  }
}
