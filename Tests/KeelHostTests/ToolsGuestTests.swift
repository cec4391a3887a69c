import Foundation
import Testing
@testable import KeelHost

/// Builds a minimal ELF64 little-endian file: one PT_LOAD mapping the whole file at `vaddr`,
/// an optional PT_INTERP and a PT_DYNAMIC with DT_NEEDED/DT_SONAME/DT_STRTAB.
func makeELF(interpreter: String? = nil, needed: [String] = [], soname: String? = nil, vaddr: UInt64 = 0x40_0000) -> [UInt8] {
  func le(_ value: UInt64, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
  let headerCount = 1 + (interpreter == nil ? 0 : 1) + 1
  let programHeaders = 64
  var strings: [UInt8] = [0]
  func intern(_ s: String) -> UInt64 { let at = UInt64(strings.count); strings += Array(s.utf8) + [0]; return at }
  var dynamicEntries: [(UInt64, UInt64)] = needed.map { (1, intern($0)) }
  if let soname { dynamicEntries.append((14, intern(soname))) }
  let interpOffset = programHeaders + headerCount * 56
  let interpBytes: [UInt8] = interpreter.map { Array($0.utf8) + [0] } ?? []
  let stringsOffset = interpOffset + interpBytes.count
  dynamicEntries.append((5, vaddr + UInt64(stringsOffset)))
  dynamicEntries.append((0, 0))
  let dynamicOffset = (stringsOffset + strings.count + 7) & ~7
  let total = dynamicOffset + dynamicEntries.count * 16

  var out: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
  out += le(3, 2) + le(183, 2) + le(1, 4) + le(vaddr, 8) + le(UInt64(programHeaders), 8) + le(0, 8)
  out += le(0, 4) + le(64, 2) + le(56, 2) + le(UInt64(headerCount), 2) + le(64, 2) + le(0, 2) + le(0, 2)
  func header(_ type: UInt32, offset: Int, size: Int) {
    out += le(UInt64(type), 4) + le(4, 4) + le(UInt64(offset), 8) + le(vaddr + UInt64(offset), 8)
    out += le(vaddr + UInt64(offset), 8) + le(UInt64(size), 8) + le(UInt64(size), 8) + le(8, 8)
  }
  header(1, offset: 0, size: total)
  if interpreter != nil { header(3, offset: interpOffset, size: interpBytes.count) }
  header(2, offset: dynamicOffset, size: dynamicEntries.count * 16)
  out += interpBytes + strings
  while out.count < dynamicOffset { out.append(0) }
  for (tag, value) in dynamicEntries { out += le(tag, 8) + le(value, 8) }
  return out
}

@Suite struct ELFDynamicInfoTests {
  @Test func readsInterpreterNeededAndSoname() throws {
    let bytes = makeELF(interpreter: "/lib/ld-linux-aarch64.so.1", needed: ["libvmtools.so.0", "libc.so.6"], soname: "libx.so.1")
    let info = try ELFDynamicInfo.parse(bytes)
    #expect(info == ELFDynamicInfo(interpreter: "/lib/ld-linux-aarch64.so.1", needed: ["libvmtools.so.0", "libc.so.6"], soname: "libx.so.1"))
  }

  @Test func staticFileHasNoDependencies() throws {
    let info = try ELFDynamicInfo.parse(makeELF())
    #expect(info.interpreter == nil && info.needed.isEmpty)
  }

  @Test func readsTheRunningTestBinary() throws {
    // A real linker's output: the host's own test runner is dynamically linked against libc.
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "/proc/self/exe")))
    let info = try ELFDynamicInfo.parse(bytes)
    #expect(info.interpreter?.hasPrefix("/lib") == true)
    #expect(info.needed.contains("libc.so.6"))
  }

  @Test func rejectsNonELFAndTruncatedInput() {
    #expect(throws: ELFError.notELF) { try ELFDynamicInfo.parse(Array("#!/bin/sh\n".utf8) + [UInt8](repeating: 0, count: 64)) }
    let bytes = makeELF(needed: ["libc.so.6"])
    #expect(throws: ELFError.self) { try ELFDynamicInfo.parse(Array(bytes.prefix(bytes.count - 20))) }
    var elf32 = bytes
    elf32[4] = 1
    #expect(throws: ELFError.unsupportedClass(1, encoding: 1)) { try ELFDynamicInfo.parse(elf32) }
  }
}

