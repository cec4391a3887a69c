import Testing
import KeelBackdoor

@Suite struct VMIdentityTests {
  @Test func theUUIDDependsOnlyOnTheName() {
    let web = VMIdentity.uuid(name: bytes("web"))
    // Fixed for good: a guest may have recorded it (it is its SMBIOS-style system UUID).
    #expect(web == [0x83, 0x93, 0xEA, 0x19, 0xF6, 0x6E, 0x4D, 0x3D, 0xAE, 0xE8, 0x5F, 0x55, 0x53, 0x71, 0x06, 0x31])
    #expect(VMIdentity.uuid(name: bytes("web")) == web)
    #expect(VMIdentity.uuid(name: bytes("db")) != web)
  }

  @Test func versionAndVariantBits() {
    for name in ["", "a", "tenantA.web", String(repeating: "x", count: 300)] {
      let uuid = VMIdentity.uuid(name: bytes(name))
      #expect(uuid.count == 16)
      #expect(uuid[6] >> 4 == 4)
      #expect(uuid[8] >> 6 == 0b10)
    }
  }

  @Test func guestInfoFromTheConfiguration() {
    let store = GuestInfoStore([(key: bytes("a"), value: bytes("1")), (key: bytes("b"), value: bytes("2")), (key: bytes("a"), value: bytes("3"))])
    #expect(store.value(forKey: bytes("a")) == bytes("3"))
    #expect(store.value(forKey: bytes("b")) == bytes("2"))
    #expect(store.count == 2)
  }
}
