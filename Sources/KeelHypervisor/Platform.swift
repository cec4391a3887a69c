#if os(none)
import CKeelEL2
import _Volatile
import KeelVM
import Synchronization
import KeelDevices

/// 32/64-bit volatile MMIO at an identity-mapped physical address.
enum MMIO {
  @inline(__always) static func read32(_ address: UInt64) -> UInt32 {
    unsafe VolatileMappedRegister<UInt32>(unsafeBitPattern: UInt(address)).load()
  }
  @inline(__always) static func write32(_ address: UInt64, _ value: UInt32) {
    unsafe VolatileMappedRegister<UInt32>(unsafeBitPattern: UInt(address)).store(value)
  }
  @inline(__always) static func read64(_ address: UInt64) -> UInt64 {
    unsafe VolatileMappedRegister<UInt64>(unsafeBitPattern: UInt(address)).load()
  }
  @inline(__always) static func write64(_ address: UInt64, _ value: UInt64) {
    unsafe VolatileMappedRegister<UInt64>(unsafeBitPattern: UInt(address)).store(value)
  }
}

/// A test-and-set lock. Waiters sleep in WFE (woken by the SEV in `unlock`): under QEMU's
/// icount mode a busy loop without WFE/YIELD would starve the CPU holding the lock.
struct SpinLock: ~Copyable {
  private let word = Atomic<UInt32>(0)
  init() {}
  func lock() {
    while true {
      if word.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged { return }
      while word.load(ordering: .relaxed) != 0 { keel_wfe() }
    }
  }
  func unlock() {
    word.store(0, ordering: .releasing)
    keel_sev()
  }
}

/// The hypervisor's console on the host PL011, shared by Keel's lines and the guests' output
/// (`ConsoleFraming`).
enum Console {
  nonisolated(unsafe) static var framing = ConsoleFraming()
  static let lock = SpinLock()

  static func put(_ byte: UInt8) { _ = putchar(Int32(byte)) }

  static func log(_ text: String) {
    lock.lock()
    framing.log(text, put: put)
    lock.unlock()
  }

  static func guestLine(_ name: String, _ line: [UInt8]) {
    lock.lock()
    framing.guestLine(name, line, put: put)
    lock.unlock()
  }

  static func raw(_ text: String) {
    lock.lock()
    framing.raw(text, put: put)
    lock.unlock()
  }

  static func guestByte(_ b: UInt8) {
    lock.lock()
    framing.guestByte(b, put: put)
    lock.unlock()
  }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }

/// The host's PSCI firmware interface (QEMU's emulated firmware on virt).
struct HostFirmware {
  let useHVC: Bool
  func call(_ x0: UInt64, _ x1: UInt64 = 0, _ x2: UInt64 = 0, _ x3: UInt64 = 0) -> UInt64 {
    useHVC ? keel_hvc(x0, x1, x2, x3) : keel_smc(x0, x1, x2, x3)
  }
  func cpuOn(_ mpidr: UInt64, entry: UInt64, context: UInt64) -> Int64 {
    Int64(bitPattern: call(0xC400_0003, mpidr, entry, context))
  }
  func systemOff() -> Never {
    _ = call(0x8400_0008)
    while true { keel_wfi() }
  }
}
#endif

#if os(none)
/// Host wall-clock time: the PL031 RTC's seconds, read once at boot, advanced by the counter.
struct WallClock {
  var bootSeconds: UInt64 = 0
  var bootCount: UInt64 = 0

  init() {}
  init(rtc base: UInt64) {
    // RTCDR (offset 0) counts seconds since the Unix epoch on QEMU virt (from -rtc base=…).
    bootSeconds = UInt64(MMIO.read32(base))
    bootCount = keel_read_cntpct_el0()
  }

  func now() -> (seconds: UInt64, microseconds: UInt32) { at(count: keel_read_cntpct_el0()) }

  func at(count: UInt64) -> (seconds: UInt64, microseconds: UInt32) {
    let hz = Host.counterHz
    let ticks = count &- bootCount
    let seconds = ticks / hz
    let micros = (ticks % hz) * 1_000_000 / hz
    return (bootSeconds + seconds, UInt32(micros))
  }
}

/// What a VM's RTC counts: the host's wall clock, less the time the VM spent paused. As with
/// ESXi's virtual RTC, a VM's time (its counter, its RTC) does not advance while it is paused;
/// a guest that wants real time again after a pause syncs it (NTP, open-vm-tools).
final class VMRealTime: RealTimeSource {
  var pausedTicks: UInt64 = 0
  func secondsSinceEpoch() -> UInt64 { Host.wallClock.at(count: keel_read_cntpct_el0() &- pausedTicks).seconds }
}
#endif