@Suite struct SharedLibraryNamingTests {
  @Test(arguments: [
    ("libglib-2.0.so.0", "libglib2.0-0"), ("libc.so.6", "libc6"), ("libtirpc.so.3", "libtirpc3"),
    ("libgssapi_krb5.so.2", "libgssapi-krb5-2"), ("libpcre2-8.so.0", "libpcre2-8-0"), ("libcom_err.so.2", "libcom-err2"),
    ("libstdc++.so.6", "libstdc++6"),
  ])
  func sonameMatchesDebianPackage(_ soname: String, _ package: String) {
    #expect(SharedLibraryClosure.packageKey(soname: soname) == SharedLibraryClosure.packageKey(package: package))
  }

  @Test func differentLibrariesDoNotMatch() {
    #expect(SharedLibraryClosure.packageKey(soname: "libgobject-2.0.so.0") != SharedLibraryClosure.packageKey(package: "libglib2.0-0"))
    #expect(SharedLibraryClosure.packageKey(soname: "libc.so.6") != SharedLibraryClosure.packageKey(package: "libcap2"))
  }

  @Test func parsesAptCacheDependsClosure() {
    let output = """
      open-vm-tools:arm64
        Depends: libc6:arm64
        Depends: <debconf-2.0:arm64>
      <debconf-2.0:arm64>
      libc6:arm64
        Depends: libgcc-s1:arm64
      libgcc-s1:arm64
      libc6
      perl:any
      libc6:arm64
      """
    #expect(SharedLibraryClosure.arm64Packages(fromAptCacheDepends: output) == ["open-vm-tools", "libc6", "libgcc-s1"])
  }
}

/// Package trees on disk, laid out like extracted Debian packages, with a record of fetches.
final class FakeRepository: @unchecked Sendable {
  let root: String
  var fetched: [String] = []
  var candidateQueries = 0

  init() throws {
    root = NSTemporaryDirectory() + "keel-tools-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(atPath: root) }

  func tree(_ package: String) -> String { root + "/" + package }

  func file(_ package: String, _ path: String, _ bytes: [UInt8]) throws {
    let full = tree(package) + "/" + path
    try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: full))
  }

  func link(_ package: String, _ path: String, to target: String) throws {
    let full = tree(package) + "/" + path
    try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
  }

  func closure(start: [String], candidates: [String]) -> SharedLibraryClosure {
    SharedLibraryClosure(
      trees: start.map { ($0, tree($0)) },
      listCandidates: { self.candidateQueries += 1; return candidates },
      fetch: { package in self.fetched.append(package); return self.tree(package) })
  }
}

