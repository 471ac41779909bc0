public enum SomsimVersion { public static let string = "0.13.0" }
