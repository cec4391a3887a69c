import Testing
@testable import KeelSched

@Suite struct ShellDecisionsTests {
  let cpu0 = HostCPUID(0), cpu1 = HostCPUID(1)

  /// Two CPUs; VM 0 has two vCPUs, VM 1 one.
  func scheduler() throws -> Scheduler {
    try Scheduler(configuration: makeConfiguration(cpus: 2, vms: [vm("a", vcpus: 2), vm("b")]))
  }

  @Test func anUncontendedVCPUGetsNoSliceEnd() throws {
    var s = try scheduler()
    let r1 = s.start(VCPUID(0), now: 0)
    #expect(r1 == CPUMask(cpu0))
    let d = s.pickNext(cpu: cpu0, now: 0)!
    let r2 = s.timerDeadline(cpu: cpu0, now: 0, running: VMID(0))
    #expect(r2 == nil)
    #expect(!s.sliceArmed(on: cpu0))
    #expect(s.unarmedBusyCPUs() == CPUMask(cpu0))
    // An idle CPU takes the next vCPU: the busy one is left alone.
    let r3 = s.start(VCPUID(2), now: 1)
    #expect(r3 == CPUMask(cpu1))
    _ = s.pickNext(cpu: cpu1, now: 1)
    let r4 = s.timerDeadline(cpu: cpu1, now: 1, running: VMID(1))
    #expect(r4 == nil)
    // A third vCPU finds both CPUs busy, neither with a slice timer: both must arm one.
    let r5 = s.start(VCPUID(1), now: 2)
    #expect(r5 == CPUMask(rawValue: 0b11))
    let r6 = s.timerDeadline(cpu: cpu0, now: 2, running: VMID(0))
    #expect(r6 == 0 + d.slice)
    #expect(s.sliceArmed(on: cpu0))
    #expect(s.unarmedBusyCPUs() == CPUMask(cpu1))
    // An idle CPU counts as armed.
    let r7 = s.timerDeadline(cpu: cpu1, now: 2, running: nil)
    #expect(r7 == nil)
    #expect(s.unarmedBusyCPUs().isEmpty)
  }

  /// The IPI ping-pong: vCPU 1 sleeps on CPU 1; vCPU 0 on CPU 0 wakes it and then sleeps
  /// itself. CPU 0 picks first, but vCPU 1 was sent to CPU 1 and stays there.
  @Test func aVCPUSentToAnIdleCPUIsNotTakenByAnotherThatPicksFirst() throws {
    var s = try scheduler()
    _ = s.start(VCPUID(0), now: 0)
    _ = s.start(VCPUID(1), now: 0)
    #expect(s.pickNext(cpu: cpu0, now: 0)?.vcpu == VCPUID(0))
    #expect(s.pickNext(cpu: cpu1, now: 0)?.vcpu == VCPUID(1))
    s.block(VCPUID(1), until: nil, now: 1)
    #expect(s.pickNext(cpu: cpu1, now: 1) == nil)
    let d = s.deliver(0b10, to: VMID(0), paused: false, from: cpu0, now: 2)
    #expect(d.reschedule == CPUMask(cpu1))
    s.block(VCPUID(0), until: nil, now: 3)
    #expect(s.pickNext(cpu: cpu0, now: 3) == nil)
    #expect(s.pickNext(cpu: cpu1, now: 4)?.vcpu == VCPUID(1))
  }

  /// A claim lasts only until the CPU it names picks: if that CPU runs something else, the
  /// vCPU is anyone's again.
  @Test func aClaimEndsWhenItsCPUPicks() throws {
    var s = try scheduler()
    _ = s.start(VCPUID(0), now: 0)
    _ = s.start(VCPUID(1), now: 0)
    _ = s.pickNext(cpu: cpu0, now: 0)
    _ = s.pickNext(cpu: cpu1, now: 0)
    s.block(VCPUID(1), until: nil, now: 1)
    _ = s.pickNext(cpu: cpu1, now: 1)
    _ = s.deliver(0b10, to: VMID(0), paused: false, from: cpu0, now: 2)
    // CPU 1 picks VM 1's vCPU instead (started meanwhile, and further behind).
    _ = s.start(VCPUID(2), now: 2)
    s.claimedBy[1] = 1
    _ = s.pickNext(cpu: cpu1, now: 3)
    #expect(s.claimedBy[1] == -1)
    s.block(VCPUID(0), until: nil, now: 4)
    #expect(s.pickNext(cpu: cpu0, now: 4) != nil)
  }

