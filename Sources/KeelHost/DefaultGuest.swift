import Crypto
import Foundation

/// The default guest: Debian's current arm64 kernel plus an initramfs Keel builds itself
/// (busybox-static, Guests/initramfs/init, the counter-reading helper, the virtualization
/// detector, and the power-button helper with the two kernel modules it needs). Other flavours add
/// Debian packages' executables to it (GuestFlavour.swift).
/// Everything downloaded or built lives in the cache, keyed by package name or content.
public struct DefaultGuest {
  public struct Artifacts: Equatable, Sendable {
    public var kernel: String
    public var initramfs: String
  }

  public var root: String
  public var cache: String
  public var progress: @Sendable (String) -> Void

  public init(root: String, cache: String, progress: @escaping @Sendable (String) -> Void) {
    self.root = root; self.cache = cache; self.progress = progress
  }

  public static func cacheDirectory(environment: [String: String]) -> String {
    if let dir = environment["KEEL_CACHE"], !dir.isEmpty { return dir }
    let home = environment["HOME"] ?? NSHomeDirectory()
    return home + "/.cache/keel"
  }

  public func kernel() throws -> String {
    let tree = try kernelTree()
    let boot = tree + "/boot"
    let images = (try? FileManager.default.contentsOfDirectory(atPath: boot))?.filter { $0.hasPrefix("vmlinuz-") }.sorted() ?? []
    guard let image = images.last else { throw KeelHostError.setup("no boot/vmlinuz-* in \(tree)") }
    return boot + "/" + image
  }

  /// The extracted kernel package: the image and its modules.
  func kernelTree() throws -> String { try extract(try download(try resolveKernelPackage())) }

  /// Modules Debian builds as `=m` that the power button needs: gpio-keys turns the PL061 line
  /// into KEY_POWER, evdev gives keel-powerkey a /dev/input/event* to read it from. Load order.
  public static let powerButtonModules = ["evdev", "gpio_keys"]

  /// The power-button modules from the default kernel's package, uncompressed (the initramfs
  /// has no xz-capable insmod). One a kernel builds in is simply absent, and init's insmod of it
  /// fails quietly.
  func powerButtonModules() throws -> [(name: String, contents: [UInt8])] {
    let modules = try kernelTree() + "/lib/modules"
    var found: [String: String] = [:]
    for relative in FileManager.default.subpaths(atPath: modules) ?? [] {
      let file = (relative as NSString).lastPathComponent
      for name in Self.powerButtonModules where [".ko", ".ko.xz", ".ko.zst"].contains(where: { file == name + $0 }) {
        if found[name] == nil || file.hasSuffix(".ko") { found[name] = modules + "/" + relative }
      }
    }
    return try Self.powerButtonModules.compactMap { name in
      guard let path = found[name] else { return nil }
      return (name: name + ".ko", contents: try readBytes(try Self.uncompressedModule(path)))
    }
  }

  /// Decompresses next to the original, in the cache's extracted tree, so it happens once.
  static func uncompressedModule(_ path: String) throws -> String {
    guard !path.hasSuffix(".ko") else { return path }
    let output = (path as NSString).deletingPathExtension
    if FileManager.default.fileExists(atPath: output) { return output }
    if path.hasSuffix(".xz") {
      try Subprocess.run(["xz", "-d", "-k", "-f", path], echo: true)
    } else {
      try Subprocess.run(["zstd", "-d", "-q", "-f", path, "-o", output], echo: true)
    }
    return output
  }

  public func initramfs() throws -> String {
    try writeInitramfs(try baseArchive(), name: "initramfs")
  }

  /// The initramfs of `flavour`, built (or found in the cache) on demand.
  public func initramfs(flavour: GuestFlavour) throws -> String {
    guard let packages = flavour.packages else { return try initramfs() }
    return try packagedInitramfs(flavour, packages)
  }

  func baseArchive() throws -> CPIOArchive {
    let busyboxTree = try extract(try download("busybox-static"))
    let busybox = try readBytes(busyboxTree + "/bin/busybox")
    let initScript = try readBytes(root + "/Guests/initramfs/init")
    let helper = try readBytes(try buildHelper())
    let detector = try readBytes(try buildDetector())
    let bdbench = try readBytes(try buildBackdoorBenchmark())
    let powerkey = try readBytes(try buildPowerKey())
    return Self.initramfsArchive(
      initScript: initScript, busybox: busybox, helper: helper, detector: detector, bdbench: bdbench,
      powerkey: powerkey, modules: try powerButtonModules())
  }

