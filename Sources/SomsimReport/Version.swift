/// The version of somsim: what `somsim --version` prints (`somsim 0.13.0`) and what reports and
/// manifests name as the tool that wrote them. One constant, so that they cannot disagree.
public enum SomsimVersion {
    public static let string = "0.13.0"
}
