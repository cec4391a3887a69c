import KeelLoader

/// The guest image facts a launch needs, established before QEMU starts.
public struct GuestPlacement: Equatable, Sendable {
  public var plan: GuestImagePlan
  public var kernelFileSize: UInt64
  public var initrdFileSize: UInt64?
}

/// Validates a kernel (and initrd) against the guest RAM the user asked for, using the same
/// loader logic the hypervisor runs, so bad input fails here instead of inside the VM.
public enum GuestImageCheck {
  public static func check(
    kernel: [UInt8], kernelPath: String, initrdSize: UInt64?, initrdPath: String?, options: RunOptions
  ) throws(RunValidationError) -> GuestPlacement {
    let ramSize = UInt64(options.memoryMiB) << 20
    let planned = kernel.withUnsafeBytes { bytes -> Result<GuestImagePlan, GuestImageError> in
      do throws(GuestImageError) {
        return .success(try GuestImage.plan(bytes, ramBase: RunLimits.guestRAMBase, ramSize: ramSize, loadAddress: options.loadAddress))
      } catch {
        return .failure(error)
      }
    }
    let plan: GuestImagePlan
    switch planned {
    case .success(let value): plan = value
    case .failure(let error): throw .badKernel(path: kernelPath, reason: error.description)
    }
    // The Image header has no file length, but an EFI-stub Image's PE section table does,
    // which catches a kernel cut short by an interrupted download or copy.
    if plan.format == .linuxImage, let expected = EFIStub.sectionsEnd(kernel), expected > UInt64(kernel.count) {
      throw .badKernel(path: kernelPath, reason: "arm64 Image is truncated: its PE sections end at \(expected) bytes but the file has \(kernel.count)")
    }
    if let size = initrdSize {
      do {
        _ = try GuestBootLayout.place(after: plan, ramBase: RunLimits.guestRAMBase, ramSize: ramSize, initrdSize: size)
      } catch {
        throw .initrdDoesNotFit(path: initrdPath ?? "?", reason: error.description)
      }
    }
    let layout = HostLayout(kernelSize: UInt64(kernel.count), initrdSize: initrdSize, guestMemoryMiB: options.memoryMiB)
    if !options.bare && layout.hostMemoryMiB > RunLimits.maxHostMemoryMiB {
      throw .memoryTooLarge(requested: options.memoryMiB, maximum: options.memoryMiB - (layout.hostMemoryMiB - RunLimits.maxHostMemoryMiB))
    }
    return GuestPlacement(plan: plan, kernelFileSize: UInt64(kernel.count), initrdFileSize: initrdSize)
  }
}

/// Where things sit in the emulated machine's RAM when Keel runs: hypervisor below 0x4400_0000,
/// then the guest-loader blobs (kernel, initrd) on 2 MiB boundaries, then room for guest RAM.
public struct HostLayout: Equatable, Sendable {
  public var kernelSize: UInt64
  public var initrdSize: UInt64?
  public var guestMemoryMiB: Int

  public init(kernelSize: UInt64, initrdSize: UInt64?, guestMemoryMiB: Int) {
    self.kernelSize = kernelSize; self.initrdSize = initrdSize; self.guestMemoryMiB = guestMemoryMiB
  }

  public var kernelAddress: UInt64 { RunLimits.kernelBlobAddress }
  public var initrdAddress: UInt64? {
    initrdSize == nil ? nil : kernelAddress + Self.roundUp(kernelSize)
  }
  public var hostMemoryMiB: Int {
    let blobs = Self.roundUp(kernelSize) + Self.roundUp(initrdSize ?? 0)
    return RunLimits.hostReserveMiB + Int(blobs >> 20) + guestMemoryMiB + RunLimits.hostReserveMiB
  }

  static func roundUp(_ size: UInt64) -> UInt64 {
    let a = RunLimits.blobAlignment
    return (size + a - 1) / a * a
  }
}

/// The PE/COFF header that EFI-stub arm64 Images carry ("MZ" at 0, PE offset at 0x3c).
public enum EFIStub {
  /// End of the last section's raw data, or nil when the image has no (sane) PE header.
  public static func sectionsEnd(_ image: [UInt8]) -> UInt64? {
    func u16(_ at: Int) -> UInt64? { at >= 0 && at + 2 <= image.count ? UInt64(image[at]) | UInt64(image[at + 1]) << 8 : nil }
    func u32(_ at: Int) -> UInt64? {
      guard let low = u16(at), let high = u16(at + 2) else { return nil }
      return low | high << 16
    }
    guard image.count >= 0x40, image[0] == 0x4D, image[1] == 0x5A, let peOffset = u32(0x3C).map(Int.init) else { return nil }
    guard u32(peOffset) == 0x0000_4550, let sections = u16(peOffset + 6), let optionalSize = u16(peOffset + 20) else {
      return nil
    }
    let table = peOffset + 24 + Int(optionalSize)
    var end: UInt64 = 0
    for index in 0..<Int(sections) {
      guard let size = u32(table + index * 40 + 16), let pointer = u32(table + index * 40 + 20) else { return nil }
      end = max(end, pointer + size)
    }
    return end
  }
}
