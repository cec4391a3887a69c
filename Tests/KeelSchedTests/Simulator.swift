import KeelSched

/// What a simulated guest vCPU does with the CPU it is given.
enum Behaviour {
  /// Never blocks.
  case cpuBound
  /// Runs `run` ticks of CPU, then sleeps `sleep` ticks on its guest timer (WFI with a deadline).
  case periodic(run: UInt64, sleep: UInt64, slack: UInt64 = 0)
  /// Stays powered off.
  case off
}

/// A deterministic event-driven model of the hypervisor shell: a fake counter, one timer per host
/// CPU programmed from `nextEvent`, IPIs as immediate reschedules, and guests that burn CPU or sleep.
struct Simulator {
  var scheduler: Scheduler
  let ticksPerSecond: UInt64
  var now: UInt64 = 0
  var current: [VCPUID?]
  var since: [UInt64]
  var timerAt: [UInt64]
  var behaviour: [Behaviour]
  var burstLeft: [UInt64]
  var sleepDeadline: [UInt64?]
  var externalWakeAt: [UInt64?]
  /// Scripted interrupts for blocked vCPUs: (time, vCPU), kept sorted by time.
  var scriptedWakes: [(at: UInt64, vcpu: VCPUID)] = []
  var wakeLatencies: [UInt64] = []
  var timerInterrupts: [Int]
  var dispatches = 0
  /// Per vCPU: how often it came onto a CPU that last ran another vCPU.
  var switchIns: [Int]
  var migrations = 0

  init(_ configuration: SchedulerConfiguration, behaviours: [Behaviour]) throws(AdmissionError) {
    scheduler = try Scheduler(configuration: configuration)
    ticksPerSecond = configuration.ticksPerSecond
    let cpus = configuration.hostCPUCount
    precondition(behaviours.count == scheduler.vcpuCount)
    current = [VCPUID?](repeating: nil, count: cpus)
    since = [UInt64](repeating: 0, count: cpus)
    timerAt = [UInt64](repeating: .max, count: cpus)
    timerInterrupts = [Int](repeating: 0, count: cpus)
    switchIns = [Int](repeating: 0, count: behaviours.count)
    behaviour = behaviours
    burstLeft = [UInt64](repeating: 0, count: behaviours.count)
    sleepDeadline = [UInt64?](repeating: nil, count: behaviours.count)
    externalWakeAt = [UInt64?](repeating: nil, count: behaviours.count)
    var kicks = CPUMask()
    for v in 0..<behaviours.count {
      if case .periodic(let run, _, _) = behaviours[v] { burstLeft[v] = run }
      if case .off = behaviours[v] { continue }
      if let cpu = scheduler.powerOn(VCPUID(v), now: 0) { kicks.insert(cpu) }
    }
    reschedule(kicks)
  }

  func ticks(milliseconds: UInt64) -> UInt64 { ticksPerSecond * milliseconds / 1000 }
  func ticks(microseconds: UInt64) -> UInt64 { ticksPerSecond * microseconds / 1_000_000 }

  /// Blocks a vCPU without a deadline at the current time (it waits for an interrupt).
  mutating func blockIndefinitely(_ vcpu: VCPUID) {
    accountAll()
    let wasRunningOn = current.firstIndex { $0 == vcpu }
    scheduler.block(vcpu, until: nil, now: now)
    if let c = wasRunningOn { reschedule(CPUMask(HostCPUID(c))) }
  }

  mutating func run(for duration: UInt64) { run(until: now + duration) }

