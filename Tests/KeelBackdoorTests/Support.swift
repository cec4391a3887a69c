import KeelBackdoor

/// Host fake: fixed clock and identity, records log lines. Not modelled: time passing.
struct FakeHost: BackdoorHost {
  var now: (seconds: UInt64, microseconds: UInt32) = (0x1_2345_6789, 654_321)
  var cpuMHz: UInt32 = 2_400
  var memorySizeMiB: UInt32 = 4_096
  var uuid: [UInt8] = [0x56, 0x4D, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F, 0x70, 0x81, 0x92, 0xA3, 0xB4, 0xC5, 0xD6, 0xE7]
  var logged: [[UInt8]] = []
  func wallClock() -> (seconds: UInt64, microseconds: UInt32) { now }
  mutating func log(_ text: [UInt8]) { logged.append(text) }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

let magic: UInt64 = 0x564D_5868
let lowBandwidthX7: UInt64 = 0x86_0000_000E

/// Deterministic "uninitialised stack" for the upper register halves.
struct Garbage {
  var state: UInt64 = 0xDEAD_BEEF_CAFE_F00D
  mutating func next() -> UInt64 {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17
    return state
  }
  mutating func high() -> UInt64 { next() & 0xFFFF_FFFF_0000_0000 }
}

/// Plays the guest side of open-vm-tools' `Backdoor()` / `message.c` against a `Backdoor`,
/// with garbage in every upper half and checks that only the defined outputs change.
final class Guest {
  var backdoor: Backdoor<FakeHost>
  var garbage = Garbage()
  var calls: [(input: BackdoorCall, output: BackdoorCall)] = []

  init(_ backdoor: Backdoor<FakeHost> = Backdoor(host: FakeHost())) { self.backdoor = backdoor }

  /// One LB `in eax, dx` call. Returns the output registers.
  func call(w0: UInt32 = 0x564D_5868, w1: UInt32 = 0, w2: UInt32, w3high: UInt16 = 0,
                     w4: UInt32 = 0, w5: UInt32 = 0) -> BackdoorCall {
    var regs = BackdoorCall(x: [
      garbage.high() | UInt64(w0), garbage.high() | UInt64(w1), garbage.high() | UInt64(w2),
      garbage.high() | UInt64(w3high) << 16 | 0x5658, garbage.high() | UInt64(w4), garbage.high() | UInt64(w5),
      garbage.next(), lowBandwidthX7,
    ])
    let input = regs
    let outcome = backdoor.handle(&regs)
    precondition(outcome == .handled)
    calls.append((input, regs))
    return regs
  }

  struct Channel { var id: UInt16; var cookieHigh: UInt32; var cookieLow: UInt32 }

  func message(_ type: UInt16, _ channel: Channel, w1: UInt32 = 0) -> BackdoorCall {
    call(w1: w1, w2: UInt32(type) << 16 | 30, w3high: channel.id, w4: channel.cookieHigh, w5: channel.cookieLow)
  }

  func open(_ proto: UInt32 = 0xC943_5052) -> Channel? {
    let out = call(w1: proto, w2: 30)
    guard status(out) & 1 != 0 else { return nil }
    return Channel(id: UInt16(truncatingIfNeeded: out.x[3] >> 16), cookieHigh: out.w(4), cookieLow: out.w(5))
  }

  /// Message_Send, LB path. False on any failure status.
  func send(_ data: [UInt8], on channel: Channel) -> Bool {
    guard status(message(1, channel, w1: UInt32(data.count))) & 1 != 0 else { return false }
    var offset = 0
    while offset < data.count {
      var word: UInt32 = 0
      for i in 0..<min(4, data.count - offset) { word |= UInt32(data[offset + i]) << UInt32(8 * i) }
      guard status(message(2, channel, w1: word)) & 1 != 0 else { return false }
      offset += 4
    }
    return true
  }

  /// Message_Receive, LB path: nil on failure, [] when nothing is pending.
  func receive(on channel: Channel) -> [UInt8]? {
    let size = message(3, channel)
    guard status(size) & 1 != 0 else { return nil }
    guard status(size) & 2 != 0 else { return [] }
    guard size.x[3] >> 16 & 0xFFFF == 1 else { return nil }
    let count = Int(size.w(1))
    var data: [UInt8] = []
    while data.count < count {
      let piece = message(4, channel, w1: 1)
      guard status(piece) & 1 != 0, piece.x[3] >> 16 & 0xFFFF == 2 else { return nil }
      for i in 0..<min(4, count - data.count) { data.append(UInt8(truncatingIfNeeded: piece.w(1) >> UInt32(8 * i))) }
    }
    guard status(message(5, channel, w1: 1)) & 1 != 0 else { return nil }
    return data
  }

  func close(_ channel: Channel) -> Bool { status(message(6, channel)) & 1 != 0 }

  /// RpcOut_SendOneRaw: open, send, receive, close.
  func rpc(_ request: [UInt8]) -> [UInt8]? {
    guard let channel = open(), send(request, on: channel), let reply = receive(on: channel),
          close(channel) else { return nil }
    return reply
  }
}

func status(_ out: BackdoorCall) -> UInt32 { out.w(2) >> 16 }

/// Registers that differ between two calls.
func changedRegisters(_ a: BackdoorCall, _ b: BackdoorCall) -> [Int] {
  (0..<8).filter { a.x[$0] != b.x[$0] }
}
