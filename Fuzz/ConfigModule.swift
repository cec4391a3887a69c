// Fuzz target `configmodule`: the hypervisor configuration module text, which the hypervisor
// parses from a fixed-size window of memory (HypervisorConfiguration.parseMachine).
import KeelVM

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigModule(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  _ = try? HypervisorConfiguration.parseMachine(UnsafeRawBufferPointer(start: data, count: size))
  return 0
}
