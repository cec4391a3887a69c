// Fuzz target `vmx`: a `.vmx` file as `keel run web.vmx` reads it (MachineLaunch.swift): the
// syntax (VMXFile) and then the VM it describes (VMConfiguration).
import KeelHost

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVMX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: size))
  guard let file = try? VMXFile.parse(bytes: bytes, fileName: "fuzz.vmx") else { return 0 }
  for entry in file.entries { _ = file.entry(entry.key) }
  if let vm = try? VMConfiguration(vmx: file, directory: "/vms", defaultName: "fuzz") {
    _ = try? vm.checkLimits()
    _ = try? MachineConfigurationCheck.check([vm])
  }
  return 0
}
