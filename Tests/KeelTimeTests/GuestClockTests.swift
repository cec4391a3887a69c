import Testing
@testable import KeelTime

/// Deterministic generator so property failures reproduce.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Reference: floor(delta * guestHz / hostHz) in exact 128-bit host arithmetic.
func exactGuestTicks(_ delta: UInt64, hostHz: UInt64, guestHz: UInt64) -> UInt128 {
  UInt128(delta) * UInt128(guestHz) / UInt128(hostHz)
}

let secondsPer100Years: UInt64 = 36_525 * 86_400  // 100 Julian years
let hostFrequencies: [UInt64] = [1_000_000, 1_000_003, 19_200_000, 24_000_000, 25_000_000, 54_000_000,
                                 62_500_000, 100_000_000, 999_999_937, 1_000_000_000]

@Test func ceilingQuotientMatchesWideArithmetic() {
  var rng = SplitMix64(state: 1)
  for _ in 0..<2_000 {
    let divisor = rng.next() >> (rng.next() % 64) | 1
    let value = rng.next() >> (rng.next() % 64)
    let shift = Int(rng.next() % UInt64(129 - (64 - value.leadingZeroBitCount)))
    let dividend = UInt128(value) << shift
    let floor = dividend / UInt128(divisor)
    let expected = dividend % UInt128(divisor) == 0 ? floor : floor + 1
    let got = FixedPointRatio.ceilingQuotient(value, shiftedLeftBy: shift, dividedBy: divisor)
    #expect(!got.overflowed)
    #expect((UInt128(got.high) << 64 | UInt128(got.low)) == expected)
  }
}

@Test(arguments: hostFrequencies)
func scalingIsAnExactFloor(hostHz: UInt64) {
  var rng = SplitMix64(state: hostHz)
  for guestHz in [UInt64(1), 1_000_000, 24_000_000, 1_000_000_000, hostHz, 3_000_000_007] {
    let ratio = FixedPointRatio(numerator: guestHz, denominator: hostHz)
    #expect(ratio.multiplierHigh >> 63 == 1)
    for _ in 0..<500 {
      let delta = rng.next() >> (rng.next() % 64)
      let exact = exactGuestTicks(delta, hostHz: hostHz, guestHz: guestHz)
      let scaled = ratio.scale(delta)
      #expect(exact > UInt128(UInt64.max) ? scaled == .max : UInt128(scaled) == exact,
              "delta \(delta) host \(hostHz) guest \(guestHz)")
      let product = UInt128(delta) * UInt128(guestHz)
      #expect(ratio.isExact(delta, scaledTo: scaled) == (exact <= UInt128(UInt64.max) && product % UInt128(hostHz) == 0))
    }
    let multiple = (rng.next() % 1_000_000) * hostHz
    #expect(UInt128(ratio.scale(multiple)) == UInt128(multiple / hostHz) * UInt128(guestHz))
  }
}

@Test(arguments: hostFrequencies)
func hundredYearsAtOneGigahertzDoNotOverflow(hostHz: UInt64) {
  let guestHz: UInt64 = 1_000_000_000
  let start: UInt64 = 0x1234_5678_9ABC
  let clock = GuestClock(hostHz: hostHz, guestHz: guestHz, hostNow: start)
  let hostDelta = secondsPer100Years * hostHz
  let guest = clock.guestCount(atHost: start + hostDelta)
  let exact = exactGuestTicks(hostDelta, hostHz: hostHz, guestHz: guestHz)
  #expect(exact < UInt128(UInt64.max))
  #expect(UInt128(guest) == exact)
  let back = clock.hostCount(forGuest: guest)
  #expect(back <= start + hostDelta)
  #expect(clock.guestCount(atHost: back) == guest)
}

@Test(arguments: hostFrequencies)
func inverseIsTheEarliestHostCount(hostHz: UInt64) {
  var rng = SplitMix64(state: ~hostHz)
  for guestHz in [UInt64(1_000_000), 62_500_000, 1_000_000_000] {
    let start = rng.next() >> 8
    let clock = GuestClock(hostHz: hostHz, guestHz: guestHz, hostNow: start)
    let maxGuest = secondsPer100Years * guestHz
    for _ in 0..<300 {
      let guest = rng.next() % maxGuest + 1
      let host = clock.hostCount(forGuest: guest)
      #expect(clock.guestCount(atHost: host) >= guest)
      #expect(host > start)
      #expect(clock.guestCount(atHost: host - 1) < guest, "guest \(guest) at \(hostHz)->\(guestHz)")

      let someHost = start + rng.next() % (secondsPer100Years * hostHz)
      let reading = clock.guestCount(atHost: someHost)
      let earliest = clock.hostCount(forGuest: reading)
      #expect(earliest <= someHost)
      #expect(clock.guestCount(atHost: earliest) == reading)
    }
  }
}