@Suite struct SharedLibraryClosureTests {
  /// A miniature open-vm-tools: tool → libvmtools (same package) → libglib, libc; a second tool
  /// also needs libgobject, which lives in libglib's package under a name that matches no package.
  func populate(_ repo: FakeRepository) throws {
    let interp = "/lib/ld-linux-aarch64.so.1"
    try repo.file("tools", "usr/bin/check", makeELF(interpreter: interp, needed: ["libvmtools.so.0", "libglib-2.0.so.0", "libc.so.6"]))
    try repo.file("tools", "usr/bin/stat", makeELF(interpreter: interp, needed: ["libgobject-2.0.so.0", "libc.so.6"]))
    try repo.file("tools", "usr/lib/aarch64-linux-gnu/libvmtools.so.0.0.0", makeELF(needed: ["libglib-2.0.so.0", "libc.so.6"]))
    try repo.link("tools", "usr/lib/aarch64-linux-gnu/libvmtools.so.0", to: "libvmtools.so.0.0.0")
    try repo.file("libglib2.0-0", "usr/lib/aarch64-linux-gnu/libglib-2.0.so.0.7400.6", makeELF(needed: ["libpcre2-8.so.0", "libc.so.6"]))
    try repo.link("libglib2.0-0", "usr/lib/aarch64-linux-gnu/libglib-2.0.so.0", to: "libglib-2.0.so.0.7400.6")
    try repo.file("libglib2.0-0", "usr/lib/aarch64-linux-gnu/libgobject-2.0.so.0", makeELF(needed: ["libglib-2.0.so.0"]))
    try repo.file("libpcre2-8-0", "usr/lib/aarch64-linux-gnu/libpcre2-8.so.0", makeELF(needed: ["libc.so.6"]))
    try repo.file("libc6", "lib/aarch64-linux-gnu/libc.so.6", makeELF(interpreter: interp, needed: ["ld-linux-aarch64.so.1"]))
    try repo.file("libc6", "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", makeELF())
    try repo.link("libc6", "lib/ld-linux-aarch64.so.1", to: "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1")
    try repo.file("libunused1", "usr/lib/aarch64-linux-gnu/libunused.so.1", makeELF())
  }

  let candidates = ["tools", "libunused1", "libglib2.0-0", "libc6", "libpcre2-8-0", "perl"]

  @Test func collectsExactlyTheLoadedFilesAndKeepsLinks() throws {
    let repo = try FakeRepository()
    try populate(repo)
    var closure = repo.closure(start: ["tools"], candidates: candidates)
    let files = try closure.files(for: ["usr/bin/check", "usr/bin/stat"])
    let paths = Set(files.map(\.path))
    #expect(paths == [
      "usr/bin/check", "usr/bin/stat",
      "lib/ld-linux-aarch64.so.1", "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "lib/aarch64-linux-gnu/libc.so.6",
      "usr/lib/aarch64-linux-gnu/libvmtools.so.0", "usr/lib/aarch64-linux-gnu/libvmtools.so.0.0.0",
      "usr/lib/aarch64-linux-gnu/libglib-2.0.so.0", "usr/lib/aarch64-linux-gnu/libglib-2.0.so.0.7400.6",
      "usr/lib/aarch64-linux-gnu/libgobject-2.0.so.0", "usr/lib/aarch64-linux-gnu/libpcre2-8.so.0",
    ])
    #expect(paths.count == files.count)
    #expect(files.contains(.symlink(path: "lib/ld-linux-aarch64.so.1", target: "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1")))
    #expect(files.contains(.symlink(path: "usr/lib/aarch64-linux-gnu/libglib-2.0.so.0", target: "libglib-2.0.so.0.7400.6")))
    #expect(files.contains(.file(path: "usr/lib/aarch64-linux-gnu/libgobject-2.0.so.0",
                                 source: repo.tree("libglib2.0-0") + "/usr/lib/aarch64-linux-gnu/libgobject-2.0.so.0")))
    // Only packages that ship a needed library were downloaded, and apt was asked once.
    #expect(Set(repo.fetched) == ["libglib2.0-0", "libc6", "libpcre2-8-0"])
    #expect(repo.fetched.count == 3)
    #expect(repo.candidateQueries == 1)
  }

  @Test func knownTreesNeedNoPackageQuery() throws {
    let repo = try FakeRepository()
    try populate(repo)
    var closure = repo.closure(start: ["tools", "libglib2.0-0", "libc6", "libpcre2-8-0"], candidates: candidates)
    _ = try closure.files(for: ["usr/bin/check"])
    #expect(repo.candidateQueries == 0)
    #expect(repo.fetched.isEmpty)
  }

  @Test func fallsBackToClosestNamesWhenNoPackageMatches() throws {
    let repo = try FakeRepository()
    try populate(repo)
    // Only the stat tool: libgobject's package has to be found without the libglib hint.
    var closure = repo.closure(start: ["tools"], candidates: candidates)
    let files = try closure.files(for: ["usr/bin/stat"])
    #expect(files.contains { $0.path == "usr/lib/aarch64-linux-gnu/libgobject-2.0.so.0" })
    #expect(!repo.fetched.contains("libunused1") && !repo.fetched.contains("perl"))
  }

  @Test func reportsALibraryNoCandidateProvides() throws {
    let repo = try FakeRepository()
    try repo.file("tools", "usr/bin/check", makeELF(needed: ["libnowhere.so.9"]))
    try repo.file("libunused1", "usr/lib/aarch64-linux-gnu/libunused.so.1", makeELF())
    var closure = repo.closure(start: ["tools"], candidates: ["libunused1"])
    #expect(throws: SharedLibraryError.unresolvedLibrary(soname: "libnowhere.so.9", neededBy: "usr/bin/check")) {
      try closure.files(for: ["usr/bin/check"])
    }
    #expect(throws: SharedLibraryError.missingExecutable("usr/bin/absent")) { try closure.files(for: ["usr/bin/absent"]) }
  }
}

