import CBuildInfo

public enum BuildInfo {
    public static let version = "0.1.0"
    public static var revision: String { String(cString: mitra_build_revision()) }
    public static let swiftVersion: String = {
        #if swift(>=6.3)
        "6.3"
        #elseif swift(>=6.2)
        "6.2"
        #else
        "6.x"
        #endif
    }()
}
