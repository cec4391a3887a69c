// Fuzz target `configmodule`: the hypervisor configuration module text, which the hypervisor
// parses from a fixed-size window of memory (ConfigurationModule.parseMachine).
import KeelVM

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigModule(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  _ = try? ConfigurationModule.parseMachine(UnsafeRawBufferPointer(start: data, count: size))
  return 0
}
