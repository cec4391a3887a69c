import Foundation

/// Finds the Keel package checkout that a `keel` binary belongs to.
public enum PackageRoot {
  /// `KEEL_ROOT` wins; otherwise walk up from the executable (`<root>/.build/<triple>/debug/keel`).
  public static func locate(executablePath: String, environment: [String: String]) -> String? {
    if let root = environment["KEEL_ROOT"], !root.isEmpty { return root }
    var url = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
    while url.path != "/" {
      if isPackageRoot(url.path) { return url.path }
      url.deleteLastPathComponent()
    }
    return nil
  }

  public static func isPackageRoot(_ path: String) -> Bool {
    let fm = FileManager.default
    return fm.fileExists(atPath: path + "/Package.swift") && fm.fileExists(atPath: path + "/Guests/initramfs/init")
  }
}

/// Builds and locates the EL2 hypervisor image.
public struct HypervisorImage {
  public static let triple = "aarch64-none-none-elf"
  public static let buildArguments = [
    "swift", "build", "-c", "release", "--triple", triple,
    "--toolset", "Support/toolset-el2.json", "--product", "KeelHypervisor",
  ]

  public var root: String
  public var progress: @Sendable (String) -> Void

  public init(root: String, progress: @escaping @Sendable (String) -> Void) {
    self.root = root; self.progress = progress
  }

  /// Default location; `--show-bin-path` would cost a package resolution on every run.
  public var expectedPath: String { "\(root)/.build/\(Self.triple)/release/KeelHypervisor" }

  /// Returns the image, building it when it is missing or older than any source file.
  public func ensureBuilt() throws -> String {
    let path = expectedPath
    if let built = modificationDate(path), let newest = newestSource(), built >= newest { return path }
    progress("building hypervisor image…")
    try Subprocess.run(Self.buildArguments, in: root, echo: true)
    let binPath = try Subprocess.run(Self.buildArguments.dropLast(2) + ["--show-bin-path"], in: root)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let built = binPath + "/KeelHypervisor"
    guard FileManager.default.fileExists(atPath: built) else {
      throw KeelHostError.missing("hypervisor image not found at \(built) after building")
    }
    return built
  }

  func newestSource() -> Date? {
    var newest: Date? = modificationDate(root + "/Package.swift")
    for dir in ["Sources", "Support"] {
      guard let walker = FileManager.default.enumerator(atPath: "\(root)/\(dir)") else { continue }
      for case let relative as String in walker {
        // The host CLI does not go into the image.
        if relative.hasPrefix("KeelHost") || relative.hasPrefix("keel/") || relative == "keel" { continue }
        if let date = modificationDate("\(root)/\(dir)/\(relative)"), newest == nil || date > newest! { newest = date }
      }
    }
    return newest
  }
}

func modificationDate(_ path: String) -> Date? {
  (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
}

public enum KeelHostError: Error, CustomStringConvertible {
  case missing(String)
  case setup(String)
  public var description: String {
    switch self {
    case .missing(let s), .setup(let s): return s
    }
  }
}