@Test func startsAtZeroAndClampsEarlierReadings() {
  let clock = GuestClock(hostHz: 24_000_000, guestHz: 1_000_000_000, hostNow: 5_000)
  #expect(clock.guestCount(atHost: 5_000) == 0)
  #expect(clock.guestCount(atHost: 0) == 0)
  #expect(clock.guestCount(atHost: 5_000 + 24_000_000) == 1_000_000_000)
  #expect(clock.hostCount(forGuest: 0) == 5_000)
}

@Test func pauseFreezesAndResumeContinues() {
  var clock = GuestClock(hostHz: 1_000_000, guestHz: 1_000_000_000, hostNow: 100)
  clock.pause(atHost: 1_100)
  let frozen = clock.guestCount(atHost: 1_100)
  #expect(frozen == 1_000_000)
  #expect(clock.isPaused)
  #expect(clock.guestCount(atHost: 50_000) == frozen)
  #expect(clock.hostCount(forGuest: frozen + 1) == .max)
  #expect(clock.hostCount(forGuest: frozen) == 1_100)
  clock.pause(atHost: 60_000)   // a second pause is ignored
  clock.resume(atHost: 90_000)
  #expect(clock.guestCount(atHost: 90_000) == frozen)
  #expect(clock.guestCount(atHost: 90_010) == frozen + 10_000)
  #expect(clock.hostCount(forGuest: frozen + 10_000) == 90_010)
}

@Test func hostStepsKeepTheGuestContinuous() {
  var rng = SplitMix64(state: 77)
  for _ in 0..<200 {
    var clock = GuestClock(hostHz: 19_200_000, guestHz: 1_000_000_000, hostNow: 1 << 40)
    let host = (1 << 40) + rng.next() % (1 << 36)
    let before = clock.guestCount(atHost: host)
    let delta = Int64(bitPattern: rng.next()) >> 26
    clock.hostCounterStepped(by: delta)
    let steppedHost = delta >= 0 ? host + UInt64(delta) : host - delta.magnitude
    #expect(clock.guestCount(atHost: steppedHost) == before)
  }
}

@Test func identityOffsetMatchesCNTVOFFSemantics() {
  var clock = GuestClock(hostHz: 62_500_000, guestHz: 62_500_000, hostNow: 1_000)
  #expect(clock.identityOffset == 1_000)
  clock.pause(atHost: 3_000)
  #expect(clock.identityOffset == nil)
  clock.resume(atHost: 10_000)
  let offset = clock.identityOffset ?? 0
  #expect(clock.guestCount(atHost: 12_345) == 12_345 &- offset)
  #expect(GuestClock(hostHz: 1, guestHz: 2, hostNow: 0).identityOffset == nil)
}

@Test(arguments: [UInt64(1_000_000), 24_000_000, 1_000_000_000])
func guestTimeIsMonotonicOverRandomHistories(hostHz: UInt64) {
  var rng = SplitMix64(state: hostHz &* 31)
  for _ in 0..<50 {
    var host: UInt64 = rng.next() >> 4
    var clock = GuestClock(hostHz: hostHz, guestHz: 1_000_000_000, hostNow: host)
    var last = clock.guestCount(atHost: host)
    for _ in 0..<200 {
      switch rng.next() % 5 {
      case 0: clock.pause(atHost: host)
      case 1: clock.resume(atHost: host)
      case 2:
        let delta = Int64(bitPattern: rng.next()) >> 30
        if delta < 0 && host < delta.magnitude { break }
        host = delta >= 0 ? host + UInt64(delta) : host - delta.magnitude
        clock.hostCounterStepped(by: delta)
      default: host += rng.next() % (hostHz / 10)
      }
      let paused = clock.isPaused
      let now = clock.guestCount(atHost: host)
      #expect(now >= last)
      if paused { #expect(now == last) }
      last = now
    }
  }
}
