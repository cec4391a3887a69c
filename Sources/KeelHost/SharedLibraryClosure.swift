import Foundation

/// A file for the guest's root file system, taken from an extracted package tree.
public enum GuestFile: Equatable, Sendable {
  /// `source` is the host path whose bytes (and permission bits) go to `path`.
  case file(path: String, source: String)
  case symlink(path: String, target: String)

  public var path: String {
    switch self {
    case .file(let path, _), .symlink(let path, _): return path
    }
  }
}

public enum SharedLibraryError: Error, Equatable, CustomStringConvertible {
  case missingExecutable(String)
  case unresolvedLibrary(soname: String, neededBy: String)
  case unreadable(path: String, reason: String)
  case symlinkLoop(String)

  public var description: String {
    switch self {
    case .missingExecutable(let p): return "\(p) is in none of the extracted packages"
    case .unresolvedLibrary(let s, let by):
      return "no package in the Depends closure provides \(s) (needed by \(by))"
    case .unreadable(let p, let r): return "cannot read \(p): \(r)"
    case .symlinkLoop(let p): return "too many symbolic links at \(p)"
    }
  }
}

/// Collects executables plus every shared object the dynamic loader will map for them, by walking
/// `PT_INTERP` and `DT_NEEDED` through extracted Debian package trees, the way ld.so searches its
/// default directories. Packages are fetched only when a library is in none of the trees so far:
/// first the one whose name follows Debian's library naming for the soname (libfoo.so.1 is in
/// libfoo1), and only if no name matches, the closest-named remaining candidates one at a time.
public struct SharedLibraryClosure {
  /// ld.so's built-in search path on Debian arm64 (no ld.so.cache in the guest).
  public static let libraryDirectories = ["lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib", "usr/lib"]

  /// Extracted package roots, searched in order.
  public private(set) var trees: [(package: String, root: String)]
  var candidateList: [String]?
  let listCandidates: () throws -> [String]
  let fetch: (String) throws -> String

  /// `listCandidates` names the packages that may provide libraries (asked at most once, and only
  /// when `trees` are not enough); `fetch` returns a package's extracted root.
  public init(
    trees: [(package: String, root: String)],
    listCandidates: @escaping () throws -> [String],
    fetch: @escaping (String) throws -> String
  ) {
    self.trees = trees; self.listCandidates = listCandidates; self.fetch = fetch
  }

  /// Packages whose trees were searched, including those fetched on the way.
  public var packages: [String] { trees.map(\.package) }

  /// Everything to copy into the guest for `executables` (guest paths such as "usr/bin/tool"),
  /// in discovery order, each guest path once.
  public mutating func files(for executables: [String]) throws -> [GuestFile] {
    var collected = Collected()
    var pending: [String] = []
    for executable in executables {
      guard let real = try add(executable, to: &collected) else { throw SharedLibraryError.missingExecutable(executable) }
      pending.append(real)
    }
    var resolved: Set<String> = []
    var unresolved: [(soname: String, neededBy: String)] = []
    var interpreters: [String] = []

    while true {
      while !pending.isEmpty {
        let path = pending.removeFirst()
        guard case .file(_, let source)? = collected.byPath[path] else { continue }
        let info = try Self.dynamicInfo(source)
        var wanted: [String] = []
        if let interpreter = info.interpreter {
          let guestPath = Self.normalized(interpreter)
          if !interpreters.contains(guestPath) { interpreters.append(guestPath) }
          if collected.byPath[guestPath] == nil {
            if let real = try add(guestPath, to: &collected) { pending.append(real) } else { wanted.append(Self.lastComponent(guestPath)) }
          }
        }
        wanted += info.needed
        for soname in wanted where !resolved.contains(soname) {
          if let real = try addLibrary(soname, to: &collected) {
            resolved.insert(soname); pending.append(real)
          } else if !unresolved.contains(where: { $0.soname == soname }) {
            unresolved.append((soname, path))
          }
        }
      }
      if unresolved.isEmpty { break }

      // Names that follow Debian's policy first, all of them, so the fallback search below only
      // runs for libraries that none of those packages ships (libgobject in libglib2.0-0).
      var fetchedAny = false
      for item in unresolved where findLibrary(item.soname) == nil {
        let key = Self.packageKey(soname: item.soname)
        if let package = try candidates().first(where: { Self.packageKey(package: $0) == key && !isFetched($0) }) {
          try fetchTree(package); fetchedAny = true
        }
      }
      if !fetchedAny, let first = unresolved.first(where: { findLibrary($0.soname) == nil }) {
        for package in try rankedCandidates(for: first.soname) {
          try fetchTree(package)
          if findLibrary(first.soname) != nil { break }
        }
        if findLibrary(first.soname) == nil {
          throw SharedLibraryError.unresolvedLibrary(soname: first.soname, neededBy: first.neededBy)
        }
      }
      let retry = unresolved
      unresolved = []
      for item in retry {
        if let real = try addLibrary(item.soname, to: &collected) {
          resolved.insert(item.soname); pending.append(real)
        } else {
          unresolved.append(item)
        }
      }
    }
    // An interpreter found only by its soname still has to exist at the path the kernel opens.
    for interpreter in interpreters where collected.byPath[interpreter] == nil {
      if try add(interpreter, to: &collected) == nil, let library = findLibrary(Self.lastComponent(interpreter)) {
        collected.insert(.symlink(path: interpreter, target: "/" + library))
      }
    }
    return collected.files
  }

