import Testing
import KeelArch
@testable import KeelVGIC

@Suite struct HostGICEncodingTests {
  @Test func privateMaskIgnoresSharedInterrupts() {
    #expect(HostGICEncoding.privateMask([0, 25, 27, 30, 26]) == 1 | 1 << 25 | 1 << 26 | 1 << 27 | 1 << 30)
    #expect(HostGICEncoding.privateMask([32, 33, 1020]) == 0)
    #expect(HostGICEncoding.privateMask([]) == 0)
  }

  @Test func sgisTargetOneCPU() {
    // Aff3 0x12, Aff2 0x34, Aff1 0x56, Aff0 5.
    let mpidr: UInt64 = 0x12_8000_0000 | 0x34 << 16 | 0x56 << 8 | 5
    #expect(HostGICEncoding.sgi1r(intid: 0, toMPIDR: mpidr) == 0x12 << 48 | 0x34 << 32 | 0x56 << 16 | 1 << 5)
    #expect(HostGICEncoding.sgi1r(intid: 3, toMPIDR: 0) == 3 << 24 | 1)
    #expect(HostGICEncoding.sgir(intid: 0, cpuMask: 0b100) == 0x4_0000)
    #expect(HostGICEncoding.irouter(mpidr: 0xFFFF_FFFF_FFFF_FFFF) == 0xFF_00FF_FFFF)
  }

  @Test func perInterruptFields() {
    #expect(HostGICEncoding.bitField(33) == (4, 2))
    #expect(HostGICEncoding.bitField(31) == (0, 1 << 31))
    let field = HostGICEncoding.byteField(34, in: 0x1122_3344, set: 0xA0)
    #expect(field.offset == 32)
    #expect(field.word == 0x11A0_3344)
    #expect(HostGICEncoding.byteField(35, in: 0, set: 0xFF).word == 0xFF00_0000)
  }

  @Test func virtualInterfaceSizes() {
    #expect(HostGICEncoding.listRegisterCount(vtr: 0x9000_0003, version: .v3) == 4)
    #expect(HostGICEncoding.listRegisterCount(vtr: 0xFFFF_FFE3, version: .v2) == 36)
    // PREbits 4 (5 bits), 5 (6 bits), 6 (7 bits): 1, 2 and 4 registers.
    #expect(HostGICEncoding.activePriorityRegisterCount(vtr: 4 << 26, version: .v3) == 1)
    #expect(HostGICEncoding.activePriorityRegisterCount(vtr: 5 << 26, version: .v3) == 2)
    #expect(HostGICEncoding.activePriorityRegisterCount(vtr: 6 << 26, version: .v3) == 4)
    #expect(HostGICEncoding.activePriorityRegisterCount(vtr: 7 << 26, version: .v3) == 4)
    #expect(HostGICEncoding.activePriorityRegisterCount(vtr: 6 << 26, version: .v2) == 1)
  }

  @Test func redistributorsAreFoundByAffinity() {
    // Two regions: one with frames for affinities 0.0.0.1 and 0.0.0.0 (the second one last),
    // one with a VLPI-capable frame (twice the size) for 0.0.1.0 followed by 0.0.1.1.
    var typers: [UInt64: UInt64] = [:]
    typers[0x1000_0000] = 1 << 32
    typers[0x1002_0000] = 0 << 32 | 1 << 4
    typers[0x2000_0000] = 0x100 << 32 | 1 << 1
    typers[0x2004_0000] = 0x101 << 32
    let regions: [(base: UInt64, size: UInt64)] = [(0x1000_0000, 0x10_0000), (0x2000_0000, 0x6_0000)]
    let cpus: [UInt64] = [0x8000_0000, 0x8000_0001, 0x8000_0100, 0x8000_0101, 0x8000_0200]
    var read: [UInt64] = []
    let frames = HostGICEncoding.redistributorFrames(regions: regions, cpus: cpus) { frame in
      read.append(frame)
      return typers[frame] ?? 0xFFFF_FFFF << 32
    }
    #expect(frames == [0x1002_0000, 0x1000_0000, 0x2000_0000, 0x2004_0000, 0])
    // Nothing read past a Last frame or a region's end.
    #expect(read == [0x1000_0000, 0x1002_0000, 0x2000_0000, 0x2004_0000])
  }
}