  /// Stores the archive under its content key, so an unchanged guest is written once.
  func writeInitramfs(_ archive: CPIOArchive, name: String, prefix: String = "") throws -> String {
    let bytes = archive.serialized()
    let directory = cache + "/initramfs"
    let path = "\(directory)/\(prefix)\(contentKey(bytes)).cpio"
    if !FileManager.default.fileExists(atPath: path) {
      progress("building \(name)…")
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
    return path
  }

  /// The initramfs layout. /dev/console must exist before init runs, or init starts without stdio.
  public static func initramfsArchive(
    initScript: [UInt8], busybox: [UInt8], helper: [UInt8], detector: [UInt8]? = nil, bdbench: [UInt8]? = nil,
    powerkey: [UInt8]? = nil, modules: [(name: String, contents: [UInt8])] = []
  ) -> CPIOArchive {
    var archive = CPIOArchive()
    for dir in ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "root", "etc"] {
      archive.addDirectory(dir)
    }
    archive.addCharacterDevice("dev/console", major: 5, minor: 1)
    archive.addCharacterDevice("dev/null", major: 1, minor: 3, mode: 0o666)
    archive.addFile("bin/busybox", contents: busybox, mode: 0o755)
    archive.addSymlink("bin/sh", target: "busybox")
    archive.addFile("bin/keel-cntvct", contents: helper, mode: 0o755)
    if let detector { archive.addFile("bin/keel-detect", contents: detector, mode: 0o755) }
    if let bdbench { archive.addFile("bin/keel-bdbench", contents: bdbench, mode: 0o755) }
    if let powerkey { archive.addFile("bin/keel-powerkey", contents: powerkey, mode: 0o755) }
    if !modules.isEmpty {
      // Flat, by file name: init insmods them by path, with no depmod or modprobe.
      archive.addDirectory("lib")
      archive.addDirectory("lib/modules")
      for module in modules { archive.addFile("lib/modules/" + module.name, contents: module.contents) }
    }
    archive.addFile("init", contents: initScript, mode: 0o755)
    return archive
  }

  // MARK: apt

  /// The concrete kernel package behind Debian's `linux-image-arm64` metapackage, resolved each run.
  func resolveKernelPackage() throws -> String {
    try ensureArm64Architecture()
    if let name = try? Self.kernelPackage(fromAptCacheDepends: Subprocess.run(["apt-cache", "depends", "linux-image-arm64:arm64"])) {
      return name
    }
    try aptUpdate()
    let output = try Subprocess.run(["apt-cache", "depends", "linux-image-arm64:arm64"])
    guard let name = Self.kernelPackage(fromAptCacheDepends: output) else {
      throw KeelHostError.setup("could not resolve linux-image-arm64:arm64 with apt-cache depends")
    }
    return name
  }

  /// `apt-cache depends` lists `Depends: linux-image-6.1.0-56-arm64:arm64`; take the first such line.
  public static func kernelPackage(fromAptCacheDepends output: String) -> String? {
    for line in output.split(separator: "\n") {
      var text = Substring(line.trimmingCharacters(in: .whitespaces))
      if text.hasPrefix("|") { text = text.dropFirst() }
      guard text.hasPrefix("Depends:") else { continue }
      var name = text.dropFirst("Depends:".count).trimmingCharacters(in: .whitespaces)
      if name.hasSuffix(":arm64") { name = String(name.dropLast(":arm64".count)) }
      if name.hasPrefix("linux-image-"), !name.contains("<"), !name.contains(" ") { return name }
    }
    return nil
  }

  func ensureArm64Architecture() throws {
    let foreign = try Subprocess.run(["dpkg", "--print-foreign-architectures"])
    if foreign.split(whereSeparator: \.isWhitespace).contains("arm64") { return }
    progress("enabling arm64 packages (dpkg --add-architecture arm64)…")
    try Subprocess.run(["dpkg", "--add-architecture", "arm64"], echo: true)
    try aptUpdate()
  }

  func aptUpdate() throws {
    progress("updating package lists (apt-get update)…")
    try Subprocess.run(["apt-get", "update"], echo: true)
  }

