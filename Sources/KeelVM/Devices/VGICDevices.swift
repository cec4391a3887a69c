import KeelArch
import KeelDevices
import KeelVGIC

/// One VM's vGIC, shared by its distributor and redistributor devices on the bus, the list
/// register flush and the interrupt inputs. Guarded by the VM's devices lock.
public final class InterruptController {
  public var vgic: VGIC
  let queue: EffectQueue

  public init(_ vgic: VGIC, queue: EffectQueue) {
    self.vgic = vgic
    self.queue = queue
  }

  /// Records what a vGIC operation made necessary (kicks, hardware deactivations).
  public func record(_ effects: VGICEffects) {
    if effects.kick != 0 { queue.record(.kick(vcpus: effects.kick)) }
    if effects.deactivateHardware != 0 { queue.record(.deactivateHardware(intids: effects.deactivateHardware)) }
  }
}

/// GICD on the bus.
public final class GICDistributorDevice: MMIODevice {
  unowned(unsafe) let gic: InterruptController
  public init(_ gic: InterruptController) { self.gic = gic }

  public func read(at offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64 {
    gic.vgic.distributorRead(offset: offset, size: size, vcpu: vcpu)
  }
  public func write(_ value: UInt64, at offset: UInt64, size: AccessSize, vcpu: Int) {
    gic.record(gic.vgic.distributorWrite(offset: offset, size: size, value: value, vcpu: vcpu))
  }
}

/// The GICv3 redistributor frames of every vCPU on the bus.
public final class GICRedistributorDevice: MMIODevice {
  unowned(unsafe) let gic: InterruptController
  public init(_ gic: InterruptController) { self.gic = gic }

  public func read(at offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64 {
    gic.vgic.redistributorRead(offset: offset, size: size, vcpu: vcpu)
  }
  public func write(_ value: UInt64, at offset: UInt64, size: AccessSize, vcpu: Int) {
    gic.record(gic.vgic.redistributorWrite(offset: offset, size: size, value: value, vcpu: vcpu))
  }
}
