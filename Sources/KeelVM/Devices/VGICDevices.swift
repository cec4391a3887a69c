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

/// A frame of the vGIC on the bus: the distributor (GICD), or the GICv3 redistributor frames
/// of every vCPU (GICR).
public final class GICFrameDevice: MMIODevice {
  public enum Frame: Sendable { case distributor, redistributors }
  unowned(unsafe) let gic: InterruptController
  let frame: Frame

  public init(_ gic: InterruptController, _ frame: Frame) {
    self.gic = gic
    self.frame = frame
  }

  public func read(at offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64 {
    switch frame {
    case .distributor: return gic.vgic.distributorRead(offset: offset, size: size, vcpu: vcpu)
    case .redistributors: return gic.vgic.redistributorRead(offset: offset, size: size, vcpu: vcpu)
    }
  }

  public func write(_ value: UInt64, at offset: UInt64, size: AccessSize, vcpu: Int) {
    switch frame {
    case .distributor: gic.record(gic.vgic.distributorWrite(offset: offset, size: size, value: value, vcpu: vcpu))
    case .redistributors: gic.record(gic.vgic.redistributorWrite(offset: offset, size: size, value: value, vcpu: vcpu))
    }
  }
}
