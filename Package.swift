// swift-tools-version: 6.0
// One package, two worlds. The host build (`swift build`, `swift test`) compiles every
// portable module plus the CLI; the embedded image is built with
// `swift build -c release --triple aarch64-none-none-elf --toolset Support/toolset-el2.json --product KeelHypervisor`.
// Embedded mode comes only from the toolset, never from this manifest.
import PackageDescription

/// Portable modules: no Foundation, typed throws, no existentials of value protocols.
/// They compile into the EL2 image and into host test targets.
let portable: [Target.Dependency] = ["KeelArch", "KeelFDT", "KeelDevices", "KeelLoader", "KeelVGIC", "KeelPSCI", "KeelVM", "KeelBackdoor", "KeelTime", "KeelSched", "KeelVirtio"]

let package = Package(
  name: "Keel",
  products: [
    .executable(name: "KeelHypervisor", targets: ["KeelHypervisor"]),
    .executable(name: "keel", targets: ["keel"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
  ],
  targets: [
    // Functional core (portable).
    .target(name: "KeelArch"),
    .target(name: "KeelFDT", dependencies: ["KeelArch"]),
    .target(name: "KeelDevices", dependencies: ["KeelArch"]),
    .target(name: "KeelLoader"),
    .target(name: "KeelVGIC", dependencies: ["KeelArch"]),
    .target(name: "KeelPSCI", dependencies: ["KeelArch"]),
    .target(name: "KeelBackdoor"),
    .target(name: "KeelTime"),
    .target(name: "KeelSched"),
    .target(name: "KeelVirtio", dependencies: ["KeelArch", "KeelDevices"]),
    .target(name: "KeelVM", dependencies: ["KeelArch", "KeelFDT", "KeelDevices", "KeelLoader", "KeelVGIC", "KeelPSCI", "KeelSched", "KeelVirtio"]),
    // The datastore's on-disk format (portable, so that its crash-safety is tested byte by byte).
    .target(name: "KeelDatastore"),

    // Thin hardware shell (EL2 only; preprocesses to nothing on the host).
    .target(name: "CKeelEL2"),
    .executableTarget(name: "KeelHypervisor", dependencies: portable + ["CKeelEL2"]),

    // Host side.
    .target(name: "KeelHost", dependencies: [
      "KeelLoader",
      "KeelVM",
      "KeelSched",
      "KeelDatastore",
      .product(name: "Logging", package: "swift-log"),
      .product(name: "Crypto", package: "swift-crypto"),
    ]),
    .executableTarget(name: "keel", dependencies: [
      "KeelHost",
      "KeelVM",
      .product(name: "ArgumentParser", package: "swift-argument-parser"),
      .product(name: "Logging", package: "swift-log"),
    ]),

    // Tests.
    .testTarget(name: "KeelArchTests", dependencies: ["KeelArch"]),
    .testTarget(name: "KeelFDTTests", dependencies: ["KeelFDT", "KeelVM"], resources: [.copy("Fixtures")]),
    .testTarget(name: "KeelDevicesTests", dependencies: ["KeelDevices"]),
    .testTarget(name: "KeelLoaderTests", dependencies: ["KeelLoader"]),
    .testTarget(name: "KeelVGICTests", dependencies: ["KeelVGIC"]),
    .testTarget(name: "KeelPSCITests", dependencies: ["KeelPSCI"]),
    .testTarget(name: "KeelVMTests", dependencies: ["KeelVM"]),
    .testTarget(name: "KeelVirtioTests", dependencies: ["KeelVirtio", "KeelDevices", "KeelArch"]),
    .testTarget(name: "KeelDatastoreTests", dependencies: ["KeelDatastore"]),
    .testTarget(name: "KeelBackdoorTests", dependencies: ["KeelBackdoor"]),
    .testTarget(name: "KeelTimeTests", dependencies: ["KeelTime"]),
    .testTarget(name: "KeelSchedTests", dependencies: ["KeelSched"]),
    .testTarget(name: "KeelHostTests", dependencies: ["KeelHost", "KeelVM", "KeelFDT"]),
    .testTarget(name: "KeelSystemTests", dependencies: ["KeelHost"]),
  ]
)
