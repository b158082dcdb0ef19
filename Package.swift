// swift-tools-version:6.0
import PackageDescription

// `-fno-math-errno` lets sqrt/exp lower to vector instructions in the optimizer and
// activation loops (without it each element is a libm call: about 2x slower training).
let fastMath: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-fno-math-errno"])]

let package = Package(
  name: "DLP",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "dlp", targets: ["dlp"]),
    .executable(name: "dlp-coordinator", targets: ["dlp-coordinator"]),
    .executable(name: "dlp-worker", targets: ["dlp-worker"]),
    .library(name: "DLP", targets: ["DLP"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
  ],
  targets: [
    .systemLibrary(name: "CBLAS", pkgConfig: "openblas"),
    .systemLibrary(name: "CZMQ", pkgConfig: "libzmq"),
    .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c"),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib"),
    .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
    .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg"),
    .systemLibrary(name: "CHDF5", pkgConfig: "hdf5"),
    .target(name: "DLPProto", dependencies: ["CProtobufC"], cSettings: [.unsafeFlags(["-O2"])]),
    .target(name: "TensorBoardProto", dependencies: ["CProtobufC"], cSettings: [.unsafeFlags(["-O2"])]),
    // Element-wise kernels compiled per instruction set (SSE2, AVX2, AVX-512F), picked at run time;
    // no FMA contraction, so every variant gives the same bits.
    .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off", "-fno-math-errno"])]),
    .target(name: "DLPTensor", dependencies: ["CBLAS", "CKernels"], swiftSettings: fastMath),
    // Process-level OS calls Swift's Glibc module leaves out (CPU affinity, behind _GNU_SOURCE).
    .target(name: "CProcess"),
    .target(name: "DLPData", dependencies: ["DLPTensor", "CZlib", "CHDF5", "CPNG", "CJPEG"], swiftSettings: fastMath),
    .target(
      name: "DLP",
      dependencies: [
        "DLPTensor", "DLPData", "TensorBoardProto", "CProtobufC", "CKernels",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: fastMath),
    .target(
      name: "DLPTransport",
      dependencies: ["DLPTensor", "DLPProto", "CZMQ", .product(name: "Logging", package: "swift-log")],
      swiftSettings: fastMath),
    .target(
      name: "DLPCluster",
      dependencies: ["DLP", "DLPTransport", "DLPTensor", "CProcess", .product(name: "Logging", package: "swift-log")],
      swiftSettings: fastMath),
    .target(name: "DLPPlot", dependencies: ["DLP", "DLPData"]),
    .target(
      name: "DLPCommands",
      dependencies: [
        "DLP", "DLPCluster", "DLPPlot", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    .executableTarget(name: "dlp", dependencies: ["DLPCommands", "DLPTensor"]),
    .executableTarget(name: "dlp-coordinator", dependencies: ["DLPCommands", "DLPTensor"]),
    .executableTarget(name: "dlp-worker", dependencies: ["DLPCommands", "DLPTensor"]),
    .testTarget(name: "DLPTensorTests", dependencies: ["DLPTensor", "CKernels"]),
    .testTarget(name: "DLPDataTests", dependencies: ["DLPData", "DLPTensor"], exclude: ["Fixtures"]),
    .testTarget(name: "DLPTests", dependencies: ["DLP", "DLPTensor"]),
    .testTarget(name: "DLPTransportTests", dependencies: ["DLPTransport", "DLPTensor", "DLPTestSupport"]),
    .testTarget(name: "DLPClusterTests", dependencies: ["DLPCluster", "DLP", "DLPTensor", "DLPTestSupport"]),
    .testTarget(name: "EndToEndTests", dependencies: ["DLP", "DLPTensor", "DLPTransport", "DLPTestSupport"]),
    .testTarget(name: "DLPPlotTests", dependencies: ["DLPPlot", "DLP"]),
    // What several test targets share (the seeded message fuzzer); not shipped.
    .target(name: "DLPTestSupport", dependencies: ["DLPTransport"], path: "Tests/DLPTestSupport"),
  ]
)
