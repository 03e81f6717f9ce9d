/// The project's release version, printed by every executable's `--version`.
public enum MSCGRecVersion {
    public static let string = "0.1.0"
}