  func download(_ package: String) throws -> String {
    let directory = cache + "/debs"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    if let existing = debs(in: directory, package: package).last { return existing }
    progress("downloading \(package)…")
    do {
      try Subprocess.run(["apt-get", "download", "\(package):arm64"], in: directory, echo: true)
    } catch {
      // Stale package lists are the usual reason; refresh once.
      try aptUpdate()
      try Subprocess.run(["apt-get", "download", "\(package):arm64"], in: directory, echo: true)
    }
    guard let deb = debs(in: directory, package: package).last else {
      throw KeelHostError.setup("apt-get download \(package):arm64 produced no .deb in \(directory)")
    }
    return deb
  }

  func debs(in directory: String, package: String) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.filter { $0.hasPrefix(package + "_") && $0.hasSuffix("_arm64.deb") }.sorted().map { directory + "/" + $0 }
  }

  func extract(_ deb: String) throws -> String {
    let name = URL(fileURLWithPath: deb).deletingPathExtension().lastPathComponent
    let tree = cache + "/extracted/" + name
    let done = tree + "/.keel-extracted"
    if FileManager.default.fileExists(atPath: done) { return tree }
    progress("extracting \(name)…")
    try? FileManager.default.removeItem(atPath: tree)
    try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
    try Subprocess.run(["dpkg-deb", "-x", deb, tree], echo: true)
    _ = FileManager.default.createFile(atPath: done, contents: Data())
    return tree
  }

  // MARK: helper program

  public static let helperSource = "Guests/initramfs/keel-cntvct.c"
  public static let detectorSource = "Guests/detect/keel-detect.c"
  /// The syscall and formatting helpers the freestanding guest programs share.
  public static let commonHeader = "Guests/common/keel-user.h"
  public static let backdoorBenchmarkSource = "Guests/microbench/keel-bdbench.c"
  public static let powerKeySource = "Guests/initramfs/keel-powerkey.c"

  static func clang() -> String {
    FileManager.default.isExecutableFile(atPath: "/opt/swift/usr/bin/clang") ? "/opt/swift/usr/bin/clang" : "clang"
  }

  static func lld() -> String {
    FileManager.default.isExecutableFile(atPath: "/opt/swift/usr/bin/ld.lld") ? "/opt/swift/usr/bin/ld.lld" : "ld.lld"
  }

  static let compileFlags = [
    "--target=aarch64-linux-gnu", "-ffreestanding", "-nostdlib", "-static",
    "-fno-stack-protector", "-fno-pic", "-O2", "-Wall", "-Werror",
  ]

  func buildHelper() throws -> String { try buildStaticProgram(Self.helperSource, name: "keel-cntvct") }

  func buildDetector() throws -> String { try buildStaticProgram(Self.detectorSource, name: "keel-detect") }

  /// Waits for the virtual power button's KEY_POWER and powers the guest off.
  func buildPowerKey() throws -> String { try buildStaticProgram(Self.powerKeySource, name: "keel-powerkey") }

  /// The backdoor round-trip benchmark run from guest user space (bench/traps.sh).
  func buildBackdoorBenchmark() throws -> String { try buildStaticProgram(Self.backdoorBenchmarkSource, name: "keel-bdbench") }

  /// Builds a freestanding static arm64 program once per source content.
  func buildStaticProgram(_ relativeSource: String, name: String) throws -> String {
    let source = root + "/" + relativeSource
    let common = root + "/" + Self.commonHeader
    let bytes = try readBytes(source) + readBytes(common)
    let flags = Self.compileFlags + ["-I", root + "/Guests/common"]
    let directory = "\(cache)/helper/\(contentKey(bytes + Array(Self.compileFlags.joined(separator: " ").utf8)))"
    let binary = directory + "/" + name
    if FileManager.default.fileExists(atPath: binary) { return binary }
    progress("building guest helper \(name)…")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let object = directory + "/" + name + ".o"
    try Subprocess.run([Self.clang()] + flags + ["-c", source, "-o", object], echo: true)
    try Subprocess.run([Self.lld(), "-static", "-e", "_start", "-o", binary + ".tmp", object], echo: true)
    try FileManager.default.moveItem(atPath: binary + ".tmp", toPath: binary)
    return binary
  }
}

/// Cache key for built artefacts: the first 16 hex digits of the content's SHA-256.
func contentKey(_ bytes: [UInt8]) -> String {
  SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
}

func readBytes(_ path: String) throws -> [UInt8] {
  guard let data = FileManager.default.contents(atPath: path) else {
    throw KeelHostError.missing("cannot read \(path)")
  }
  return [UInt8](data)
}
