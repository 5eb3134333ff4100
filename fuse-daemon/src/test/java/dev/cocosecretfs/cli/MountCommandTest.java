// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import picocli.CommandLine;

/** The plain parser of {@code mount} (the boot path) against picocli's, which it must never contradict. */
class MountCommandTest {

    /** Words that make up mount command lines, plain and not. */
    private static final List<String> WORDS = List.of(
            "/run/coco", "mnt", "page.bin", "--backing", "--backing=/dev/coco_secret", "--backing=",
            "--uid", "--uid=1000", "--uid=-1", "--gid", "--gid=010", "1000", "010", "x", "-5", "",
            "--mode", "--mode=0400", "0440", "--allow-other", "--allow-other=true", "-v", "--verbose",
            "--allow-weak-hardening", "--allow-weak-hardening=true", "--allow-weak",
            "-vv", "--", "-h", "--help", "--version", "--backin", "--unknown", "-x",
            "--dir-mode", "--dir-mode=1777", "1777", "--policy", "--policy=/etc/p", "--optional-policy",
            "--optional-policy=/etc/coco-secretfs/policy", "--policy=", "policy.txt");

    @Property(tries = 3000)
    void whatThePlainParserTakesPicocliTakesTheSameWay(@ForAll("commandLines") List<String> args) {
        Optional<MountCommand> plain = MountCommand.parsePlain(args);
        Statistics.collect(plain.isPresent() ? "plain" : "to picocli");
        Statistics.coverage(coverage -> coverage.check("plain").percentage(p -> p >= 3));
        if (plain.isEmpty()) {
            return; // picocli parses it: slower, never different
        }
        MountCommand expected = new MountCommand();
        CommandLine.ParseResult result = new CommandLine(expected).parseArgs(args.toArray(new String[0]));
        assertThat(result.isUsageHelpRequested() || result.isVersionHelpRequested()).as("help in %s", args).isFalse();
        assertSame(plain.get(), expected);
    }

    @Provide
    Arbitrary<List<String>> commandLines() {
        return Arbitraries.of(WORDS).list().ofMaxSize(7);
    }

    @Example
    void theBootCommandLineIsPlain() {
        Optional<MountCommand> plain = MountCommand.parsePlain(List.of("--allow-other", "/run/coco"));
        assertThat(plain).isPresent();
        assertThat(plain.get().allowOther).isTrue();
        assertThat(plain.get().mountPoint).isEqualTo(Path.of("/run/coco"));
        assertThat(plain.get().backing).isEqualTo(Path.of("/dev/coco_secret"));
        assertThat(plain.get().allowWeakHardening).as("hardening is required unless asked").isFalse();
    }

    @Example
    void everyOptionInBothForms() {
        List<String> args = List.of("--backing", "p.bin", "--uid=1000", "--gid", "1001", "--mode=0400", "-v",
                "--allow-weak-hardening", "--dir-mode", "1777", "--policy=p", "--optional-policy", "/etc/q", "--",
                "-dir");
        MountCommand plain = MountCommand.parsePlain(args).orElseThrow();
        MountCommand expected = new MountCommand();
        new CommandLine(expected).parseArgs(args.toArray(new String[0]));
        assertSame(plain, expected);
        assertThat(plain.uid).isEqualTo(1000);
        assertThat(plain.allowWeakHardening).isTrue();
        assertThat(plain.mountPoint).isEqualTo(Path.of("-dir"));
        assertThat(plain.dirMode).isEqualTo("1777");
        assertThat(plain.policy).isEqualTo(Path.of("p"));
        assertThat(plain.optionalPolicy).isEqualTo(Path.of("/etc/q"));
    }

    @Example
    void theUnitsCommandLineIsPlainWithItsOptionalPolicy() throws CliException {
        MountCommand plain = MountCommand.parsePlain(List.of("--allow-other", "--optional-policy",
                "/etc/coco-secretfs/policy", "/run/coco")).orElseThrow();
        assertThat(plain.policyFile()).hasValueSatisfying(file -> {
            assertThat(file.path()).isEqualTo(Path.of("/etc/coco-secretfs/policy"));
            assertThat(file.optional()).isTrue();
        });
    }

    @Example
    void policyAndOptionalPolicyExcludeEachOther() {
        MountCommand both = MountCommand.parsePlain(List.of("--policy", "a", "--optional-policy", "b", "/m"))
                .orElseThrow();
        assertThatThrownBy(both::policyFile).isInstanceOfSatisfying(CliException.class,
                e -> assertThat(e.exitCode()).isEqualTo(CliException.EX_USAGE))
                .hasMessage("--policy and --optional-policy exclude each other");
    }

    @Example
    void dirModeTakesPermissionBitsAndTheStickyBit() throws CliException {
        assertThat(MountCommand.ownership(0, 0, "0440", Optional.of("1777")).directoryMode(true)).isEqualTo(01777);
        for (String bad : List.of("4755", "rwx", "17777", "-1")) {
            assertThatThrownBy(() -> MountCommand.ownership(0, 0, "0440", Optional.of(bad)))
                    .as(bad).isInstanceOf(CliException.class).hasMessageStartingWith("--dir-mode " + bad + ": ");
        }
    }

    @Example
    void helpErrorsAndRepeatsGoToPicocli() {
        for (List<String> args : List.<List<String>>of(List.of("--help"), List.of("-h", "/m"), List.of(), List.of("/a", "/b"),
                List.of("--uid", "1", "--uid", "2", "/m"), List.of("--uid", "x", "/m"), List.of("--backing"),
                List.of("--verbose=true", "/m"), List.of("--unknown", "/m"))) {
            assertThat(MountCommand.parsePlain(args)).as("%s", args).isEmpty();
        }
    }

    private static void assertSame(MountCommand actual, MountCommand expected) {
        assertThat(actual.backing).isEqualTo(expected.backing);
        assertThat(actual.uid).isEqualTo(expected.uid);
        assertThat(actual.gid).isEqualTo(expected.gid);
        assertThat(actual.mode).isEqualTo(expected.mode);
        assertThat(actual.allowOther).isEqualTo(expected.allowOther);
        assertThat(actual.allowWeakHardening).isEqualTo(expected.allowWeakHardening);
        assertThat(actual.verbose).isEqualTo(expected.verbose);
        assertThat(actual.mountPoint).isEqualTo(expected.mountPoint);
        assertThat(actual.dirMode).isEqualTo(expected.dirMode);
        assertThat(actual.policy).isEqualTo(expected.policy);
        assertThat(actual.optionalPolicy).isEqualTo(expected.optionalPolicy);
    }
}
