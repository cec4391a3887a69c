/// What a VM tells its guest about itself through the backdoor, derived from its configuration.
public enum VMIdentity {
  /// A UUID that stays the same for a VM of this name across boots and hosts: two rounds of
  /// FNV-1a over the name, with the version 4 and RFC 4122 variant bits set.
  public static func uuid(name: [UInt8]) -> [UInt8] {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    var uuid: [UInt8] = []
    for round in 0..<2 {
      for b in name + [UInt8(round)] { hash = (hash ^ UInt64(b)) &* 0x100_0000_01B3 }
      for k in 0..<8 { uuid.append(UInt8(truncatingIfNeeded: hash >> UInt64(8 * k))) }
    }
    uuid[6] = uuid[6] & 0x0F | 0x40
    uuid[8] = uuid[8] & 0x3F | 0x80
    return uuid
  }
}

extension GuestInfoStore {
  /// A store holding the configuration's `guestinfo.*` values, as far as they fit.
  public init(_ entries: [(key: [UInt8], value: [UInt8])]) {
    self.init()
    for entry in entries { _ = setValue(entry.value, forKey: entry.key) }
  }
}
