/// What the backdoor needs from the hypervisor. Generic, not an existential: Embedded Swift has no
/// `any P` for value protocols, and tests pass a fake.
public protocol BackdoorHost {
  /// Host wall-clock time (Unix epoch, UTC) for GETTIME / GETTIMEFULL(_WITH_LAG).
  func wallClock() -> (seconds: UInt64, microseconds: UInt32)
  /// GETMHZ. Must be non-zero or `vmware-toolbox-cmd stat speed` reports an error.
  var cpuMHz: UInt32 { get }
  /// GETMEMSIZE: W0 = guest memory in MiB.
  var memorySizeMiB: UInt32 { get }
  /// GETUUID: the 16-byte VM UUID, returned as four little-endian words in W0...W3.
  var uuid: [UInt8] { get }
  /// RPCI `log <text>`.
  mutating func log(_ text: [UInt8])
}

public struct BackdoorConfiguration: Sendable, Equatable {
  /// GETVERSION W2 (`vm_vmx_type.h`): 2 = ESX (enables the ESX-only vmtoolsd plugins), 4 = Workstation.
  public var vmxType: UInt32
  /// GETTIME* W2: the host's bound on its own clock error, in microseconds.
  public var maxTimeLagMicroseconds: UInt32
  /// GETTIMEFULL_WITH_LAG W5.
  public var interruptLagMicroseconds: UInt32
  /// GETGUIOPTIONS W0 (0x400 = time sync enabled).
  public var guiOptions: UInt32
  /// `guestlib.info.get 3` session id; 0 derives one from the UUID (it must be non-zero).
  public var guestLibSessionID: UInt64

  public init(vmxType: UInt32 = 2, maxTimeLagMicroseconds: UInt32 = 0, interruptLagMicroseconds: UInt32 = 0,
              guiOptions: UInt32 = 0, guestLibSessionID: UInt64 = 0) {
    self.vmxType = vmxType
    self.maxTimeLagMicroseconds = maxTimeLagMicroseconds
    self.interruptLagMicroseconds = interruptLagMicroseconds
    self.guiOptions = guiOptions
    self.guestLibSessionID = guestLibSessionID
  }
}

/// The host side of the VMware backdoor for AArch64 guests (open-vm-tools 12.2 ABI), to be called
/// once the hypervisor has recognised a backdoor trap (`MRS XZR, MDCCSR_EL0` with X7[63:32] = 0x86,
/// or `HVC #0x86` from EL1).
///
/// Register rules (reference §1.6): inputs are read as 32-bit values (upper halves are garbage);
/// each defined output is written as a zero-extended 32-bit value; every other register, X7 and
/// the flags are left alone.
public struct Backdoor<Host: BackdoorHost> {
  public var host: Host
  /// `guestinfo.*` variables, keyed without the `guestinfo.` prefix.
  public var guestInfo: GuestInfoStore
  /// Last value from the RPCI `tools.set.version <n>` (0 when the tools are being removed).
  public var toolsVersion: UInt32?
  public var configuration: BackdoorConfiguration
  public var channels: MessageChannelTable

  public init(host: Host, guestInfo: GuestInfoStore = GuestInfoStore(),
              configuration: BackdoorConfiguration = BackdoorConfiguration()) {
    let uuid = host.uuid
    self.host = host
    self.guestInfo = guestInfo
    self.toolsVersion = nil
    self.configuration = configuration
    self.channels = MessageChannelTable(cookieSeed: Self.fold(uuid))
  }

  /// Queues a host command (e.g. `reset`, `ping`) for the guest's next TCLO poll.
  public mutating func postTCLOCommand(_ command: [UInt8]) -> Bool { channels.postTCLOCommand(command) }

  /// The guest's TCLO answers since the last call.
  public mutating func takeTCLOReplies() -> [[UInt8]] { channels.takeTCLOReplies() }