  @Test func startingARunnableOrRunningVCPUKicksNothingNew() throws {
    var s = try scheduler()
    _ = s.start(VCPUID(0), now: 0)
    _ = s.pickNext(cpu: cpu0, now: 0)
    let r8 = s.start(VCPUID(0), now: 1)
    #expect(r8.isEmpty)
  }

  @Test func deliveryWakesSleepersAndInterruptsOtherCPUs() throws {
    var s = try scheduler()
    _ = s.start(VCPUID(0), now: 0)
    _ = s.start(VCPUID(1), now: 0)
    let first = s.pickNext(cpu: cpu0, now: 0)!.vcpu
    let second = s.pickNext(cpu: cpu1, now: 0)!.vcpu
    // Both running: the one on the delivering CPU takes the interrupt at its exit.
    var d = s.deliver(0b11, to: VMID(0), paused: false, from: cpu0, now: 1)
    #expect(d.reschedule.isEmpty)
    #expect(d.interrupt == CPUMask(first == VCPUID(0) ? cpu1 : cpu0))
    // Asleep: woken onto its own (now idle) CPU, which picks again.
    s.block(second, until: nil, now: 2)
    _ = s.pickNext(cpu: cpu1, now: 2)
    d = s.deliver(0b11, to: VMID(0), paused: false, from: nil, now: 3)
    #expect(d.reschedule == CPUMask(cpu1))
    #expect(d.interrupt == CPUMask(cpu0))
    // A paused VM's sleepers stay asleep; bits past the VM's vCPUs mean nothing.
    _ = s.pickNext(cpu: cpu1, now: 4)
    s.block(second, until: nil, now: 5)
    d = s.deliver(0b1111, to: VMID(0), paused: true, from: nil, now: 6)
    #expect(d.reschedule.isEmpty)
    #expect(s.state(of: second) == .blocked(until: nil))
  }

  @Test func aWokenVCPUWithNowhereToGoKicksUnarmedCPUs() throws {
    var s = try Scheduler(configuration: makeConfiguration(cpus: 1, vms: [vm("a"), vm("b")]))
    _ = s.start(VCPUID(0), now: 0)
    _ = s.start(VCPUID(1), now: 0)
    let running = s.pickNext(cpu: cpu0, now: 0)!.vcpu
    let other = VCPUID(1 - running.index)
    s.block(other, until: nil, now: 0)
    let r9 = s.timerDeadline(cpu: cpu0, now: 0, running: s.vm(of: running))
    #expect(r9 == nil)
    let d = s.deliver(1, to: s.vm(of: other), paused: false, from: nil, now: 1)
    // Woken onto the busy CPU it is biased to: that CPU picks again.
    #expect(d.reschedule == CPUMask(cpu0))
  }

  @Test func endingARunPowersOffAllButTheRunningVCPUs() throws {
    var s = try scheduler()
    for v in 0..<3 { _ = s.start(VCPUID(v), now: 0) }
    let running = s.pickNext(cpu: cpu1, now: 0)!.vcpu
    let vm = s.vm(of: running)
    #expect(s.hostCPUs(runningVCPUsOf: vm) == CPUMask(cpu1))
    let r10 = s.endRun(of: vm)
    #expect(r10 == CPUMask(cpu1))
    #expect(!s.allOff(vm))
    s.powerOff(running)
    #expect(s.allOff(vm))
    #expect(s.hostCPUs(runningVCPUsOf: vm).isEmpty)
  }

  @Test func aTickWakesDueSleepersElsewhere() throws {
    var s = try scheduler()
    _ = s.start(VCPUID(0), now: 0)
    _ = s.start(VCPUID(2), now: 0)
    let onCPU0 = s.pickNext(cpu: cpu0, now: 0)!.vcpu
    let onCPU1 = s.pickNext(cpu: cpu1, now: 0)!.vcpu
    s.block(onCPU1, until: 100, now: 1)
    _ = s.pickNext(cpu: cpu1, now: 1)
    // The caller's own CPU is never in the answer.
    let r11 = s.tick(cpu: cpu1, now: 200)
    #expect(r11 == CPUMask())
    #expect(s.state(of: onCPU1) == .runnable)
    #expect(s.state(of: onCPU0) == .running(cpu0))
    // CPU 1 picks it up again and goes idle once more.
    _ = s.pickNext(cpu: cpu1, now: 200)
    s.block(onCPU1, until: 300, now: 201)
    _ = s.pickNext(cpu: cpu1, now: 201)
    let r12 = s.tick(cpu: cpu0, now: 400)
    #expect(r12 == CPUMask(cpu1))
  }
}