@Suite struct ToolsArchiveTests {
  @Test func parentsComeBeforeContentsOnce() throws {
    var archive = DefaultGuest.initramfsArchive(initScript: [1], busybox: [2], helper: [3], detector: [4])
    DefaultGuest.addWithParents([
      .file(path: "usr/lib/aarch64-linux-gnu/libc.so.6", mode: 0o644, contents: [5]),
      .symlink(path: "usr/lib/aarch64-linux-gnu/libc.so", target: "libc.so.6"),
      .symlink(path: "lib/ld-linux-aarch64.so.1", target: "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"),
    ], to: &archive)
    let entries = try parseNewc(archive.serialized())
    let names = entries.map(\.name)
    #expect(names.count == Set(names).count)
    #expect(entries.first { $0.name == "bin/keel-detect" }?.data == [4])
    #expect(entries.first { $0.name == "bin/keel-detect" }?.mode == 0o100755)
    for (index, entry) in entries.enumerated() where entry.name.contains("/") {
      let parent = String(entry.name[..<entry.name.lastIndex(of: "/")!])
      #expect(entries[..<index].contains { $0.name == parent }, "\(entry.name) before \(parent)")
    }
  }

  @Test func defaultLayoutWithoutDetectorIsUnchanged() throws {
    let without = DefaultGuest.initramfsArchive(initScript: [1], busybox: [2], helper: [3])
    #expect(!without.entries.contains { $0 == .file(path: "bin/keel-detect", mode: 0o755, contents: []) })
    #expect(try parseNewc(without.serialized()).allSatisfy { $0.name != "bin/keel-detect" })
  }