  /// Executes one backdoor I/O described by W7.
  public mutating func handle(_ call: inout BackdoorCall) -> BackdoorOutcome {
    guard call.x.count >= 8, let operation = X86IOOperation(w7: call.w(7)) else { return .invalid }
    let port: UInt16
    switch operation.form {
    case .immediatePort(let immediate): port = UInt16(immediate)
    case .portInDX: port = UInt16(truncatingIfNeeded: call.x[3])
    case .string, .repeatedString:
      // INS/OUTS would move guest memory. Only the HB protocol uses them, and only after the host
      // advertises MESSAGE_STATUS_HB, which Keel never does; so like an unclaimed port nothing
      // observable happens in the registers.
      return .handled
    }
    guard operation.isRead else { return .handled }   // OUT to any port is ignored
    guard port == BackdoorABI.lowBandwidthPort, operation.size == 4 else {
      Self.floatingBus(&call, size: operation.size)
      return .handled
    }
    lowBandwidthCall(&call)
    return .handled
  }

  /// An IN from a port nobody claims reads all-ones; 8/16-bit INs leave the rest of X0 alone (x86).
  static func floatingBus(_ call: inout BackdoorCall, size: Int) {
    switch size {
    case 1: call.x[0] |= 0xFF
    case 2: call.x[0] |= 0xFFFF
    default: call.setW(0, BackdoorABI.allOnes)
    }
  }

  mutating func lowBandwidthCall(_ call: inout BackdoorCall) {
    guard call.w(0) == BackdoorABI.magic else {
      call.setW(0, BackdoorABI.allOnes)
      return
    }
    let command = BackdoorCommand(rawValue: UInt16(truncatingIfNeeded: call.x[2]))
    switch command {
    case .getVersion:
      call.setW(0, BackdoorABI.version)
      call.setW(1, BackdoorABI.magic)
      call.setW(2, configuration.vmxType)
    case .getMHz:
      call.setW(0, host.cpuMHz)
    case .getMemorySize:
      call.setW(0, host.memorySizeMiB)
    case .getUUID:
      let uuid = host.uuid
      for word in 0..<4 {
        var value: UInt32 = 0
        for byte in 0..<4 where word * 4 + byte < uuid.count {
          value |= UInt32(uuid[word * 4 + byte]) << UInt32(8 * byte)
        }
        call.setW(word, value)
      }
    case .getTime:
      let now = host.wallClock()
      call.setW(0, UInt32(truncatingIfNeeded: now.seconds))
      call.setW(1, now.microseconds)
      call.setW(2, configuration.maxTimeLagMicroseconds)
    case .getTimeFull, .getTimeFullWithLag:
      // Success is signalled by leaving W0 == magic.
      let now = host.wallClock()
      call.setW(1, now.microseconds)
      call.setW(2, configuration.maxTimeLagMicroseconds)
      call.setW(3, UInt32(truncatingIfNeeded: now.seconds))
      call.setW(4, UInt32(truncatingIfNeeded: now.seconds >> 32))
      if command == .getTimeFullWithLag { call.setW(5, configuration.interruptLagMicroseconds) }
    case .stopCatchUp:
      break
    case .getDeviceListElement, .toggleDevice:
      call.setW(0, 0)   // "no such device" / "failed"; the guest treats W0 != 0 as success
    case .getGUIOptions:
      call.setW(0, configuration.guiOptions)
    case .message:
      message(&call)
    default:
      call.setW(0, BackdoorABI.allOnes)
    }
  }

  mutating func message(_ call: inout BackdoorCall) {
    let w2 = call.w(2)
    let w3 = call.w(3)
    var result = channels.handle(type: MessageType(rawValue: UInt16(truncatingIfNeeded: w2 >> 16)),
                                 channelID: UInt16(truncatingIfNeeded: w3 >> 16),
                                 cookieHigh: call.w(4), cookieLow: call.w(5), w1: call.w(1))
    if let completed = result.completed, completed.messageProtocol == .rpci {
      // Synchronous: the reply must be pending at the RECVSIZE that follows the request.
      channels.setReply(rpci(completed.bytes), slot: completed.slot)
      result.completed = nil
    }
    call.setW(2, UInt32(result.status.rawValue) << 16 | (w2 & 0xFFFF))
    if let w1 = result.w1 { call.setW(1, w1) }
    if let high = result.w3High { call.setW(3, UInt32(high) << 16 | (w3 & 0xFFFF)) }
    if let cookies = result.cookies {
      call.setW(4, cookies.high)
      call.setW(5, cookies.low)
    }
  }

  /// FNV-1a over the UUID: a per-VM seed and session id.
  static func fold(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
    return hash
  }
}
