import Foundation
import Testing

extension SystemTests {
  /// `keel run A.vmx B.vmx` ↔ Unix sockets ↔ `keel guestinfo`/`pause`/`resume`, end to end, with a
  /// stand-in qemu-system-aarch64 that speaks the hypervisor's side of the management protocol
  /// (protocols.md): it seeds guestinfo from the config module it was given, answers 0x1C command
  /// lines with `keel: mgmt: …`, and powers every VM off when `guestinfo <vm> fake.poweroff` is set.
  /// No hypervisor or guest is needed; only the built `keel` binary.
  @Suite struct ManagementChannelTests {
    static let fakeQEMU = #"""
      #!/bin/sh
      rec="${FAKE_QEMU_RECORD:?}"
      mkdir -p "$rec/guestinfo"
      printf '%s\n' "$@" > "$rec/argv"
      # dash's echo would interpret the backslashes of escaped values; printf '%s' does not.
      for a in "$@"; do
        case "$a" in loader,file=*) f=${a#loader,file=}; cp "${f%%,addr=*}" "$rec/config" ;; esac
      done
      tr -d '\000' < "$rec/config" | while IFS= read -r l; do
        case "$l" in
          "vm "*) cur=${l#vm } ;;
          "guestinfo "*) kv=${l#guestinfo }; k=${kv%% *}; v=""; [ "$k" != "$kv" ] && v=${kv#* }
                         printf '%s' "$v" > "$rec/guestinfo/$cur.$k" ;;
        esac
      done
      vms=$(tr -d '\000' < "$rec/config" | sed -n 's/^vm //p')
      echo "keel: fake hypervisor"
      echo "guest: hello from the fake guest"
      FS=$(printf '\034')
      while IFS= read -r line; do
        case "$line" in "$FS"*) ;; *) continue ;; esac
        [ -n "$FAKE_QEMU_SILENT" ] && continue
        cmd=${line#"$FS"}
        verb=${cmd%% *}; rest=${cmd#* }; vm=${rest%% *}
        case "$verb" in
          guestinfo)
            rest=${rest#* }; key=${rest%% *}
            if [ "$key" = "$rest" ]; then
              if [ -f "$rec/guestinfo/$vm.$key" ]; then printf 'keel: mgmt: ok %s\n' "$(cat "$rec/guestinfo/$vm.$key")"
              else echo "keel: mgmt: error no value for guestinfo.$key"; fi
            else
              printf '%s' "${rest#* }" > "$rec/guestinfo/$vm.$key"
              echo "keel: mgmt: ok"
              if [ "$key" = "fake.poweroff" ]; then
                for v in $vms; do echo "keel: $v: stopped: poweroff"; done
                exit 0
              fi
            fi ;;
          pause|resume) echo "$verb $vm" >> "$rec/log"; echo "keel: mgmt: ok" ;;
          *) echo "keel: mgmt: error unknown command $verb" ;;
        esac
      done
      """#

    struct Sandbox {
      let directory: URL
      var runDirectory: URL { directory.appendingPathComponent("run") }
      var record: URL { directory.appendingPathComponent("record") }

      init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("keel-mgmt-\(UUID().uuidString)")
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let fake = bin.appendingPathComponent("qemu-system-aarch64")
        try Self.fakeText.write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        // A raw guest binary: it is only ever read by keel's image checks, never run.
        try Data(repeating: 0, count: 8192).write(to: directory.appendingPathComponent("guest.bin"))
        try Data([0x7F, 0x45, 0x4C, 0x46]).write(to: directory.appendingPathComponent("placeholder-hypervisor.elf"))
        try write("web.vmx", """
          .encoding = "UTF-8"
          displayName = "web"
          numvcpus = "2"
          memsize = "64"
          keel.kernel = "guest.bin"
          keel.loadAddress = "0x40080000"
          guestinfo.ip = "10.0.0.2"
          """)
        try write("db.vmx", """
          memsize = "32"
          keel.kernel = "guest.bin"
          keel.loadAddress = "0x40080000"
          """)
      }

      static var fakeText: String { ManagementChannelTests.fakeQEMU }

      func write(_ name: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
      }

      func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

      func environment(silent: Bool = false) -> [String: String] {
        var env = [
          "PATH": directory.appendingPathComponent("bin").path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
          "KEEL_RUN_DIR": runDirectory.path,
          "FAKE_QEMU_RECORD": record.path,
        ]
        if silent { env["FAKE_QEMU_SILENT"] = "1" }
        return env
      }

      /// `keel run` in the background, as a user would leave it running in another terminal.
      func startRun(_ files: [String], silent: Bool = false) throws -> (Process, URL, URL) {
        try KeelHarness.require(KeelHarness.keelBinary, builtBy: "run `swift build --product keel`")
        let out = directory.appendingPathComponent("run-\(UUID().uuidString).out")
        let err = directory.appendingPathComponent("run-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KeelHarness.keelBinary)
        process.arguments = ["run", "--hypervisor", path("placeholder-hypervisor.elf"), "--timeout", "120"] + files.map(path)
        process.environment = ProcessInfo.processInfo.environment.merging(environment(silent: silent)) { $1 }
          .merging(["KEEL_ROOT": KeelHarness.root]) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        return (process, out, err)
      }

      func waitForSockets(_ names: [String], of process: Process, err: URL) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
          if names.allSatisfy({ FileManager.default.fileExists(atPath: runDirectory.appendingPathComponent("\($0).sock").path) }) { return }
          if !process.isRunning {
            throw KeelHarness.Missing(description: "keel run ended early: \((try? String(contentsOf: err, encoding: .utf8)) ?? "")")
          }
          usleep(50_000)
        }
        process.terminate()
        throw KeelHarness.Missing(description: "sockets \(names) did not appear")
      }

      func keel(_ arguments: [String], silent: Bool = false) throws -> KeelHarness.Run {
        try KeelHarness.run(arguments, hardLimit: 60, environment: environment(silent: silent))
      }

      func sockets() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? []).filter { $0.hasSuffix(".sock") }.sorted()
      }

      func wait(_ process: Process, seconds: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        guard process.isRunning else { return true }
        // SIGKILL: the point is to never leave a keel (and its QEMU) behind.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return false
      }

      func cleanUp() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test func guestinfoPauseResumeThroughARunningKeel() throws {
      let box = try Sandbox()
      defer { box.cleanUp() }
      let (run, out, err) = try box.startRun(["web.vmx", "db.vmx"])
      try box.waitForSockets(["web", "db", "vm0", "vm1"], of: run, err: err)

      // A value from the .vmx file, through the config module, with and without the prefix.
      let ip = try box.keel(["guestinfo", "web", "ip"])
      #expect(ip.status == 0, "\(ip.output)")
      #expect(ip.stdout == "10.0.0.2\n")
      #expect(try box.keel(["guestinfo", "vm0", "guestinfo.ip"]).stdout == "10.0.0.2\n")

      // Set through an alias, read back by name: the value survives escaping both ways.
      let value = " two  words\\ and a\ttab "
      let set = try box.keel(["guestinfo", "vm1", "guestinfo.motd", value])
      #expect(set.status == 0, "\(set.output)")
      #expect(set.stdout.isEmpty)
      let motd = try box.keel(["guestinfo", "db", "motd"])
      #expect(motd.status == 0)
      #expect(motd.stdout == value + "\n")

      let missing = try box.keel(["guestinfo", "web", "nothing"])
      #expect(missing.status == 1)
      #expect(missing.stdout.isEmpty)
      #expect(missing.keelLines == ["keel: web: no value for guestinfo.nothing"])

      #expect(try box.keel(["pause", "db"]).status == 0)
      #expect(try box.keel(["resume", "vm0"]).status == 0)
      let log = try String(contentsOf: box.record.appendingPathComponent("log"), encoding: .utf8)
      #expect(log == "pause db\nresume web\n")

      let nobody = try box.keel(["guestinfo", "nosuch", "ip"])
      #expect(nobody.status == 1)
      #expect(nobody.keelLines.first?.contains("no running VM named nosuch") == true, "\(nobody.stderr)")

      // A second run may not take a name that is in use.
      let clash = try box.keel(["run", "--hypervisor", box.path("placeholder-hypervisor.elf"), box.path("web.vmx")])
      #expect(clash.status == 2)
      #expect(clash.keelLines.last?.contains("a VM named web is already running") == true, "\(clash.stderr)")

      #expect(try box.keel(["guestinfo", "web", "fake.poweroff", "now"]).status == 0)
      #expect(box.wait(run))
      #expect(run.terminationStatus == 0, "\((try? String(contentsOf: err, encoding: .utf8)) ?? "")")
      #expect(box.sockets().isEmpty)

      let console = try String(contentsOf: out, encoding: .utf8)
      #expect(console.contains("guest: hello from the fake guest"))
      #expect(!console.contains("mgmt"), "\(console)")
      #expect(console.contains("keel: web: stopped: poweroff") && console.contains("keel: db: stopped: poweroff"))

      let argv = try String(contentsOf: box.record.appendingPathComponent("argv"), encoding: .utf8).split(separator: "\n").map(String.init)
      let config = try String(contentsOf: box.record.appendingPathComponent("config"), encoding: .utf8)
      #expect(config.hasSuffix("\0"))
      #expect(config.contains("vm web\ncpus 2\nmemory 64\n") && config.contains("vm db\ncpus 1\nmemory 32\n"))
      let append = argv.firstIndex(of: "-append").map { argv[$0 + 1] } ?? ""
      let loader = argv.first { $0.hasPrefix("loader,file=") } ?? ""
      #expect(append.hasPrefix("keel.config=0x"))
      #expect(loader.contains(",addr=\(append.dropFirst("keel.config=".count)),force-raw=on"))
    }

    @Test func aSilentHypervisorTimesOutAndKilledRunsLeaveNoSockets() throws {
      let box = try Sandbox()
      defer { box.cleanUp() }
      let (run, _, err) = try box.startRun(["web.vmx"], silent: true)
      try box.waitForSockets(["web", "vm0"], of: run, err: err)
      let started = Date()
      let silent = try box.keel(["guestinfo", "web", "ip"])
      #expect(silent.status == 1)
      #expect(silent.keelLines == ["keel: web: no reply from the hypervisor within 10 s"])
      #expect(Date().timeIntervalSince(started) >= 9.5)

      run.terminate()
      #expect(box.wait(run))
      #expect(run.terminationStatus != 0)
      #expect(box.sockets().isEmpty)
    }

    @Test func badFilesAreRefusedBeforeQEMUStarts() throws {
      let box = try Sandbox()
      defer { box.cleanUp() }
      try box.write("bad.vmx", "displayName = \"bad\"\nnumvcpus = \"two\"\n")
      let bad = try box.keel(["run", "--hypervisor", box.path("placeholder-hypervisor.elf"), box.path("bad.vmx")])
      #expect(bad.status == 2)
      #expect(bad.keelLines.last == "keel: bad.vmx:2: numvcpus: \"two\" is not a number")
      #expect(!FileManager.default.fileExists(atPath: box.record.appendingPathComponent("argv").path))

      try box.write("dup.vmx", "displayName = \"web\"\nkeel.kernel = \"guest.bin\"\nkeel.loadAddress = \"0x40080000\"\n")
      let duplicate = try box.keel(["run", "--hypervisor", box.path("placeholder-hypervisor.elf"), box.path("web.vmx"), box.path("dup.vmx")])
      #expect(duplicate.status == 2)
      #expect(duplicate.keelLines.last?.contains("two VMs are named \"web\"") == true, "\(duplicate.stderr)")

      let mixed = try box.keel(["run", "--cpus", "2", box.path("web.vmx")])
      #expect(mixed.status == 2)
      #expect(mixed.keelLines.last?.contains("--cpus") == true)

      try box.write("nokernel.vmx", "keel.kernel = \"missing.bin\"\n")
      let noKernel = try box.keel(["run", "--hypervisor", box.path("placeholder-hypervisor.elf"), box.path("nokernel.vmx")])
      #expect(noKernel.status == 2)
      #expect(noKernel.keelLines.last?.hasPrefix("keel: nokernel.vmx: keel.kernel: cannot read") == true, "\(noKernel.stderr)")
    }
  }
}
