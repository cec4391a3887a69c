/// The interrupt controller architecture: of the host (from its device tree) and of a guest
/// board (what its vGIC emulates). The raw value is the version number.
public enum GICVersion: Int, Sendable, Equatable { case v2 = 2, v3 = 3 }
