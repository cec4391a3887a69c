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
  let host = VMBackdoorHost(memoryMiB: UInt32(truncatingIfNeeded: vm.definition.memoryMiB), identity: VMIdentity.uuid(name: vm.definition.name))
  return Backdoor(host: host, guestInfo: GuestInfoStore(vm.definition.guestInfo))
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
