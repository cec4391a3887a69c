import Testing
import KeelBackdoor

@Test func getVersionAsHostinfoTouchBackDoorCallsIt() {
  let guest = Guest()
  let out = guest.call(w1: 0xA9B2_A797, w2: 10)
  #expect(out.x[0] == 6)
  #expect(out.x[1] == magic)
  #expect(out.x[2] == 2)
  #expect(changedRegisters(guest.calls[0].input, out) == [0, 1, 2])
}

@Test func getVersionAsVmCheckCallsItWithSentinels() {
  var backdoor = Backdoor(host: FakeHost(), configuration: BackdoorConfiguration(vmxType: 4))
  var regs = BackdoorCall(x: [0x1234_5678_0000_0000 | magic, 0xFFFF_FFFF_A9B2_A797, 0xFFFF_000A,
                              0xAAAA_BBBB_CCCC_5658, 0x44, 0x55, 0x66, lowBandwidthX7])
  #expect(backdoor.handle(&regs) == .handled)
  #expect(regs.x == [6, magic, 4, 0xAAAA_BBBB_CCCC_5658, 0x44, 0x55, 0x66, lowBandwidthX7])
}

@Test func getMHzIgnoresGarbageInTheCommandHighHalf() {
  let guest = Guest(Backdoor(host: FakeHost(cpuMHz: 1_800)))
  let out = guest.call(w2: 0xBEEF_0001)
  #expect(out.x[0] == 1_800)
  #expect(changedRegisters(guest.calls[0].input, out) == [0])
}

@Test func memorySizeAndUUID() {
  let host = FakeHost()
  let guest = Guest(Backdoor(host: host))
  #expect(guest.call(w2: 20).x[0] == UInt64(host.memorySizeMiB))
  let uuid = guest.call(w2: 19)
  #expect(uuid.x[0] == 0x2B1A_4D56)
  #expect(uuid.x[1] == 0x6F5E_4D3C)
  #expect(uuid.x[2] == 0xA392_8170)
  #expect(uuid.x[3] == 0xE7D6_C5B4)
  #expect(changedRegisters(guest.calls[1].input, uuid) == [0, 1, 2, 3])
}

@Test func timeCommands() {
  let host = FakeHost()
  let configuration = BackdoorConfiguration(maxTimeLagMicroseconds: 500, interruptLagMicroseconds: 70)
  let guest = Guest(Backdoor(host: host, configuration: configuration))

  let full = guest.call(w2: 46)
  #expect(full.w(0) == 0x564D_5868, "success leaves W0 == magic")
  #expect(full.x[3] == host.now.seconds & 0xFFFF_FFFF)
  #expect(full.x[4] == host.now.seconds >> 32)
  #expect(full.x[1] == UInt64(host.now.microseconds))
  #expect(full.x[2] == 500)
  #expect(changedRegisters(guest.calls[0].input, full) == [1, 2, 3, 4])

  let lag = guest.call(w2: 55)
  #expect(lag.x[5] == 70)
  #expect(lag.x[3] == host.now.seconds & 0xFFFF_FFFF)
  #expect(changedRegisters(guest.calls[1].input, lag) == [1, 2, 3, 4, 5])

  let old = guest.call(w2: 23)
  #expect(old.x[0] == host.now.seconds & 0xFFFF_FFFF)
  #expect(old.x[1] == UInt64(host.now.microseconds))
  #expect(old.x[2] == 500)
  #expect(changedRegisters(guest.calls[2].input, old) == [0, 1, 2])
}

@Test func commandsWithFixedAnswers() {
  let guest = Guest(Backdoor(host: FakeHost(), configuration: BackdoorConfiguration(guiOptions: 0x400)))
  let stop = guest.call(w2: 24)
  #expect(changedRegisters(guest.calls[0].input, stop) == [])
  #expect(guest.call(w2: 11).x[0] == 0)
  #expect(guest.call(w2: 12).x[0] == 0)
  #expect(guest.call(w2: 13).x[0] == 0x400)
  let unknown = guest.call(w2: 45)
  #expect(unknown.x[0] == 0xFFFF_FFFF)
  #expect(changedRegisters(guest.calls[4].input, unknown) == [0])
}

@Test func wrongMagicReadsAsNoBackdoor() {
  let guest = Guest()
  let out = guest.call(w0: 0x1234_5678, w2: 10)
  #expect(out.x[0] == 0xFFFF_FFFF)
  #expect(changedRegisters(guest.calls[0].input, out) == [0])
}

