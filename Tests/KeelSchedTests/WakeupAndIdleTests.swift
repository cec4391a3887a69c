import Testing
@testable import KeelSched

let ms: UInt64 = 62_500

@Test func wakeupLatencyOnABusyCPU() throws {
  let config = makeConfiguration(cpus: 1, vms: [vm("hog1"), vm("hog2"), vm("hog3", shares: .high), vm("interactive")])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound, .cpuBound,
                                              .periodic(run: ms / 5, sleep: 10 * ms)])
  let use = sim.measureVMs(for: tenSeconds)
  let worst = sim.wakeLatencies.max()!
  report("interactive (0.2 ms per 10 ms) vs 3 hogs on 1 CPU: use", use)
  print("[KeelSched]   wake-ups \(sim.wakeLatencies.count), worst latency \(worst) ticks (\(worst * 1000 / ms) µs)")
  #expect(sim.wakeLatencies.count > 900)
  #expect(worst <= config.tuning.minimumSlice, "a timer wake-up waited \(worst) ticks")
  #expect(use[3] > 0.019, "the interactive vCPU did not get the little CPU it needs")
}

@Test func externalWakeupPreemptsOnTwoBusyCPUs() throws {
  let config = makeConfiguration(cpus: 2, vms: [vm("a", vcpus: 2), vm("b", vcpus: 2), vm("io")])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound, .cpuBound, .cpuBound, .cpuBound])
  let io = sim.scheduler.vcpu(0, of: VMID(2))
  sim.run(for: 100 * ms)
  for round in 0..<50 {
    sim.blockIndefinitely(io)
    sim.scriptedWakes.append((at: sim.now + 37 * ms + UInt64(round) * 1_000, vcpu: io))   // off the slice grid
    sim.run(for: 40 * ms)
  }
  let worst = sim.wakeLatencies.max()!
  print("[KeelSched] interrupt wake-up on 2 busy CPUs: \(sim.wakeLatencies.count) wake-ups, worst \(worst * 1000 / ms) µs")
  #expect(sim.wakeLatencies.count == 50)
  #expect(worst == 0, "the woken vCPU should preempt at once (kick)")
}

@Test func longSleeperDoesNotStarveOthers() throws {
  let config = makeConfiguration(cpus: 1, vms: [vm("sleeper"), vm("worker")])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound])
  sim.blockIndefinitely(sim.scheduler.vcpu(0, of: VMID(0)))
  sim.run(for: 5 * 1000 * ms)
  sim.scriptedWakes.append((at: sim.now, vcpu: sim.scheduler.vcpu(0, of: VMID(0))))
  let first = sim.measureVMs(for: 50 * ms)
  let after = sim.measureVMs(for: 1000 * ms)
  report("after 5 s asleep: first 50 ms (sleeper, worker)", first)
  report("  following second", after)
  // The sleeper's credit is capped (2 ms of virtual time), so the worker keeps ~half from the start.
  #expect(first[1] > 0.4)
  #expect(abs(after[0] - 0.5) < 0.01)
}

