import Testing
import KeelArch
@testable import KeelDevices

typealias RTC = PL031Register

@Suite struct PL031Tests {
  let epoch2026: UInt64 = 1_780_000_000

  @Test func identifiesAsAPL031() {
    var rtc = PL031(irq: EdgeCountingLine())
    var id: UInt32 = 0, cell: UInt32 = 0
    for i in 0..<4 {
      id |= rtc.read(at: 0xFE0 + UInt16(4 * i), now: 0) << UInt32(8 * i)
      cell |= rtc.read(at: 0xFF0 + UInt16(4 * i), now: 0) << UInt32(8 * i)
    }
    #expect(id == 0x0014_1031)
    #expect(cell == 0xB105_F00D)
    #expect(rtc.read(at: RTC.control, now: 0) == 1, "started from reset, as on QEMU virt")
  }

  @Test func countsTheSourceSecondsAndFollowsALoad() {
    var rtc = PL031(irq: EdgeCountingLine())
    #expect(rtc.read(at: RTC.data, now: epoch2026) == UInt32(epoch2026))
    #expect(rtc.read(at: RTC.data, now: epoch2026 + 5) == UInt32(epoch2026 + 5))
    // hwclock --systohc: the guest sets its RTC back by an hour.
    rtc.write(UInt32(epoch2026 + 5 - 3600), at: RTC.load, now: epoch2026 + 5)
    #expect(rtc.read(at: RTC.load, now: epoch2026 + 5) == UInt32(epoch2026 + 5 - 3600))
    #expect(rtc.read(at: RTC.data, now: epoch2026 + 65) == UInt32(epoch2026 + 65 - 3600))
  }

  @Test func matchRaisesTheLineOnlyWhenUnmasked() {
    var rtc = PL031(irq: EdgeCountingLine())
    rtc.write(UInt32(epoch2026 + 10), at: RTC.match, now: epoch2026)
    rtc.update(now: epoch2026 + 9)
    #expect(rtc.read(at: RTC.ris, now: epoch2026 + 9) == 0)
    // The count passes the match between two looks: it still matched.
    #expect(rtc.read(at: RTC.ris, now: epoch2026 + 12) == 1)
    #expect(rtc.read(at: RTC.mis, now: epoch2026 + 12) == 0)
    #expect(rtc.irq.risingEdges == 0)
    rtc.write(1, at: RTC.imsc, now: epoch2026 + 12)
    #expect(rtc.irq.level && rtc.irq.risingEdges == 1)
    #expect(rtc.read(at: RTC.mis, now: epoch2026 + 12) == 1)
    rtc.write(1, at: RTC.icr, now: epoch2026 + 13)
    #expect(!rtc.irq.level)
    #expect(rtc.read(at: RTC.ris, now: epoch2026 + 14) == 0, "the match went by once; it does not latch again")
  }

  @Test func aMatchAtTheCurrentCountFiresAtOnce() {
    var rtc = PL031(irq: EdgeCountingLine())
    rtc.write(1, at: RTC.imsc, now: epoch2026)
    rtc.write(UInt32(epoch2026), at: RTC.match, now: epoch2026)
    #expect(rtc.irq.level)
  }

  /// A device access of any size reaches the register word (sub-word loads shift into place).
  @Test func busDeviceReadsThroughItsTimeSource() {
    final class FixedTime: RealTimeSource {
      var seconds: UInt64 = 0x6A1B_2C3D
      func secondsSinceEpoch() -> UInt64 { seconds }
    }
    let time = FixedTime()
    let device = RTCDevice(queue: EffectQueue(), intid: 34, time: time)
    #expect(device.read(at: 0, size: .word, vcpu: 0) == 0x6A1B_2C3D)
    #expect(device.read(at: 1, size: .byte, vcpu: 0) == 0x2C)
    time.seconds += 1
    #expect(device.read(at: 0, size: .word, vcpu: 0) == 0x6A1B_2C3E)
  }
}
