/// A configuration value that cannot work, with a message naming the field: shared by every model's and trainer's
/// config (Models, Training), so it lives below both.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
