package dev.ds4j.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The registry answers for every substrate, and an unavailable one fails with its reason. */
class SandboxSubstratesTest {

    @Test
    void reportsEverySubstrateWithAReason() {
        Substrates all = Substrates.standard();
        Map<String, Substrate.Availability> report = all.report();
        report.forEach((n, a) -> System.out.println(n + ": " + (a.available() ? "available" : "unavailable") + " - " + a.reason()));
        assertThat(report.keySet()).containsExactly("function", "process", "gvisor", "vm", "firecracker");
        report.values().forEach(a -> assertThat(a.reason()).isNotBlank());
        assertThat(report.get("function").available()).isTrue();
        // Not implemented in this slice: unavailable whatever is installed, with what was found.
        assertThat(report.get("firecracker").available()).isFalse();
        if (Substrates.onPath("runsc") == null) assertThat(report.get("gvisor").reason()).contains("not installed");
        else if (ProcessSubstrate.isRoot()) assertThat(report.get("gvisor").available()).as(report.get("gvisor").reason()).isTrue();
        // vm: available exactly when QEMU is installed and the guest image has been built.
        boolean qemu = Substrates.onPath("qemu-system-x86_64") != null;
        boolean image = Files.isRegularFile(VmImage.defaultDir().resolve("image.properties"));
        assertThat(report.get("vm").available()).isEqualTo(qemu && image);
        assertThat(report.get("vm").reason()).contains(!qemu ? "not installed" : !image ? "tools/vm-image.sh" : "guest kernel");
        if (!Files.exists(Path.of("/dev/kvm"))) assertThat(report.get("firecracker").reason()).contains("/dev/kvm is missing");
        // The process substrate is available exactly when its prerequisites are.
        boolean prerequisites = Substrates.onPath("bwrap") != null && ProcessSubstrate.isRoot();
        if (!prerequisites) assertThat(report.get("process").available()).isFalse();
    }

    @Test
    void unavailableAndUnknownSubstratesFailClearly() {
        Substrates all = Substrates.standard();
        assertThatThrownBy(() -> all.require("firecracker"))
                .isInstanceOf(SubstrateUnavailableException.class)
                .hasMessageStartingWith("sandbox substrate 'firecracker' is unavailable: ");
        assertThatThrownBy(() -> all.get("firecracker").create(SandboxSpec.defaults()))
                .isInstanceOf(SubstrateUnavailableException.class);
        assertThatThrownBy(() -> all.get("docker"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("known: [function, process");
        assertThat(all.require("function").name()).isEqualTo("function");
    }

    @Test
    void processSubstrateWithoutBwrapSaysHowToInstallIt() {
        // Only checkable where bwrap is missing; elsewhere the report's reason must not claim it is.
        Substrate.Availability a = new ProcessSubstrate().availability();
        if (Substrates.onPath("bwrap") == null) assertThat(a.reason()).contains("apt-get install -y bubblewrap");
        else assertThat(a.reason()).doesNotContain("not installed");
    }

    @Test
    void specRejectsNonsense() {
        SandboxSpec d = SandboxSpec.defaults();
        assertThatThrownBy(() -> d.withMemoryMb(1)).hasMessageContaining("memoryMb");
        assertThatThrownBy(() -> d.withPids(0)).hasMessageContaining("pids");
        assertThatThrownBy(() -> d.withCpus(0)).hasMessageContaining("cpus");
        assertThatThrownBy(() -> d.withTimeout(java.time.Duration.ZERO)).hasMessageContaining("timeout");
        assertThatThrownBy(() -> d.withEnv("A=B", "x")).hasMessageContaining("environment variable");
    }
}
