import Foundation

/// Which initramfs `keel run` builds when no `--initrd` is given.
public enum GuestFlavour: String, CaseIterable, Equatable, Sendable {
  /// busybox, init, keel-cntvct and keel-detect.
  case `default`
  /// The default guest plus Debian's unmodified open-vm-tools command-line tools and exactly the
  /// shared libraries they load, for exercising the VMware backdoor.
  case tools
}

extension DefaultGuest {
  public static let toolsPackage = "open-vm-tools"
  /// Guest paths of the tools, as open-vm-tools ships them.
  public static let toolsExecutables = ["usr/bin/vmware-checkvm", "usr/bin/vmware-rpctool", "usr/bin/vmware-toolbox-cmd"]

  /// GLib looks up the running user's home directory and warns on stderr without a passwd entry.
  public static let toolsAccounts: [CPIOArchive.Entry] = [
    .file(path: "etc/passwd", mode: 0o644, contents: Array("root:x:0:0:root:/root:/bin/sh\n".utf8)),
    .file(path: "etc/group", mode: 0o644, contents: Array("root:x:0:\n".utf8)),
  ]

  /// The default initramfs plus the tools and their shared-library closure.
  public func toolsInitramfs() throws -> String {
    var archive = try baseArchive()
    let files = try toolsFiles()
    let contents = try files.map { file -> CPIOArchive.Entry in
      switch file {
      case .file(let path, let source):
        return .file(path: path, mode: try Self.permissions(of: source), contents: try readBytes(source))
      case .symlink(let path, let target):
        return .symlink(path: path, target: target)
      }
    }
    Self.addWithParents(Self.toolsAccounts + contents, to: &archive)
    return try writeInitramfs(archive, name: "tools initramfs", prefix: "tools-")
  }

  /// Resolves the tools' libraries. The packages a previous run needed are remembered next to the
  /// open-vm-tools .deb they were resolved for, so later runs ask apt nothing while those debs are
  /// cached; a new open-vm-tools version resolves afresh.
  func toolsFiles() throws -> [GuestFile] {
    try ensureArm64Architecture()
    let toolsDeb = try download(Self.toolsPackage)
    let record = "\(cache)/tools/\(URL(fileURLWithPath: toolsDeb).deletingPathExtension().lastPathComponent).packages"
    let remembered = ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "")
      .split(separator: "\n").map(String.init).filter { !$0.isEmpty && $0 != Self.toolsPackage }

    var trees: [(package: String, root: String)] = [(Self.toolsPackage, try extract(toolsDeb))]
    for package in remembered { trees.append((package, try extract(try download(package)))) }
    let guest = self
    var closure = SharedLibraryClosure(
      trees: trees,
      listCandidates: { try guest.toolsDependsClosure() },
      fetch: { package in try guest.extract(try guest.download(package)) })
    let files = try closure.files(for: Self.toolsExecutables)

    // Only packages that contributed a file are worth remembering.
    let used = closure.trees.filter { tree in
      files.contains { file in
        if case .file(_, let source) = file { return source.hasPrefix(tree.root + "/") }
        return false
      }
    }.map(\.package)
    if used != [Self.toolsPackage] + remembered {
      try FileManager.default.createDirectory(atPath: cache + "/tools", withIntermediateDirectories: true)
      try used.joined(separator: "\n").appending("\n").write(toFile: record, atomically: true, encoding: .utf8)
    }
    return files
  }

  /// arm64 packages open-vm-tools depends on, recursively, as apt resolves them today.
  func toolsDependsClosure() throws -> [String] {
    progress("resolving \(Self.toolsPackage) dependencies (apt-cache depends --recurse)…")
    let output = try Subprocess.run([
      "apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
      "--no-breaks", "--no-replaces", "--no-enhances", "\(Self.toolsPackage):arm64",
    ])
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
