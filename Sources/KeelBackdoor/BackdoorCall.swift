/// The general-purpose registers of one backdoor trap. On entry `x[0...7]` are the guest's X0-X7;
/// `handle` writes back only the registers the command defines as outputs.
public struct BackdoorCall: Sendable, Equatable {
  public var x: [UInt64]

  /// Missing registers read as zero; extra entries are ignored and preserved.
  public init(x: [UInt64]) {
    self.x = x
    while self.x.count < 8 { self.x.append(0) }
  }

  /// W<n>: the low 32 bits, which is all the x86 register model defines (upper halves are guest
  /// stack garbage on entry, see the reference §1.6).
  public func w(_ index: Int) -> UInt32 { UInt32(truncatingIfNeeded: x[index]) }

  /// A 32-bit register write, zero-extended like an x86-64 write to a 32-bit register.
  public mutating func setW(_ index: Int, _ value: UInt32) { x[index] = UInt64(value) }
}

public enum BackdoorOutcome: Sendable, Equatable {
  /// Registers were updated; the caller advances the PC past the trapping MRS (not for HVC).
  case handled
  /// Not a well-formed x86 I/O descriptor in W7: handle it like an ordinary debug register access.
  case invalid
}

/// Fixed numbers of the backdoor ABI (open-vm-tools `backdoor_def.h`).
public enum BackdoorABI {
  /// `BDOOR_MAGIC`, 'VMXh'.
  public static var magic: UInt32 { 0x564D_5868 }
  /// `BDOOR_PORT`, the low-bandwidth port.
  public static var lowBandwidthPort: UInt16 { 0x5658 }
  /// `BDOORHB_PORT`; only used by guests after the host sets `MessageStatus.highBandwidth`, which
  /// Keel never does.
  public static var highBandwidthPort: UInt16 { 0x5659 }
  /// `X86_IO_MAGIC`: X7[63:32] for `MRS XZR, MDCCSR_EL0` calls and the HVC immediate.
  public static var x86IOMagic: UInt32 { 0x86 }
  /// `VERSION_MAGIC` answered by GETVERSION; `VmCheck_IsVirtualWorld` requires exactly 6.
  public static var version: UInt32 { 6 }
  /// W0 for failures and unclaimed ports (what an x86 floating bus reads).
  public static var allOnes: UInt32 { 0xFFFF_FFFF }

  /// Whether X7 carries the MRS-mechanism marker (the hypervisor checks this before `handle`).
  public static func isBackdoorMarker(x7: UInt64) -> Bool { x7 >> 32 == UInt64(x86IOMagic) }
}

/// W7: the x86 I/O instruction the guest wants emulated (`X86_IO_W7_*`).
public struct X86IOOperation: Sendable, Equatable {
  public enum Form: Sendable, Equatable {
    /// `IN`/`OUT` with an 8-bit immediate port (W7[12:5]).
    case immediatePort(UInt8)
    /// `IN`/`OUT` with the port in DX (W3[15:0]).
    case portInDX
    /// `INS`/`OUTS`.
    case string(directionFlag: Bool)
    /// `REP INS`/`REP OUTS`.
    case repeatedString(directionFlag: Bool)
  }

  /// 1, 2 or 4 bytes.
  public let size: Int
  /// `IN`-family (DIR = 1).
  public let isRead: Bool
  public let form: Form

  /// The one descriptor open-vm-tools uses for every low-bandwidth call: `in eax, dx`.
  public static var inEAXFromDX: UInt32 { 0x0E }

  /// Nil for size 0b11 or any reserved bit set (the header requires them to be 0).
  public init?(w7: UInt32) {
    let sizeField = w7 & 0b11
    guard sizeField != 0b11 else { return nil }
    size = 1 << Int(sizeField)
    isRead = w7 & (1 << 2) != 0
    let typeField = (w7 >> 3) & 0b11
    switch typeField {
    case 0b00:
      guard w7 >> 13 == 0 else { return nil }
      form = .immediatePort(UInt8(truncatingIfNeeded: w7 >> 5))
    case 0b01:
      guard w7 >> 5 == 0 else { return nil }
      form = .portInDX
    case 0b10:
      guard w7 >> 6 == 0 else { return nil }
      form = .string(directionFlag: w7 & (1 << 5) != 0)
    default:
      guard w7 >> 6 == 0 else { return nil }
      form = .repeatedString(directionFlag: w7 & (1 << 5) != 0)
    }
  }
}

