extension Duration {
    /// Seconds as a Double, for metric values and timeouts handed to C libraries.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
