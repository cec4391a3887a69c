/// A ratio `numerator / denominator` stored as `multiplier / 2^shift` with a 128-bit multiplier
/// rounded up, so scaling costs two 64x64->128 multiplies and a shift, with no division.
///
/// Why 128 bits and rounding up: with `m = ceil(2^s * N / D)` the error term is below `D / 2^s`
/// per unit, and normalising `m` into [2^127, 2^128) makes `x * error < 1/D` for every 64-bit `x`
/// whenever `N < 2^63`. So `scale(x)` is *exactly* `floor(x * N / D)`, not an approximation, and
/// the inverse of a clock can be computed exactly (see `GuestClock.hostCount(forGuest:)`).
///
/// Building the multiplier needs a long division; it is done bit-serially because the EL2 image
/// links no compiler-rt (`__udivti3` is missing), so `UInt128 /` is unavailable there.
public struct FixedPointRatio: Sendable, Equatable {
  public let numerator: UInt64
  public let denominator: UInt64
  public let multiplierHigh: UInt64
  public let multiplierLow: UInt64
  /// 64...191.
  public let shift: UInt8

  /// - Precondition: both values are non-zero. Results are exact for `numerator < 2^63`.
  public init(numerator: UInt64, denominator: UInt64) {
    precondition(numerator != 0 && denominator != 0, "FixedPointRatio needs non-zero frequencies")
    self.numerator = numerator
    self.denominator = denominator
    let log2Numerator = 63 - numerator.leadingZeroBitCount
    let log2Denominator = 63 - denominator.leadingZeroBitCount
    // The ratio lies in (2^(e-1), 2^(e+1)), so this shift puts the quotient in [2^126, 2^128).
    var shift = 127 - (log2Numerator - log2Denominator)
    var quotient = Self.ceilingQuotient(numerator, shiftedLeftBy: shift, dividedBy: denominator)
    if quotient.high >> 63 == 0 {
      shift += 1
      quotient = Self.ceilingQuotient(numerator, shiftedLeftBy: shift, dividedBy: denominator)
    }
    if quotient.overflowed {   // ceil reached exactly 2^128: halve it instead of wrapping
      quotient = (1 << 63, 0, false)
      shift -= 1
    }
    self.multiplierHigh = quotient.high
    self.multiplierLow = quotient.low
    self.shift = UInt8(shift)
  }

  /// `floor(value * numerator / denominator)`, saturating at `UInt64.max`.
  public func scale(_ value: UInt64) -> UInt64 {
    let low = value.multipliedFullWidth(by: multiplierLow)
    let high = value.multipliedFullWidth(by: multiplierHigh)
    let (middle, carry) = high.low.addingReportingOverflow(low.high)
    let top = high.high &+ (carry ? 1 : 0)   // the 192-bit product cannot overflow
    let s = Int(shift)
    if s >= 128 { return top >> UInt64(s - 128) }
    let k = s - 64
    if k == 0 { return top == 0 ? middle : .max }
    if top >> UInt64(k) != 0 { return .max }
    return (top << UInt64(64 - k)) | (middle >> UInt64(k))
  }

  /// Whether `value * numerator / denominator` has no remainder (128-bit products compared).
  public func isExact(_ value: UInt64, scaledTo result: UInt64) -> Bool {
    let lhs = result.multipliedFullWidth(by: denominator)
    let rhs = value.multipliedFullWidth(by: numerator)
    return lhs.high == rhs.high && lhs.low == rhs.low
  }

  /// ceil((value << shift) / divisor), keeping the low 128 bits of the quotient (the caller's
  /// normalisation guarantees the true quotient is below 2^128).
  static func ceilingQuotient(_ value: UInt64, shiftedLeftBy shift: Int, dividedBy divisor: UInt64)
    -> (high: UInt64, low: UInt64, overflowed: Bool)
  {
    var remainder: UInt64 = 0
    var high: UInt64 = 0
    var low: UInt64 = 0
    for bitIndex in 0..<(64 + shift) {
      let nextBit: UInt64 = bitIndex < 64 ? (value >> UInt64(63 - bitIndex)) & 1 : 0
      let carriedOut = remainder >> 63
      remainder = (remainder << 1) | nextBit
      high = (high << 1) | (low >> 63)
      low <<= 1
      // A carried-out bit means the true remainder exceeds 2^64 > divisor; wrapping subtraction is exact.
      if carriedOut != 0 || remainder >= divisor {
        remainder &-= divisor
        low |= 1
      }
    }
    guard remainder != 0 else { return (high, low, false) }
    let (newLow, carry) = low.addingReportingOverflow(1)
    let (newHigh, overflow) = high.addingReportingOverflow(carry ? 1 : 0)
    return (newHigh, newLow, overflow)
  }
}