  // MARK: naming

  /// Debian policy names a library package after its soname: libglib-2.0.so.0 → libglib2.0-0,
  /// libgssapi_krb5.so.2 → libgssapi-krb5-2. Comparing only lower-case letters and digits
  /// makes both sides agree without re-implementing the punctuation rules.
  public static func packageKey(soname: String) -> String {
    guard let range = soname.range(of: ".so") else { return alphanumeric(soname) }
    return alphanumeric(String(soname[..<range.lowerBound])) + alphanumeric(String(soname[range.upperBound...]))
  }

  public static func packageKey(package: String) -> String {
    var name = Substring(package)
    if let colon = name.firstIndex(of: ":") { name = name[..<colon] }
    return alphanumeric(String(name))
  }

  static func alphanumeric(_ text: String) -> String {
    String(text.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) })
  }

  /// Top-level package lines of `apt-cache depends --recurse … pkg:arm64`, arm64 only, without
  /// virtual packages ("<debconf-2.0>") and without the host architecture's duplicates.
  public static func arm64Packages(fromAptCacheDepends output: String) -> [String] {
    var seen: Set<String> = []
    var names: [String] = []
    for line in output.split(separator: "\n") where !line.hasPrefix(" ") {
      let text = line.trimmingCharacters(in: .whitespaces)
      guard !text.hasPrefix("<"), text.hasSuffix(":arm64") else { continue }
      let name = String(text.dropLast(":arm64".count))
      if !name.isEmpty, seen.insert(name).inserted { names.append(name) }
    }
    return names
  }

  // MARK: search

  struct Collected {
    var files: [GuestFile] = []
    var byPath: [String: GuestFile] = [:]
    mutating func insert(_ file: GuestFile) {
      guard byPath[file.path] == nil else { return }
      byPath[file.path] = file; files.append(file)
    }
  }

  mutating func candidates() throws -> [String] {
    if let candidateList { return candidateList }
    let list = try listCandidates()
    candidateList = list
    return list
  }

  func isFetched(_ package: String) -> Bool { trees.contains { $0.package == package } }

  mutating func fetchTree(_ package: String) throws {
    guard !isFetched(package) else { return }
    trees.append((package, try fetch(package)))
  }

  /// Unfetched candidates, closest name first (longest common prefix of the keys).
  mutating func rankedCandidates(for soname: String) throws -> [String] {
    let candidates = try candidates()
    let key = Array(Self.packageKey(soname: soname))
    func score(_ package: String) -> Int {
      zip(key, Self.packageKey(package: package)).prefix { $0 == $1 }.count
    }
    return candidates.filter { !isFetched($0) }
      .map { ($0, score($0)) }
      .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
      .map(\.0)
  }

  /// The guest path under which the loader would find `soname`, if any tree has it.
  func findLibrary(_ soname: String) -> String? {
    for directory in Self.libraryDirectories {
      let path = directory + "/" + soname
      if locate(path) != nil { return path }
    }
    return nil
  }

  mutating func addLibrary(_ soname: String, to collected: inout Collected) throws -> String? {
    guard let path = findLibrary(soname) else { return nil }
    return try add(path, to: &collected)
  }

  /// The host path of a guest path in the first tree that has it (as a file or a link).
  func locate(_ guestPath: String) -> String? {
    for tree in trees {
      let host = tree.root + "/" + guestPath
      if (try? FileManager.default.attributesOfItem(atPath: host)) != nil { return host }
    }
    return nil
  }

  /// Adds a guest path, following symbolic links (each link and its final file are kept, as
  /// Debian ships them). Returns the final file's guest path, or nil if no tree has it.
  mutating func add(_ guestPath: String, to collected: inout Collected) throws -> String? {
    var path = Self.normalized(guestPath)
    var links: [GuestFile] = []
    for _ in 0..<16 {
      guard let host = locate(path) else { return nil }
      let attributes = try FileManager.default.attributesOfItem(atPath: host)
      if attributes[.type] as? FileAttributeType == .typeSymbolicLink {
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: host)
        links.append(.symlink(path: path, target: target))
        path = Self.normalized(target.hasPrefix("/") ? target : Self.directory(of: path) + "/" + target)
        continue
      }
      for link in links { collected.insert(link) }
      collected.insert(.file(path: path, source: host))
      return path
    }
    throw SharedLibraryError.symlinkLoop(guestPath)
  }

  static func dynamicInfo(_ source: String) throws -> ELFDynamicInfo {
    guard let data = FileManager.default.contents(atPath: source) else {
      throw SharedLibraryError.unreadable(path: source, reason: "read failed")
    }
    do {
      return try ELFDynamicInfo.parse([UInt8](data))
    } catch {
      throw SharedLibraryError.unreadable(path: source, reason: error.description)
    }
  }

  // MARK: paths (guest paths are relative to the guest's root, without a leading "/")

  static func normalized(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/") {
      switch part {
      case ".": continue
      case "..": if !parts.isEmpty { parts.removeLast() }
      default: parts.append(part)
      }
    }
    return parts.joined(separator: "/")
  }

  static func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "" }
    return String(path[..<slash])
  }

  static func lastComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
  }
}
