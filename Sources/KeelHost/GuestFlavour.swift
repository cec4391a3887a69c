import Foundation

/// Which initramfs `keel run` builds when no `--initrd` is given.
public enum GuestFlavour: String, CaseIterable, Equatable, Sendable {
  /// busybox, init, keel-cntvct and keel-detect.
  case `default`
  /// The default guest plus Debian's unmodified open-vm-tools command-line tools and exactly the
  /// shared libraries they load, for exercising the VMware backdoor.
  case tools
  /// The default guest plus Debian's cyclictest (rt-tests) and stress-ng, for bench/latency.sh.
  case latency

  /// What the flavour adds to the default initramfs; nil for the default guest itself.
  public var packages: GuestPackages? {
    switch self {
    case .default: return nil
    case .tools:
      return GuestPackages(
        packages: ["open-vm-tools"],
        executables: ["usr/bin/vmware-checkvm", "usr/bin/vmware-rpctool", "usr/bin/vmware-toolbox-cmd"],
        extraFiles: GuestPackages.rootAccount)
    case .latency:
      return GuestPackages(packages: ["rt-tests", "stress-ng"], executables: ["usr/bin/cyclictest", "usr/bin/stress-ng"])
    }
  }
}

/// Debian arm64 packages whose executables a flavour copies into the guest, together with exactly
/// the shared libraries those executables load (SharedLibraryClosure), not the packages' full
/// Depends (rt-tests alone would drag in python3).
public struct GuestPackages: Equatable, Sendable {
  /// The packages that ship `executables`; always downloaded and searched first.
  public var packages: [String]
  /// Guest paths, as the packages ship them.
  public var executables: [String]
  /// Files the executables expect beyond their libraries.
  public var extraFiles: [CPIOArchive.Entry]

  public init(packages: [String], executables: [String], extraFiles: [CPIOArchive.Entry] = []) {
    self.packages = packages; self.executables = executables; self.extraFiles = extraFiles
  }

  /// GLib looks up the running user's home directory and warns on stderr without a passwd entry.
  public static let rootAccount: [CPIOArchive.Entry] = [
    .file(path: "etc/passwd", mode: 0o644, contents: Array("root:x:0:0:root:/root:/bin/sh\n".utf8)),
    .file(path: "etc/group", mode: 0o644, contents: Array("root:x:0:\n".utf8)),
  ]

  /// Name of the file remembering which library packages the closure needed: one per set of
  /// package versions (the .deb names), so an upgrade of any of them resolves afresh.
  public static func recordName(debs: [String]) -> String {
    debs.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }.joined(separator: "+") + ".packages"
  }
}

extension DefaultGuest {
  /// The default initramfs plus `flavour`'s executables and their shared-library closure.
  func packagedInitramfs(_ flavour: GuestFlavour, _ set: GuestPackages) throws -> String {
    var archive = try baseArchive()
    let files = try packagedFiles(flavour, set)
    let contents = try files.map { file -> CPIOArchive.Entry in
      switch file {
      case .file(let path, let source):
        return .file(path: path, mode: try Self.permissions(of: source), contents: try readBytes(source))
      case .symlink(let path, let target):
        return .symlink(path: path, target: target)
      }
    }
    Self.addWithParents(set.extraFiles + contents, to: &archive)
    return try writeInitramfs(archive, name: "\(flavour.rawValue) initramfs", prefix: "\(flavour.rawValue)-")
  }

  /// Resolves the executables' libraries. The packages a previous run needed are remembered next
  /// to the versions of the flavour's packages they were resolved for, so later runs ask apt
  /// nothing while those debs are cached.
  func packagedFiles(_ flavour: GuestFlavour, _ set: GuestPackages) throws -> [GuestFile] {
    try ensureArm64Architecture()
    let debs = try set.packages.map { try download($0) }
    let directory = "\(cache)/\(flavour.rawValue)"
    let record = directory + "/" + GuestPackages.recordName(debs: debs)
    let remembered = ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "")
      .split(separator: "\n").map(String.init).filter { !$0.isEmpty && !set.packages.contains($0) }

    var trees: [(package: String, root: String)] = try zip(set.packages, debs).map { ($0, try extract($1)) }
    for package in remembered { trees.append((package, try extract(try download(package)))) }
    let guest = self
    var closure = SharedLibraryClosure(
      trees: trees,
      listCandidates: { try guest.dependsClosure(of: set.packages) },
      fetch: { package in try guest.extract(try guest.download(package)) })
    let files = try closure.files(for: set.executables)

    // Only library packages that contributed a file are worth remembering.
    let used = closure.trees.filter { tree in
      !set.packages.contains(tree.package) && files.contains { file in
        if case .file(_, let source) = file { return source.hasPrefix(tree.root + "/") }
        return false
      }
    }.map(\.package)
    if used != remembered {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      try (set.packages + used).joined(separator: "\n").appending("\n").write(toFile: record, atomically: true, encoding: .utf8)
    }
    return files
  }

  /// arm64 packages `packages` depend on, recursively, as apt resolves them today.
  func dependsClosure(of packages: [String]) throws -> [String] {
    progress("resolving \(packages.joined(separator: ", ")) dependencies (apt-cache depends --recurse)…")
    let output = try Subprocess.run([
      "apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
      "--no-breaks", "--no-replaces", "--no-enhances",
    ] + packages.map { "\($0):arm64" })
    return SharedLibraryClosure.arm64Packages(fromAptCacheDepends: output)
  }

  static func permissions(of path: String) throws -> UInt32 {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber).map { UInt32(truncating: $0) & 0o7777 } ?? 0o644
  }

  /// Appends entries after the directories that hold them; the kernel's unpacker creates no parents.
  public static func addWithParents(_ entries: [CPIOArchive.Entry], to archive: inout CPIOArchive) {
    var directories: Set<String> = []
    for entry in archive.entries {
      if case .directory(let path, _) = entry { directories.insert(path) }
    }
    for entry in entries {
      let path: String
      switch entry {
      case .directory(let p, _), .file(let p, _, _), .symlink(let p, _), .characterDevice(let p, _, _, _): path = p
      }
      let parts = path.split(separator: "/").dropLast()
      for depth in parts.indices {
        let parent = parts[...depth].joined(separator: "/")
        if directories.insert(parent).inserted { archive.addDirectory(parent) }
      }
      archive.append(entry)
    }
  }
}