  @Test func powerButtonHelperAndModulesAreInTheArchive() throws {
    let archive = DefaultGuest.initramfsArchive(
      initScript: [1], busybox: [2], helper: [3], powerkey: [6],
      modules: [(name: "evdev.ko", contents: [7]), (name: "gpio_keys.ko", contents: [8])])
    let entries = try parseNewc(archive.serialized())
    let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })
    #expect(byName["bin/keel-powerkey"]?.data == [6])
    #expect(byName["bin/keel-powerkey"]?.mode == 0o100755)
    #expect(byName["lib/modules/evdev.ko"]?.data == [7])
    #expect(byName["lib/modules/gpio_keys.ko"]?.data == [8])
    for (index, entry) in entries.enumerated() where entry.name.contains("/") {
      let parent = String(entry.name[..<entry.name.lastIndex(of: "/")!])
      #expect(entries[..<index].contains { $0.name == parent }, "\(entry.name) before \(parent)")
    }
    // Without modules there is no lib/ at all (the tools flavour adds its own).
    let bare = try parseNewc(DefaultGuest.initramfsArchive(initScript: [1], busybox: [2], helper: [3]).serialized())
    #expect(bare.allSatisfy { !$0.name.hasPrefix("lib") && $0.name != "bin/keel-powerkey" })
    #expect(DefaultGuest.powerButtonModules == ["evdev", "gpio_keys"])
  }

  @Test func compressedModulesAreDecompressedOnceNextToTheOriginal() throws {
    guard Subprocess.which("xz") != nil else { return }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keel-ko-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let plain = directory + "/gpio_keys.ko"
    try Data([0x7F, 0x45, 0x4C, 0x46, 0, 1, 2, 0xFF]).write(to: URL(fileURLWithPath: plain))
    try Subprocess.run(["xz", "-z", plain])
    #expect(!FileManager.default.fileExists(atPath: plain))
    let out = try DefaultGuest.uncompressedModule(plain + ".xz")
    #expect(out == plain)
    #expect(FileManager.default.contents(atPath: out) == Data([0x7F, 0x45, 0x4C, 0x46, 0, 1, 2, 0xFF]))
    #expect(FileManager.default.fileExists(atPath: plain + ".xz"))
    #expect(try DefaultGuest.uncompressedModule(plain) == plain)
  }

  @Test func guestFlavourCannotBeCombinedWithInitrd() throws {
    #expect(throws: RunValidationError.guestWithInitrd("tools")) { try RunOptions(initrd: "/x", guest: .tools).checkLimits() }
    try RunOptions(initrd: "/x").checkLimits()
    try RunOptions(guest: .tools).checkLimits()
    #expect(GuestFlavour(rawValue: "tools") == .tools && GuestFlavour(rawValue: "default") == .default)
    #expect(GuestFlavour(rawValue: "latency") == .latency)
  }

  @Test func eachPackagedFlavourShipsItsExecutablesFromItsOwnPackages() {
    #expect(GuestFlavour.default.packages == nil)
    for flavour in GuestFlavour.allCases {
      guard let set = flavour.packages else { continue }
      #expect(!set.packages.isEmpty && !set.executables.isEmpty, "\(flavour)")
      // Guest paths are relative to the initramfs root, as the closure and the cpio writer expect.
      #expect(set.executables.allSatisfy { !$0.hasPrefix("/") && $0.contains("/") }, "\(flavour)")
      #expect(Set(set.packages).count == set.packages.count, "\(flavour)")
    }
    #expect(GuestFlavour.latency.packages?.executables == ["usr/bin/cyclictest", "usr/bin/stress-ng"])
    #expect(GuestFlavour.latency.packages?.packages == ["rt-tests", "stress-ng"])
    // open-vm-tools' GLib warns without a passwd entry; the latency tools need nothing extra.
    #expect(GuestFlavour.tools.packages?.extraFiles == GuestPackages.rootAccount)
    #expect(GuestFlavour.latency.packages?.extraFiles == [])
  }

  @Test func libraryRecordIsKeyedByEveryPackageVersion() {
    let one = GuestPackages.recordName(debs: ["/c/debs/open-vm-tools_2%3a12.2.0-1+deb12u4_arm64.deb"])
    // A single package keeps the record name the tools guest has always used.
    #expect(one == "open-vm-tools_2%3a12.2.0-1+deb12u4_arm64.packages")
    let two = GuestPackages.recordName(debs: ["/c/rt-tests_2.4-1_arm64.deb", "/c/stress-ng_0.15.06-2_arm64.deb"])
    let upgraded = GuestPackages.recordName(debs: ["/c/rt-tests_2.4-1_arm64.deb", "/c/stress-ng_0.15.07-1_arm64.deb"])
    #expect(two == "rt-tests_2.4-1_arm64+stress-ng_0.15.06-2_arm64.packages")
    #expect(two != upgraded)
  }
}
