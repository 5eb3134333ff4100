// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM while the mount is busy (a descriptor open in it, a process's working directory inside
 * it): the daemon ends the mount and exits at once, where it waited 10 s for a loop that could not
 * end, and says in its log what it did. The wait for the exit is a bound, not a timing: the daemon
 * had to exit within it, and it is well under the 10 s the old code took.
 */
@DisplayName("a busy mount stops promptly on SIGTERM, and the log says why it was busy")
class BusyStopIT {
    private static final long EXIT_BOUND_SECONDS = 6;
    private static final int ENOTCONN = 107;

    @TempDir
    Path tmp;

    @Test
    @DisplayName("with a descriptor open in the mount: exits, and the descriptor then gets ENOTCONN")
    void openDescriptor() throws Exception {
        SecretPage page = SecretPage.random(2, 32, 4096);
        Path backing = page.write(tmp.resolve("page.bin"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        CocoDaemon.assumeFuse();
        try (CocoDaemon daemon = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            int fd = Sys.C.open(Sys.path(mnt.resolve(page.names.get(0)).toString()), Sys.O_RDONLY, 0);
            assertThat(fd).isNotNegative();
            try {
                daemon.process.destroy(); // SIGTERM
                assertThat(daemon.process.waitFor(EXIT_BOUND_SECONDS, TimeUnit.SECONDS))
                        .as("daemon exited within %d s of SIGTERM; log:%n%s", EXIT_BOUND_SECONDS, daemon.log()).isTrue();
                assertThat(daemon.process.exitValue()).isZero();
                checkLog(daemon.log(), daemon.mountPoint);
                assertThat(MountTable.at(daemon.mountPoint)).as("the mount, after the exit").isEmpty();
                byte[] buf = new byte[32];
                assertThat(Sys.C.read(fd, buf, 32)).as("a read on the descriptor left open").isEqualTo(-1);
                assertThat(Sys.errno()).isEqualTo(ENOTCONN);
            } finally {
                Sys.C.close(fd);
            }
        }
    }

    @Test
    @DisplayName("with a process whose working directory is in the mount: exits")
    void workingDirectoryInside() throws Exception {
        SecretPage page = SecretPage.random(1, 32, 4096);
        Path backing = page.write(tmp.resolve("page.bin"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        CocoDaemon.assumeFuse();
        try (CocoDaemon daemon = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            Process shell = new ProcessBuilder("sh", "-c", "cd \"$1\" && echo in && exec sleep 120", "sh",
                    daemon.mountPoint.toString()).redirectErrorStream(true).start();
            try {
                assertThat(new String(shell.getInputStream().readNBytes(3))).as("the shell is in the mount")
                        .isEqualTo("in\n");
                assertThat(Files.readSymbolicLink(Path.of("/proc", String.valueOf(shell.pid()), "cwd")))
                        .isEqualTo(daemon.mountPoint);
                daemon.process.destroy(); // SIGTERM
                assertThat(daemon.process.waitFor(EXIT_BOUND_SECONDS, TimeUnit.SECONDS))
                        .as("daemon exited within %d s of SIGTERM; log:%n%s", EXIT_BOUND_SECONDS, daemon.log()).isTrue();
                assertThat(daemon.process.exitValue()).isZero();
                checkLog(daemon.log(), daemon.mountPoint);
                assertThat(MountTable.at(daemon.mountPoint)).as("the mount, after the exit").isEmpty();
            } finally {
                shell.destroyForcibly();
                shell.waitFor();
            }
        }
    }

    private static void checkLog(String log, Path mountPoint) {
        assertThat(log).as("the log says the mount was busy and what that means")
                .contains(mountPoint + " is busy (a file open or a working directory in it): ending the mount anyway;"
                        + " what is still open there gets ENOTCONN");
        assertThat(log).as("no unformatted message").doesNotContain("{0}").doesNotContain("{1}");
        assertThat(log).doesNotContain("did not end within");
    }
}
