// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.SeccompExec;
import dev.cocosecretfs.testing.SecretPage;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hardening that fails stops the daemon unless the operator says otherwise. The guards are made to
 * fail for real: the daemon runs under a seccomp filter that refuses setrlimit(RLIMIT_CORE) and
 * prctl(PR_SET_DUMPABLE) with EPERM (see {@link SeccompExec}).
 */
class WeakHardeningIT {
    static final String REFUSAL = "coco-secretfs: refusing to serve secrets: setrlimit(RLIMIT_CORE, 0) failed"
            + " (Operation not permitted): a crash could write secrets to a core file; prctl(PR_SET_DUMPABLE, 0)"
            + " failed (Operation not permitted): processes of the same user could read this one's memory"
            + " (--allow-weak-hardening serves them anyway)";

    @TempDir
    Path tmp;

    Path page;
    Path mnt;
    List<String> names;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        assumeTrue(System.getProperty("os.arch").equals("amd64"), "skipped: the seccomp filter is written for x86-64");
        page = tmp.resolve("page.bin");
        SecretPage secrets = SecretPage.randomLengths(2, 16, 16, 4096);
        secrets.write(page);
        names = secrets.names;
        mnt = Files.createDirectory(tmp.resolve("mnt")).toRealPath();
    }

    static ProcessBuilder underFilter(String... daemonArgs) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        // The test's own class path: SeccompExec binds libc through jnr-ffi, a test dependency only.
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "-cp", System.getProperty("java.class.path"),
                SeccompExec.class.getName()));
        cmd.addAll(CocoDaemon.command(CocoDaemon.Start.QUICK, CocoDaemon.jar(), List.of(daemonArgs)));
        return new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    }

    @Test
    @DisplayName("a guard that fails: one line naming it, exit 1, nothing mounted, the page untouched")
    void refusesToServe() throws Exception {
        byte[] before = Files.readAllBytes(page);
        Path err = tmp.resolve("err.txt");
        Process p = underFilter("mount", "--backing", page.toString(), mnt.toString())
                .redirectErrorStream(true).redirectOutput(err.toFile()).start();
        try {
            assertThat(p.waitFor(CocoDaemon.DEADLINE_MS, TimeUnit.MILLISECONDS)).as("the daemon ends by itself").isTrue();
            assertThat(p.exitValue()).as(Files.readString(err)).isEqualTo(1);
            assertThat(Files.readAllLines(err)).containsExactly(REFUSAL);
            assertThat(MountTable.at(mnt)).isEmpty();
            assertThat(Files.readAllBytes(page)).isEqualTo(before);
        } finally {
            CocoDaemon.cleanUp(List.of(p), mnt);
        }
    }

    @Test
    @DisplayName("--allow-weak-hardening: a warning per failed guard, and it serves")
    void servesWhenTheOperatorAcceptsTheRisk() throws Exception {
        Path log = tmp.resolve("log.txt");
        Process p = underFilter("mount", "--backing", page.toString(), "--allow-weak-hardening", mnt.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            CocoDaemon.awaitServing(p, mnt, log);
            assertThat(Files.readAllBytes(mnt.resolve(names.get(0)))).hasSize(16);
            assertThat(Files.readString(log))
                    .contains("coco-secretfs: warning: setrlimit(RLIMIT_CORE, 0) failed (Operation not permitted)")
                    .contains("coco-secretfs: warning: prctl(PR_SET_DUMPABLE, 0) failed (Operation not permitted)")
                    .contains("serving anyway (--allow-weak-hardening)");
            assertThat(CocoDaemon.stop(p)).isZero();
        } finally {
            CocoDaemon.cleanUp(List.of(p), mnt);
        }
    }
}
