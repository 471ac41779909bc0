import SomsimModel
import Testing

/// `somsim` and the benchmark programs start with `HeapTuning.keepFreedMemory()`. A shim that
/// compiled its `mallopt` calls out (as one did, when it tested `__GLIBC__` before including a
/// header that defines it) would leave every run paying its page faults again, silently: this
/// holds the shim to glibc's answer for each of its three settings.
@Suite struct HeapTuningTests {
    @Test func glibcTakesAllThreeSettings() {
        #if canImport(Glibc)
        #expect(HeapTuning.keepFreedMemory() == 3, "glibc's mallopt refused a setting, or the shim did not call it")
        #else
        #expect(HeapTuning.keepFreedMemory() == 0, "without glibc the shim changes nothing")
        #endif
    }
}