@Test func idleGuestsCostNothing() throws {
  var scheduler = try Scheduler(configuration: makeConfiguration(cpus: 2, vms: [vm("a", vcpus: 2), vm("b")]))
  let cpu0 = HostCPUID(0), cpu1 = HostCPUID(1)
  for v in 0..<3 { _ = scheduler.powerOn(VCPUID(v), now: 0) }
  let first = scheduler.pickNext(cpu: cpu0, now: 0)!
  let second = scheduler.pickNext(cpu: cpu1, now: 0)!
  scheduler.account(vcpu: first.vcpu, ran: 10, now: 10)
  scheduler.block(first.vcpu, until: nil, now: 10)
  scheduler.account(vcpu: second.vcpu, ran: 10, now: 10)
  scheduler.block(second.vcpu, until: 500 * ms, slack: 0, now: 10)
  // The third vCPU runs next on CPU 0, then blocks with a deep-sleep slack.
  let third = scheduler.pickNext(cpu: cpu0, now: 10)!
  #expect(scheduler.pickNext(cpu: cpu1, now: 10) == nil)
  scheduler.block(third.vcpu, until: 490 * ms, slack: 20 * ms, now: 20)
  #expect(scheduler.pickNext(cpu: cpu0, now: 20) == nil)
  // Nothing runnable: CPU 0 sleeps to the coalesced deadline (490 + 20 slack), CPU 1 to 500 ms.
  #expect(scheduler.nextEvent(cpu: cpu0, now: 20) == 510 * ms)
  #expect(scheduler.nextEvent(cpu: cpu1, now: 20) == 500 * ms)
  // At 500 ms CPU 1 wakes: its own vCPU is due and the sleeper of CPU 0 is past its deadline too.
  let kicks = scheduler.handleTimers(now: 500 * ms)
  #expect(kicks.count == 2)
  #expect(scheduler.state(of: third.vcpu) == .runnable && scheduler.state(of: second.vcpu) == .runnable)
  // Blocked without any deadline: no timer at all.
  #expect(scheduler.nextEvent(cpu: cpu0, now: 500 * ms) == nil || kicks.contains(cpu0))
  #expect(scheduler.state(of: first.vcpu) == .blocked(until: nil))
}

@Test func fourIdleVMsUseAlmostNoHostCPU() throws {
  // Idle Linux guests: a few µs of work per 100 ms timer tick (NO_HZ idle), with slack.
  let config = makeConfiguration(cpus: 2, vms: [vm("a"), vm("b"), vm("c"), vm("d")])
  var sim = try Simulator(config, behaviours: [Behaviour](repeating: .periodic(run: ms / 20, sleep: 100 * ms, slack: ms), count: 4))
  let use = sim.measureVMs(for: tenSeconds)
  let interrupts = sim.timerInterrupts.reduce(0, +)
  report("4 idle VMs on 2 CPUs (50 µs per 100 ms)", use)
  print("[KeelSched]   host timer interrupts in 10 s: \(interrupts) (guest ticks: \(4 * 100))")
  #expect(use.allSatisfy { $0 < 0.001 })
  #expect(interrupts <= 4 * 100 + 8, "the host woke more often than its guests asked")
}

@Test func migrationToAnIdleCPU() throws {
  var scheduler = try Scheduler(configuration: makeConfiguration(cpus: 2, vms: [vm("a", vcpus: 2), vm("b", vcpus: 2)]))
  let cpu0 = HostCPUID(0), cpu1 = HostCPUID(1)
  // All four vCPUs start; CPU 1 is told nothing (its kicks are dropped, as if the IPI was lost).
  for v in 0..<4 { _ = scheduler.powerOn(VCPUID(v), now: 0) }
  let running = scheduler.pickNext(cpu: cpu0, now: 0)!
  _ = scheduler.pickNext(cpu: cpu1, now: 0)
  scheduler.account(vcpu: running.vcpu, ran: 4 * ms, now: 4 * ms)
  #expect(scheduler.nextMigration(now: 4 * ms) == nil, "no CPU is idle")
  // CPU 1 runs out of work: its vCPU blocks.
  let onCPU1 = scheduler.running(on: cpu1)!
  scheduler.block(onCPU1, until: nil, now: 4 * ms)
  #expect(scheduler.pickNext(cpu: cpu1, now: 4 * ms) != nil, "CPU 1 steals a waiting vCPU at once")
  let stolen = scheduler.running(on: cpu1)!
  scheduler.block(stolen, until: nil, now: 5 * ms)
  #expect(scheduler.pickNext(cpu: cpu1, now: 5 * ms) != nil)
  let last = scheduler.running(on: cpu1)!
  scheduler.block(last, until: nil, now: 6 * ms)
  #expect(scheduler.pickNext(cpu: cpu1, now: 6 * ms) == nil)   // CPU 1 idle now
  // The vCPU on CPU 0 is the only one left; block it, wake another: the idle CPU 1 gets it.
  let woken = stolen
  #expect(scheduler.wake(woken, now: 7 * ms) == cpu1)
  let dispatch = scheduler.pickNext(cpu: cpu1, now: 7 * ms)
  #expect(dispatch?.vcpu == woken)
  // Periodic rebalancing: a runnable vCPU parked on a busy CPU moves to the idle one.
  _ = scheduler.wake(last, now: 8 * ms)                        // goes to CPU 0 or waits (both busy)
  scheduler.account(vcpu: woken, ran: ms, now: 8 * ms)
  scheduler.block(woken, until: nil, now: 8 * ms)
  #expect(scheduler.pickNext(cpu: cpu1, now: 8 * ms)?.vcpu == last, "idle CPU 1 steals the waiting vCPU")
}

