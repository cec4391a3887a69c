#if os(none)
import CKeelEL2
import KeelBackdoor
import KeelVM

/// What the backdoor needs from Keel for one VM.
struct VMBackdoorHost: BackdoorHost {
  let memoryMiB: UInt32
  let identity: [UInt8]
  func wallClock() -> (seconds: UInt64, microseconds: UInt32) { Host.wallClock.now() }
  /// No firmware on QEMU virt reports a CPU clock; Keel reports a nominal 1000 MHz.
  var cpuMHz: UInt32 { 1000 }
  var memorySizeMiB: UInt32 { memoryMiB }
  var uuid: [UInt8] { identity }
  mutating func log(_ text: [UInt8]) {}
}

func makeBackdoor(for vm: VM) -> Backdoor<VMBackdoorHost> {
  // A stable per-VM UUID derived from its name (FNV-1a), version 4 / variant bits set.
  var hash: UInt64 = 0xCBF2_9CE4_8422_2325
  var uuid: [UInt8] = []
  for round in 0..<2 {
    for b in vm.definition.name + [UInt8(round)] { hash = (hash ^ UInt64(b)) &* 0x100_0000_01B3 }
    for k in 0..<8 { uuid.append(UInt8(truncatingIfNeeded: hash >> UInt64(8 * k))) }
  }
  uuid[6] = uuid[6] & 0x0F | 0x40
  uuid[8] = uuid[8] & 0x3F | 0x80
  var info = GuestInfoStore()
  for entry in vm.definition.guestInfo { _ = info.setValue(entry.value, forKey: entry.key) }
  return Backdoor(host: VMBackdoorHost(memoryMiB: UInt32(truncatingIfNeeded: vm.definition.memoryMiB), identity: uuid), guestInfo: info)
}

/// One backdoor I/O from this vCPU (X0–X7). Returns false if it is not a well-formed call.
func runBackdoor(_ v: VCPU) -> Bool {
  var call = BackdoorCall(x: (0..<8).map { v.gpr($0) })
  let vm = v.vm
  vm.devicesLock.lock()
  let outcome = vm.backdoor.handle(&call)
  vm.devicesLock.unlock()
  guard outcome == .handled else { return false }
  v.exits.backdoor += 1
  for n in 0..<8 { v.setGPR(n, call.x[n]) }
  return true
}
#endif