  mutating func run(until end: UInt64) {
    while true {
      var t = end
      for c in current.indices {
        t = min(t, timerAt[c])
        if let v = current[c], case .periodic = behaviour[v.index] { t = min(t, since[c] + burstLeft[v.index]) }
      }
      if let first = scriptedWakes.first { t = min(t, first.at) }
      precondition(t >= now, "simulated time went backwards")
      now = t
      accountAll()
      var resched = CPUMask()
      for c in current.indices {
        guard let v = current[c], case .periodic(let run, let sleep, let slack) = behaviour[v.index],
              burstLeft[v.index] == 0 else { continue }
        burstLeft[v.index] = run
        sleepDeadline[v.index] = now + sleep
        scheduler.block(v, until: now + sleep, slack: slack, now: now)
        resched.insert(HostCPUID(c))
      }
      while let first = scriptedWakes.first, first.at <= now {
        scriptedWakes.removeFirst()
        externalWakeAt[first.vcpu.index] = now
        if let cpu = scheduler.wake(first.vcpu, now: now) { resched.insert(cpu) }
      }
      var timerFired = false
      for c in current.indices where timerAt[c] <= now {
        timerInterrupts[c] += 1
        timerFired = true
        resched.insert(HostCPUID(c))
      }
      if timerFired {
        resched.rawValue |= scheduler.handleTimers(now: now).rawValue
        while let migration = scheduler.nextMigration(now: now) { resched.insert(migration.to) }
      }
      reschedule(resched)
      if now >= end { break }
    }
  }

  mutating func accountAll() {
    for c in current.indices {
      guard let v = current[c], now > since[c] else { continue }
      let ran = now - since[c]
      scheduler.account(vcpu: v, ran: ran, now: now)
      if case .periodic = behaviour[v.index] { burstLeft[v.index] -= min(ran, burstLeft[v.index]) }
      since[c] = now
    }
  }

  mutating func reschedule(_ cpus: CPUMask) {
    for cpu in cpus {
      let c = cpu.index
      let dispatch = scheduler.pickNext(cpu: cpu, now: now)
      if let d = dispatch {
        if current[c] != d.vcpu { dispatches += 1; switchIns[d.vcpu.index] += 1 }
        if d.migratedFrom != nil { migrations += 1 }
        if let deadline = sleepDeadline[d.vcpu.index] {
          wakeLatencies.append(now - deadline)
          sleepDeadline[d.vcpu.index] = nil
        }
        if let woken = externalWakeAt[d.vcpu.index] {
          wakeLatencies.append(now - woken)
          externalWakeAt[d.vcpu.index] = nil
        }
      }
      current[c] = dispatch?.vcpu
      since[c] = now
      timerAt[c] = scheduler.nextEvent(cpu: cpu, now: now).map { max($0, now + 1) } ?? .max
    }
  }

  /// CPU time of each VM during `duration`, as a fraction of one host CPU.
  mutating func measureVMs(for duration: UInt64) -> [Double] {
    let vms = (0..<scheduler.configuration.vms.count).map { VMID($0) }
    let before = vms.map { scheduler.consumedTicks(of: $0) }
    run(for: duration)
    return vms.indices.map { Double(scheduler.consumedTicks(of: vms[$0]) - before[$0]) / Double(duration) }
  }

  /// CPU time of each vCPU during each of `count` consecutive windows, as fractions of one CPU.
  mutating func measureVCPUWindows(count: Int, length: UInt64) -> [[Double]] {
    var result: [[Double]] = []
    for _ in 0..<count {
      let before = (0..<scheduler.vcpuCount).map { scheduler.consumedTicks(of: VCPUID($0)) }
      run(for: length)
      result.append((0..<scheduler.vcpuCount).map {
        Double(scheduler.consumedTicks(of: VCPUID($0)) - before[$0]) / Double(length)
      })
    }
    return result
  }
}

/// Builds a configuration from compact descriptions; 1 GHz-equivalent CPUs, 62.5 MHz counter
/// (QEMU virt's CNTFRQ).
func makeConfiguration(cpus: Int, groups: [ResourceGroupSpec] = [ResourceGroupSpec(name: "host", parent: nil)],
                       vms: [VMSpec]) -> SchedulerConfiguration {
  SchedulerConfiguration(hostCPUCount: cpus, mhzPerCPU: 1000, ticksPerSecond: 62_500_000, groups: groups, vms: vms)
}

func vm(_ name: String, vcpus: Int = 1, group: Int = 0, shares: Shares = .normal, min: UInt32 = 0,
        max: UInt32? = nil) -> VMSpec {
  VMSpec(name: name, group: GroupID(group), vcpuCount: vcpus,
         allocation: CPUAllocation(shares: shares, minMHz: min, maxMHz: max))
}
