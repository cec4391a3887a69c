#if os(none)
import CKeelEL2
import KeelSched
import KeelPSCI
import Synchronization
import KeelTime
import KeelVM

/// Ends the VM's current run: `.stopping` stops it (for `reason`), `.resetting` reboots it
/// (`reason` says who asked). Callable on any CPU, inside a trap of this VM or not. Returns
/// false if the VM was not running.
func endRun(_ vm: VM, _ next: RunState, reason: String) -> Bool {
  vm.lifecycleLock.lock()
  let ended = vm.lifecycle.end(next, reason: reason, now: keel_read_cntpct_el0())
  vm.lifecycleLock.unlock()
  if ended { finishEnding(vm) }
  return ended
}

/// After a run ended: vCPUs off a CPU stop at once, running ones at their next exit (their CPUs
/// are kicked), and the last one out finishes the job (`vcpuLeft`).
func finishEnding(_ vm: VM) {
  Sched.lock.lock()
  let kicks = Sched.policy.endRun(of: VMID(vm.id))
  Sched.lock.unlock()
  for host in kicks { Host.cpus[host.index].kick() }
  // A waiting vCPU may still be loaded on a sleeping CPU (`idleLoaded`): wake that CPU to drop it.
  for v in vm.vcpus {
    let holder = v.resident.load(ordering: .acquiring)
    if holder >= 0 { requestReschedule(CPUMask(HostCPUID(holder))) }
  }
  vcpuLeft(vm)
}

/// A vCPU of a stopping or rebooting VM is off its CPU. Once none is on a CPU or about to be
/// (all off in the policy, no hardware state anywhere), its counters are final: report the
/// stop, or reboot.
func vcpuLeft(_ vm: VM) {
  Sched.lock.lock()
  let out = Sched.policy.allOff(VMID(vm.id)) && vm.vcpus.allSatisfy { $0.resident.load(ordering: .acquiring) < 0 }
  Sched.lock.unlock()
  guard out else { return }
  vm.lifecycleLock.lock()
  let completion = vm.lifecycle.lastVCPULeft()
  vm.lifecycleLock.unlock()
  switch completion {
  case .stopped(let reason)?:
    vm.console.flush(ending: true)
    Sched.lock.lock()
    let ticks = Sched.policy.consumedTicks(of: VMID(vm.id))
    Sched.lock.unlock()
    for line in StatusText.stopReport(vm.name, reason: reason, exits: vm.exitTotals, cpuTicks: ticks, hz: Host.counterHz) { Console.log(line) }
    if !Host.vms.contains(where: { $0.state == .running || $0.state == .resetting }) {
      Console.log("all VMs stopped; powering off")
      Host.firmware.systemOff()
    }
  case .reboot(let reason)?:
    Console.log("\(vm.name): \(reason); rebooting")
    boot(vm)
  case nil:
    break
  }
}

/// (Re)starts a VM whose vCPUs are all off: guest RAM gets the kernel, initrd and DTB again, the
/// vGIC starts afresh, and vCPU 0 enters at the image's entry.
func boot(_ vm: VM) {
  loadBootImage(vm)
  vm.devicesLock.lock()
  vm.devices.resetInterrupts()
  vm.devicesLock.unlock()
  let now = keel_read_cntpct_el0()
  vm.lifecycleLock.lock()
  for c in vm.vcpus {
    c.power = .off
    c.listRegistersInUse = 0
  }
  vm.counterOffset = now
  if let clock = vm.clock { vm.clock = GuestClock(hostHz: clock.hostHz, guestHz: clock.guestHz, hostNow: now) }
  vm.vcpus[0].powerOnAtEntry()
  vm.lifecycle.booted()
  vm.lifecycleLock.unlock()
  vm.accountingLock.lock()
  vm.accounting.bootedAt = now
  vm.accountingLock.unlock()
  powerOn(vm.vcpus[0])
}
#endif
