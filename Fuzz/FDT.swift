// Fuzz target `fdt`: the host device tree as the hypervisor reads it at boot (Hypervisor.swift):
// the 40-byte header alone, then the whole blob into a MachineDescription. Also the lookups the
// description is built from, on any tree that parses.
import KeelFDT

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFDT(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let blob = UnsafeRawBufferPointer(start: data, count: size)
  _ = try? FDTHeader(UnsafeRawBufferPointer(rebasing: blob.prefix(40)))
  _ = try? MachineDescription(dtb: blob)
  if let tree = try? FDT(parsing: blob) {
    tree.walk { located in
      _ = located.reg
      _ = located.node.compatible
      _ = located.node.unitAddress
      _ = located.node.isEnabled
      _ = located.node.property("interrupts")?.cells.flatMap { GICInterruptSpecifier.intids($0) }
    }
    _ = tree.locate(path: "serial0")
    _ = tree.node(withPhandle: 1)
  }
  return 0
}
