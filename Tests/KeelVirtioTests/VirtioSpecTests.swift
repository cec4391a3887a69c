import Testing
import KeelVirtio

@Suite struct VirtioSpecTests {
  @Test func magicIsVirt() { #expect(VirtioMMIORegister.magic == 0x7472_6976) }
}
