/// The VM's `guestinfo.*` variables, shared by the host (configuration, CLI) and the guest
/// (`info-get` / `info-set` RPCIs).
///
/// Keys are stored **without** the `guestinfo.` prefix: the guest's `info-get guestinfo.ip`
/// reads key `ip`. Keys and values are raw bytes (the guest may send any encoding).
/// The store is bounded so a guest looping on `info-set` cannot exhaust hypervisor memory.
/// A linear array, not a Dictionary: the store is small, and hashing needs a random seed at EL2.
public struct GuestInfoStore: Sendable, Equatable {
  public struct Entry: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
  }

  public private(set) var entries: [Entry] = []
  public let maxEntries: Int
  public let maxTotalBytes: Int
  /// Sum of key and value lengths of all entries.
  public private(set) var totalBytes = 0

  public init(maxEntries: Int = 256, maxTotalBytes: Int = 1 << 20) {
    self.maxEntries = maxEntries
    self.maxTotalBytes = maxTotalBytes
  }

  public var count: Int { entries.count }

  public func value(forKey key: [UInt8]) -> [UInt8]? {
    guard let index = index(of: key) else { return nil }
    return entries[index].value
  }

  /// Returns false (store unchanged) when the limits would be exceeded or the key is empty.
  @discardableResult
  public mutating func setValue(_ value: [UInt8], forKey key: [UInt8]) -> Bool {
    guard !key.isEmpty else { return false }
    if let index = index(of: key) {
      let newTotal = totalBytes - entries[index].value.count + value.count
      guard newTotal <= maxTotalBytes else { return false }
      entries[index].value = value
      totalBytes = newTotal
      return true
    }
    let newTotal = totalBytes + key.count + value.count
    guard entries.count < maxEntries, newTotal <= maxTotalBytes else { return false }
    entries.append(Entry(key: key, value: value))
    totalBytes = newTotal
    return true
  }

  @discardableResult
  public mutating func removeValue(forKey key: [UInt8]) -> [UInt8]? {
    guard let index = index(of: key) else { return nil }
    let removed = entries.remove(at: index)
    totalBytes -= removed.key.count + removed.value.count
    return removed.value
  }

  func index(of key: [UInt8]) -> Int? {
    var index = 0
    while index < entries.count {
      if equalBytes(entries[index].key, key) { return index }
      index += 1
    }
    return nil
  }
}
