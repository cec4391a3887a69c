/// Numbers from the virtio 1.1 specification shared by the guest-side devices (which Keel
/// emulates) and the host-side drivers (which drive the machine's own virtio devices).

/// virtio-mmio version 2 registers (virtio 1.1, 4.2.2), as byte offsets.
public enum VirtioMMIORegister {
  public static let magicValue: UInt64 = 0x000
  public static let version: UInt64 = 0x004
  public static let deviceID: UInt64 = 0x008
  public static let vendorID: UInt64 = 0x00C
  public static let deviceFeatures: UInt64 = 0x010
  public static let deviceFeaturesSel: UInt64 = 0x014
  public static let driverFeatures: UInt64 = 0x020
  public static let driverFeaturesSel: UInt64 = 0x024
  public static let queueSel: UInt64 = 0x030
  public static let queueNumMax: UInt64 = 0x034
  public static let queueNum: UInt64 = 0x038
  public static let queueReady: UInt64 = 0x044
  public static let queueNotify: UInt64 = 0x050
  public static let interruptStatus: UInt64 = 0x060
  public static let interruptACK: UInt64 = 0x064
  public static let status: UInt64 = 0x070
  public static let queueDescLow: UInt64 = 0x080
  public static let queueDescHigh: UInt64 = 0x084
  public static let queueDriverLow: UInt64 = 0x090
  public static let queueDriverHigh: UInt64 = 0x094
  public static let queueDeviceLow: UInt64 = 0x0A0
  public static let queueDeviceHigh: UInt64 = 0x0A4
  public static let configGeneration: UInt64 = 0x0FC
  public static let config: UInt64 = 0x100
  /// "virt" in little-endian ASCII.
  public static let magic: UInt32 = 0x7472_6976
  /// The size of one transport's register window on QEMU `virt` (and on Keel's boards).
  public static let windowSize: UInt64 = 0x200
}

/// Device status bits (virtio 1.1, 2.1).
public enum VirtioStatus {
  public static let acknowledge: UInt32 = 1
  public static let driver: UInt32 = 2
  public static let driverOK: UInt32 = 4
  public static let featuresOK: UInt32 = 8
  public static let deviceNeedsReset: UInt32 = 64
  public static let failed: UInt32 = 128
}

/// InterruptStatus bits.
public enum VirtioInterrupt {
  public static let usedBuffer: UInt32 = 1
  public static let configurationChange: UInt32 = 2
}

public enum VirtioDeviceID {
  public static let none: UInt32 = 0
  public static let network: UInt32 = 1
  public static let block: UInt32 = 2
}

/// Transport-independent feature bits (virtio 1.1, 6).
public enum VirtioFeature {
  public static let indirectDescriptors: UInt64 = 1 << 28
  public static let eventIndex: UInt64 = 1 << 29
  public static let version1: UInt64 = 1 << 32
}

/// Split-virtqueue descriptor flags and layout (virtio 1.1, 2.6).
public enum VirtqDescriptor {
  public static let next: UInt16 = 1
  public static let write: UInt16 = 2
  public static let indirect: UInt16 = 4
  /// addr u64, len u32, flags u16, next u16.
  public static let size: UInt64 = 16
}

/// virtio-blk (virtio 1.1, 5.2).
public enum VirtioBlock {
  public static let sectorSize: UInt64 = 512

  public enum Feature {
    public static let sizeMax: UInt64 = 1 << 1
    public static let segMax: UInt64 = 1 << 2
    public static let readOnly: UInt64 = 1 << 5
    public static let blockSize: UInt64 = 1 << 6
    public static let flush: UInt64 = 1 << 9
    public static let topology: UInt64 = 1 << 10
    public static let discard: UInt64 = 1 << 13
    public static let writeZeroes: UInt64 = 1 << 14
  }

  /// The request header's `type`.
  public enum RequestType {
    public static let read: UInt32 = 0
    public static let write: UInt32 = 1
    public static let flush: UInt32 = 4
    public static let getID: UInt32 = 8
    public static let discard: UInt32 = 11
    public static let writeZeroes: UInt32 = 13
  }

  /// The status byte the device writes last.
  public enum Status {
    public static let ok: UInt8 = 0
    public static let ioError: UInt8 = 1
    public static let unsupported: UInt8 = 2
  }

  /// Header: type u32, reserved u32, sector u64.
  public static let headerSize: UInt64 = 16
  /// GET_ID answers with a serial of at most this many bytes (no terminator when full).
  public static let idSize: Int = 20
}
