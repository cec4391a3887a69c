// Fuzz target `hostfile`: a host file as `keel run --host HOST.cfg` reads it: the `.vmx` syntax,
// HostFile's virtual hosts and pools, and admission control over the resulting groups.
import KeelHost

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHostFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: size))
  guard let file = try? VMXFile.parse(bytes: bytes, fileName: "fuzz.cfg"),
        let host = try? HostFile(vmx: file, directory: "/hosts") else { return 0 }
  _ = try? host.virtualHost(forGroup: nil)
  for name in host.virtualHosts {
    for pool in host.pools[name] ?? [] { _ = host.groupName(pool, in: name); _ = try? host.virtualHost(forGroup: pool) }
  }
  _ = try? host.resources.admit([], hostCPUs: 2)
  return 0
}