@Test func rebalanceMovesWorkToIdleCPUs() throws {
  var scheduler = try Scheduler(configuration: makeConfiguration(cpus: 3, vms: [vm("a", vcpus: 3)]))
  let cpu0 = HostCPUID(0)
  for v in 0..<3 { _ = scheduler.powerOn(VCPUID(v), now: 0) }   // kicks ignored
  let first = scheduler.pickNext(cpu: cpu0, now: 0)!
  // CPUs 1 and 2 never picked (lost kicks): rebalancing sends one waiting vCPU to each.
  var moves: [Migration] = []
  while let move = scheduler.nextMigration(now: ms) { moves.append(move) }
  #expect(moves.count == 2)
  #expect(Set(moves.map { $0.to }) == [HostCPUID(1), HostCPUID(2)])
  #expect(!moves.contains { $0.vcpu == first.vcpu })
  for move in moves {
    let dispatch = scheduler.pickNext(cpu: move.to, now: ms)
    #expect(dispatch?.vcpu == move.vcpu)
  }
}

@Test func migrationIsReportedWhenAVCPUChangesCPU() throws {
  // 3 vCPUs on 2 CPUs: some vCPU must eventually run on both CPUs; the shell is told.
  let config = makeConfiguration(cpus: 2, vms: [vm("a"), vm("b"), vm("c")])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound, .cpuBound])
  let use = sim.measureVMs(for: tenSeconds)
  report("3 x 1 vCPU on 2 CPUs", use)
  print("[KeelSched]   dispatches \(sim.dispatches), migrations \(sim.migrations)")
  for share in use { #expect(abs(share - 2.0 / 3) < 0.02) }
  #expect(sim.migrations > 0)
}

@Test func aVCPUWithoutCompetitionNeedsNoSliceEnd() throws {
  var scheduler = try Scheduler(configuration: makeConfiguration(cpus: 1, vms: [vm("a"), vm("b"), vm("capped", max: 500)]))
  let a = scheduler.vcpu(0, of: VMID(0)), b = scheduler.vcpu(0, of: VMID(1))
  let cpu = HostCPUID(0)
  _ = scheduler.powerOn(a, now: 0)
  #expect(scheduler.pickNext(cpu: cpu, now: 0)?.vcpu == a)
  // Alone: the shell may run it without a slice timer; the slice end is still known on request.
  #expect(!scheduler.hasWaitingWork())
  #expect(scheduler.nextEvent(cpu: cpu, now: 0, sliceEnds: false) == nil)
  #expect(scheduler.nextEvent(cpu: cpu, now: 0) != nil)
  // A competitor appears: now the slice end matters.
  _ = scheduler.powerOn(b, now: ms)
  #expect(scheduler.hasWaitingWork())
  // A blocked vCPU's deadline is an event whether or not slices end.
  scheduler.block(b, until: 50 * ms, now: ms)
  #expect(!scheduler.hasWaitingWork())
  #expect(scheduler.nextEvent(cpu: cpu, now: ms, sliceEnds: false) == 50 * ms)
  #expect(!scheduler.isLimited(VMID(0)) && scheduler.isLimited(VMID(2)))
}
