// swift-tools-version:6.2
import PackageDescription

// Strict concurrency is the Swift 6 language mode default; these upcoming features keep
// imports and existentials explicit, as Hummingbird and swift-nio do.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "mitra-exporter",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mitra-exporter", targets: ["mitra-exporter"]),
    ],
    dependencies: [
        // Without the default traits: "FullFoundation" imports Foundation (and so links ICU) for
        // URL-encoded forms, which the exporter does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // C libraries and shims.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // libcurl itself is loaded at run time (see CCurl.h); OpenSSL is linked for the TLS details.
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        .target(name: "CBuildInfo"),
        .target(name: "CMallocTuning"),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        .target(name: "CPCRE2", linkerSettings: [.linkedLibrary("pcre2-8")]),

        // Owning Swift wrappers over the C libraries.
        .target(name: "PostgresClient", dependencies: ["CLibPQ"], swiftSettings: swiftSettings),
        .target(name: "HTTPProbe", dependencies: ["CCurl"], swiftSettings: swiftSettings),

        // Core: metric model and rendering, configuration, scheduling, samplers.
        .target(name: "Exposition", swiftSettings: swiftSettings),
        .target(
            name: "ExporterConfig",
            dependencies: ["CYAML", "CPCRE2"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Sampling",
            dependencies: ["Exposition", "ExporterConfig", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PostgresCollectors",
            dependencies: ["PostgresClient", "Sampling", "Exposition", "ExporterConfig",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HTTPChecks",
            dependencies: ["HTTPProbe", "Sampling", "Exposition", "ExporterConfig",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "LogFormats",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        // HTTP server, web config (TLS, basic auth), reload and lifecycle.
        .target(
            name: "ExporterServer",
            dependencies: [
                "Exposition", "ExporterConfig", "Sampling", "PostgresCollectors", "HTTPChecks", "LogFormats", "CBuildInfo", "CZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "mitra-exporter",
            dependencies: [
                "ExporterServer", "ExporterConfig", "LogFormats", "CMallocTuning",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Demo Agent Mitra backend for `make demo` and the exporter's integration tests.
        .executableTarget(
            name: "agentmitra-demo-api",
            dependencies: [
                "PostgresClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "demo/Sources/agentmitra-demo-api",
            swiftSettings: swiftSettings
        ),

        // Shared by every test target: the test environment (MITRA_TEST_*), a log recorder,
        // and the HTTP test server with its certificates.
        .target(
            name: "TestSupport",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "ExpositionTests", dependencies: ["Exposition", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ExporterConfigTests", dependencies: ["TestSupport", "ExporterConfig"],
            exclude: ["Fixtures"], swiftSettings: swiftSettings
        ),
        .testTarget(name: "SamplingTests", dependencies: ["TestSupport", "Sampling", "Exposition", "ExporterConfig"], swiftSettings: swiftSettings),
        .testTarget(name: "PostgresClientTests", dependencies: ["TestSupport", "PostgresClient"], swiftSettings: swiftSettings),
        .testTarget(name: "PostgresCollectorsTests", dependencies: ["TestSupport", "PostgresCollectors", "PostgresClient", "Sampling", "Exposition", "ExporterConfig", .product(name: "Logging", package: "swift-log")],
            exclude: ["Golden", "Recorded"], swiftSettings: swiftSettings),
        .testTarget(name: "HTTPProbeTests", dependencies: ["TestSupport", "HTTPProbe",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(name: "HTTPChecksTests", dependencies: ["TestSupport", "HTTPChecks", "HTTPProbe", "Sampling", "Exposition", "ExporterConfig",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(name: "LogFormatsTests", dependencies: ["TestSupport", "LogFormats", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(
            name: "ExporterServerTests",
            dependencies: ["TestSupport", "ExporterServer", "ExporterConfig", "Sampling", "Exposition", "LogFormats",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "CompressNIO", package: "compress-nio")],
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ReliabilityTests", dependencies: ["TestSupport", "ExporterConfig", "Exposition"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DemoAPITests",
            dependencies: ["TestSupport", "agentmitra-demo-api", "PostgresClient", "ExporterConfig",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log")],
            path: "demo/Tests/DemoAPITests",
            swiftSettings: swiftSettings
        ),
    ]
)
