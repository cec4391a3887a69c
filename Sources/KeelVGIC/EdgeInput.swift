extension VGIC {
  /// An edge on an SPI from a device model or a message (an MSI written to a GICv2m frame is
  /// an edge): the interrupt becomes pending, as a GICD_ISPENDR write would make it.
  ///
  /// - One edge gives exactly one interrupt: the latch is consumed when the interrupt goes into
  ///   a list register, and unlike a high level line it is not offered again after the guest's EOI.
  /// - An edge that arrives while the interrupt sits in a list register (pending or active) is
  ///   kept: `mergeResident` turns an active list register into pending+active, so the guest
  ///   takes it again after its EOI.
  /// - Edges while already pending coalesce, as in hardware.
  /// - A disabled SPI (or a disabled group) keeps the edge latched until it is enabled.
  /// - Private interrupts (SGIs, PPIs) and INTIDs past the implemented lines are ignored.
  public mutating func signalEdge(intid: UInt32) -> VGICEffects {
    let i = Int(intid)
    guard i >= 32, isValid(i) else { return VGICEffects() }
    return update(i, 0) { $0.pendingLatch = true }
  }
}