/// Low-bandwidth command numbers, `BDOOR_CMD(ecx) = ecx & 0xFFFF` (`backdoor_def.h`).
public struct BackdoorCommand: RawRepresentable, Equatable, Sendable {
  public let rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  /// `BDOOR_CMD_GETMHZ`.
  public static var getMHz: Self { .init(rawValue: 1) }
  /// `BDOOR_CMD_GETVERSION`.
  public static var getVersion: Self { .init(rawValue: 10) }
  /// `BDOOR_CMD_GETDEVICELISTELEMENT`.
  public static var getDeviceListElement: Self { .init(rawValue: 11) }
  /// `BDOOR_CMD_TOGGLEDEVICE`.
  public static var toggleDevice: Self { .init(rawValue: 12) }
  /// `BDOOR_CMD_GETGUIOPTIONS`.
  public static var getGUIOptions: Self { .init(rawValue: 13) }
  /// `BDOOR_CMD_GETUUID`.
  public static var getUUID: Self { .init(rawValue: 19) }
  /// `BDOOR_CMD_GETMEMSIZE`.
  public static var getMemorySize: Self { .init(rawValue: 20) }
  /// `BDOOR_CMD_GETTIME` (deprecated).
  public static var getTime: Self { .init(rawValue: 23) }
  /// `BDOOR_CMD_STOPCATCHUP`.
  public static var stopCatchUp: Self { .init(rawValue: 24) }
  /// `BDOOR_CMD_MESSAGE`.
  public static var message: Self { .init(rawValue: 30) }
  /// `BDOOR_CMD_GETTIMEFULL`.
  public static var getTimeFull: Self { .init(rawValue: 46) }
  /// `BDOOR_CMD_GETTIMEFULL_WITH_LAG`.
  public static var getTimeFullWithLag: Self { .init(rawValue: 55) }
}

/// `MESSAGE_TYPE_*`, carried in W2[31:16] (and in W3[31:16] of RECVSIZE/RECVPAYLOAD replies).
public struct MessageType: RawRepresentable, Equatable, Sendable {
  public let rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  public static var open: Self { .init(rawValue: 0) }
  public static var sendSize: Self { .init(rawValue: 1) }
  public static var sendPayload: Self { .init(rawValue: 2) }
  public static var receiveSize: Self { .init(rawValue: 3) }
  public static var receivePayload: Self { .init(rawValue: 4) }
  public static var receiveStatus: Self { .init(rawValue: 5) }
  public static var close: Self { .init(rawValue: 6) }
}

/// `MESSAGE_STATUS_*`, returned in W2[31:16].
public struct MessageStatus: OptionSet, Equatable, Sendable {
  public let rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  public static var success: Self { .init(rawValue: 0x0001) }
  /// A message is waiting: RECVSIZE reports its length.
  public static var doReceive: Self { .init(rawValue: 0x0002) }
  public static var closed: Self { .init(rawValue: 0x0004) }
  public static var unsent: Self { .init(rawValue: 0x0008) }
  /// `MESSAGE_STATUS_CPT`: with !success, the guest restarts the whole transfer.
  public static var checkpoint: Self { .init(rawValue: 0x0010) }
  public static var powerOff: Self { .init(rawValue: 0x0020) }
  public static var timeout: Self { .init(rawValue: 0x0040) }
  /// `MESSAGE_STATUS_HB`: never set by Keel, so guests stay on the register-only LB path.
  public static var highBandwidth: Self { .init(rawValue: 0x0080) }
}

/// Message channel protocols (`OPEN` W1 without the cookie flag).
public struct MessageProtocol: RawRepresentable, Equatable, Sendable {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }
  /// 'RPCI': guest-initiated requests with synchronous replies.
  public static var rpci: Self { .init(rawValue: 0x4943_5052) }
  /// 'TCLO': the guest polls for host-initiated commands.
  public static var tclo: Self { .init(rawValue: 0x4F4C_4354) }
  /// `GUESTMSG_FLAG_COOKIE` in OPEN's W1.
  public static var cookieFlag: UInt32 { 0x8000_0000 }
}