@Test(arguments: [
  UInt64(0x86_0000_000F),            // size 0b11
  0x86_0000_002E,                    // reserved bit 5 with the DX form
  0x86_0000_200E,                    // reserved bit 13
  0x1_0000_000E,                     // X7[63:32] is not part of W7
])
func malformedDescriptorsAreNotBackdoorCalls(x7: UInt64) {
  var backdoor = Backdoor(host: FakeHost())
  var regs = BackdoorCall(x: [magic, 0, 10, 0x5658, 0, 0, 0, x7])
  let before = regs
  let outcome = backdoor.handle(&regs)
  if x7 & 0xFFFF_FFFF == 0xE {
    #expect(outcome == .handled, "X7[63:32] is the caller's business; W7 alone is decoded")
  } else {
    #expect(outcome == .invalid)
    #expect(regs == before)
  }
}

@Test func descriptorDecoding() {
  #expect(X86IOOperation(w7: 0x0E) == X86IOOperation(w7: 0x0E))
  let lb = X86IOOperation(w7: 0x0E)
  #expect(lb?.size == 4 && lb?.isRead == true && lb?.form == .portInDX)
  let hbIn = X86IOOperation(w7: 0x1C)
  #expect(hbIn?.size == 1 && hbIn?.isRead == true && hbIn?.form == .repeatedString(directionFlag: false))
  let hbOut = X86IOOperation(w7: 0x18)
  #expect(hbOut?.isRead == false && hbOut?.form == .repeatedString(directionFlag: false))
  let outsDown = X86IOOperation(w7: 0x31)
  #expect(outsDown?.size == 2 && outsDown?.form == .string(directionFlag: true))
  let immediate = X86IOOperation(w7: 0x60 << 5 | 0b101)
  #expect(immediate?.form == .immediatePort(0x60) && immediate?.size == 2 && immediate?.isRead == true)
  #expect(BackdoorABI.isBackdoorMarker(x7: lowBandwidthX7))
  #expect(!BackdoorABI.isBackdoorMarker(x7: 0x87_0000_000E))
}

@Test func unclaimedPortsFloat() {
  var backdoor = Backdoor(host: FakeHost())
  // in eax, dx on the HB port: all-ones, zero-extended.
  var hb = BackdoorCall(x: [0xAAAA_0000_0000_0000 | magic, 1, 10, 0x5659, 4, 5, 6, lowBandwidthX7])
  #expect(backdoor.handle(&hb) == .handled)
  #expect(hb.x == [0xFFFF_FFFF, 1, 10, 0x5659, 4, 5, 6, lowBandwidthX7])
  // in al, dx on the backdoor port: only AL floats.
  var byte = BackdoorCall(x: [0xAAAA_0000_1234_5600, 1, 10, 0x5658, 4, 5, 6, 0x86_0000_000C])
  #expect(backdoor.handle(&byte) == .handled)
  #expect(byte.x[0] == 0xAAAA_0000_1234_56FF)
  // in ax, 0x60 (immediate port).
  var word = BackdoorCall(x: [0x1111_2222_3333_0000, 0, 0, 0, 0, 0, 0, 0x86_0000_0000 | 0x60 << 5 | 0b101])
  #expect(backdoor.handle(&word) == .handled)
  #expect(word.x[0] == 0x1111_2222_3333_FFFF)
}

@Test(arguments: [UInt64(0x86_0000_000A), 0x86_0000_0018, 0x86_0000_001C, 0x86_0000_0014])
func writesAndStringFormsChangeNoRegister(x7: UInt64) {
  var backdoor = Backdoor(host: FakeHost())
  var regs = BackdoorCall(x: [magic, 0x0001_0000, 20, 0x0001_5659, 0x1000, 0x2000, 0x3000, x7])
  let before = regs
  #expect(backdoor.handle(&regs) == .handled)
  #expect(regs == before)
  #expect(backdoor.channels.openChannelCount == 0)
}

@Test func shortRegisterArraysArePadded() {
  var backdoor = Backdoor(host: FakeHost())
  var regs = BackdoorCall(x: [magic])
  #expect(regs.x.count == 8)
  let before = regs
  #expect(backdoor.handle(&regs) == .handled)   // W7 = 0 is a valid `out 0, al`, which is ignored
  #expect(regs == before)
}
