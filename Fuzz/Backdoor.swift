// Fuzz target `backdoor`: what a guest reaches through the VMware backdoor (runBackdoor in the
// hypervisor's Backdoor.swift calls Backdoor.handle with the guest's X0-X7): the I/O descriptor in
// W7, the low-bandwidth commands, the GuestRPC message channels and the RPCI requests they carry.
// The host side (TCLO commands posted by `keel`, replies taken) is interleaved.
//
// Input: a program of operations, each starting with one byte (low 3 bits pick the operation):
//   0 raw:     28 bytes, W7 W0 W1 W2 W3 W4 W5 (little-endian u32s), upper register halves garbage
//   1 message: type (1 byte), channel pick (1 byte), W1 (4 bytes), as a well-formed MESSAGE call
//              on one of the channels the guest opened (right cookies), or a made-up id
//   2 rpc:     length n (1 byte), n bytes sent whole as one RPCI request (open/send/receive/close)
//   3 host:    length n (1 byte), n bytes posted as a TCLO command; replies taken
//   4 command: a low-bandwidth command number (2 bytes) with W1 (4 bytes), `in eax, dx`
//   others:    the rest of the input as one RPCI request, straight to Backdoor.rpci
// After each call the registers the ABI promises to leave alone (X6, X7) must be unchanged.
import KeelBackdoor

struct FuzzHost: BackdoorHost {
  func wallClock() -> (seconds: UInt64, microseconds: UInt32) { (0x1_2345_6789, 654_321) }
  var cpuMHz: UInt32 { 2_400 }
  var memorySizeMiB: UInt32 { 256 }
  var uuid: [UInt8] { [0x56, 0x4D, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F, 0x70, 0x81, 0x92, 0xA3, 0xB4, 0xC5, 0xD6, 0xE7] }
  mutating func log(_ text: [UInt8]) {}
}

struct Reader {
  let bytes: UnsafeRawBufferPointer
  var offset = 0
  var isEmpty: Bool { offset >= bytes.count }
  mutating func u8() -> UInt8 {
    guard offset < bytes.count else { return 0 }
    defer { offset += 1 }
    return bytes[offset]
  }
  mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
  mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
  mutating func take(_ n: Int) -> [UInt8] {
    let end = min(bytes.count, offset + n)
    defer { offset = end }
    return [UInt8](UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
  }
}

struct Session {
  var backdoor = Backdoor(host: FuzzHost())
  var garbage: UInt64 = 0x9E37_79B9_7F4A_7C15
  var channels: [(id: UInt16, high: UInt32, low: UInt32)] = []

  mutating func high() -> UInt64 {
    garbage ^= garbage << 13; garbage ^= garbage >> 7; garbage ^= garbage << 17
    return garbage & 0xFFFF_FFFF_0000_0000
  }

  /// One trap with the given W registers (W7 is the I/O descriptor; the marker sits in X7[63:32]).
  @discardableResult
  mutating func call(w7: UInt32, _ w: [UInt32]) -> BackdoorCall {
    var x: [UInt64] = []
    for index in 0..<7 { x.append(high() | UInt64(index < w.count ? w[index] : 0)) }
    x.append(UInt64(BackdoorABI.x86IOMagic) << 32 | UInt64(w7))
    var regs = BackdoorCall(x: x)
    let before = regs
    _ = backdoor.handle(&regs)
    precondition(regs.x.count == before.x.count && regs.x[6] == before.x[6] && regs.x[7] == before.x[7],
                 "backdoor changed a register it must leave alone")
    return regs
  }

  /// A MESSAGE call (`in eax, dx` on the low-bandwidth port).
  mutating func message(_ type: UInt16, id: UInt16, high: UInt32, low: UInt32, w1: UInt32) -> BackdoorCall {
    call(w7: X86IOOperation.inEAXFromDX, [BackdoorABI.magic, w1, UInt32(type) << 16 | 30,
                                          UInt32(id) << 16 | UInt32(BackdoorABI.lowBandwidthPort), high, low])
  }

  mutating func open(_ proto: UInt32) -> (id: UInt16, high: UInt32, low: UInt32)? {
    let out = message(0, id: 0, high: 0, low: 0, w1: proto)
    guard out.w(2) >> 16 & 1 != 0 else { return nil }
    let channel = (id: UInt16(truncatingIfNeeded: out.x[3] >> 16), high: out.w(4), low: out.w(5))
    channels.append(channel)
    if channels.count > 16 { channels.removeFirst() }
    return channel
  }

  mutating func rpc(_ request: [UInt8]) {
    guard let c = open(0xC943_5052) else { return }
    _ = message(1, id: c.id, high: c.high, low: c.low, w1: UInt32(request.count))
    var offset = 0
    while offset < request.count {
      var word: UInt32 = 0
      for i in 0..<min(4, request.count - offset) { word |= UInt32(request[offset + i]) << UInt32(8 * i) }
      _ = message(2, id: c.id, high: c.high, low: c.low, w1: word)
      offset += 4
    }
    let size = message(3, id: c.id, high: c.high, low: c.low, w1: 0)
    var remaining = Int(size.w(1))
    if size.w(2) >> 16 & 2 != 0 {
      while remaining > 0 { _ = message(4, id: c.id, high: c.high, low: c.low, w1: 1); remaining -= 4 }
      _ = message(5, id: c.id, high: c.high, low: c.low, w1: 1)
    }
    _ = message(6, id: c.id, high: c.high, low: c.low, w1: 0)
  }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBackdoor(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var input = Reader(bytes: UnsafeRawBufferPointer(start: data, count: size))
  var session = Session()
  var steps = 0
  while !input.isEmpty && steps < 512 {
    steps += 1
    let op = input.u8()
    switch op & 7 {
    case 0:
      let w7 = input.u32()
      var w: [UInt32] = []
      for _ in 0..<6 { w.append(input.u32()) }
      session.call(w7: w7, w)
    case 1:
      let type = UInt16(input.u8() & 7), pick = input.u8(), w1 = input.u32()
      if type == 0 {
        _ = session.open(w1)
      } else if !session.channels.isEmpty && pick & 0x80 == 0 {
        let c = session.channels[Int(pick) % session.channels.count]
        _ = session.message(type, id: c.id, high: c.high, low: c.low, w1: w1)
      } else {
        _ = session.message(type, id: UInt16(pick & 0x7F), high: 0, low: 0, w1: w1)
      }
    case 2:
      session.rpc(input.take(Int(input.u8())))
    case 3:
      _ = session.backdoor.postTCLOCommand(input.take(Int(input.u8())))
      _ = session.backdoor.takeTCLOReplies()
    case 4:
      let command = input.u16(), w1 = input.u32()
      session.call(w7: X86IOOperation.inEAXFromDX, [BackdoorABI.magic, w1, UInt32(command), UInt32(BackdoorABI.lowBandwidthPort)])
    default:
      _ = session.backdoor.rpci(input.take(size))
    }
  }
  return 0
}
