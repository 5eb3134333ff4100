// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fake systemd of the restart tests, without a daemon: this JVM sends what a daemon would, and
 * children that are shells check what they were handed.
 */
@DisplayName("FakeSystemd")
class FakeSystemdTest {
    static final Duration BOUND = Duration.ofSeconds(20);
    static final int MFD_CLOEXEC = 1;
    static final int O_CLOEXEC = 02000000;
    static final short POLLHUP = 0x10;

    final Sys c = Sys.C;
    final Runtime runtime = Runtime.getRuntime(c);

    @TempDir
    Path tmp;

    int[] pipe() {
        int[] fds = new int[2];
        assertThat(c.pipe2(fds, O_CLOEXEC)).isZero();
        return fds;
    }

    int memfd(String text) {
        int fd = c.memfd_create("fake-systemd-test", MFD_CLOEXEC);
        assertThat(fd).isNotNegative();
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        assertThat(c.write(fd, bytes, bytes.length)).isEqualTo(bytes.length);
        return fd;
    }

    /** True once {@code fd} polls POLLHUP (every write end of its pipe closed), within the bound. */
    boolean hangsUp(int fd, Duration bound) {
        Pointer p = Memory.allocateDirect(runtime, 8, true);
        p.putInt(0, fd);
        int n = c.poll(p, 1, (int) bound.toMillis());
        return n == 1 && (p.getShort(6) & POLLHUP) != 0;
    }

    /** Waits, within the bound, for {@code marker} in the child's log; fails with the log if it exits first. */
    static void awaitLog(FakeSystemd.Child child, String marker) throws Exception {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!child.log().contains(marker)) {
            if (!child.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("no \"" + marker + "\" from the child: " + child.log());
            }
            Thread.sleep(10);
        }
    }

    /** The descriptors open in the child (after it exec'd sleep, which opens none of its own). */
    static List<Integer> openFds(FakeSystemd.Child child) throws Exception {
        try (var fds = Files.list(Path.of("/proc", String.valueOf(child.pid()), "fd"))) {
            return fds.map(p -> Integer.parseInt(p.getFileName().toString())).sorted().toList();
        }
    }

    @Test
    @DisplayName("a start hands the stored descriptors over at 3.., with LISTEN_FDS, LISTEN_FDNAMES and the child's pid")
    void handsOver() throws Exception {
        try (FakeSystemd systemd = new FakeSystemd(tmp.resolve("systemd"), 4, FakeSystemd.Access.ALL)) {
            int[] pipe = pipe();
            byte[] line = "through the pipe\n".getBytes(StandardCharsets.UTF_8);
            assertThat(c.write(pipe[1], line, line.length)).isEqualTo(line.length);
            int memfd = memfd("in the memfd");
            systemd.send("FDSTORE=1\nFDNAME=pipe", pipe[0]);
            systemd.send("FDSTORE=1\nFDNAME=state", memfd);
            c.close(pipe[0]);
            c.close(memfd);
            assertThat(systemd.storedNames(n -> n.size() == 2, BOUND)).as("newest first, as systemd lists them")
                    .containsExactly("state", "pipe");

            String check = "set -ex\n"
                    + "test \"$LISTEN_PID\" = \"$$\"\n"
                    + "test \"$LISTEN_FDS\" = 2\n"
                    + "test \"$LISTEN_FDNAMES\" = state:pipe\n"
                    + "test \"$NOTIFY_SOCKET\" = '" + systemd.socket() + "'\n"
                    + "test \"$EXTRA\" = yes\n"
                    + "read line <&4\n"
                    + "test \"$line\" = 'through the pipe'\n"
                    + "test \"$(cat /proc/$$/fd/3)\" = 'in the memfd'\n"
                    + "echo checked\n"
                    + "exec sleep 600\n";
            FakeSystemd.Child child = systemd.start(List.of("sh", "-c", check), Map.of("EXTRA", "yes"));
            awaitLog(child, "checked");
            assertThat(openFds(child)).as("nothing else of this JVM's is open in the child").containsExactly(0, 1, 2, 3, 4);
            child.destroy();
            assertThat(child.waitFor(BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            assertThat(systemd.storedNames()).as("the store keeps what it handed over").containsExactly("state", "pipe");
            c.close(pipe[1]);
        }
    }

    @Test
    @DisplayName("a start with nothing stored sets NOTIFY_SOCKET and no LISTEN_ variable")
    void nothingStored() throws Exception {
        try (FakeSystemd systemd = new FakeSystemd(tmp.resolve("systemd"), 4, FakeSystemd.Access.ALL)) {
            String check = "set -ex\n"
                    + "test -z \"${LISTEN_FDS+set}\"\n"
                    + "test -z \"${LISTEN_FDNAMES+set}\"\n"
                    + "test \"$LISTEN_PID\" = \"$$\"\n"
                    + "test \"$NOTIFY_SOCKET\" = '" + systemd.socket() + "'\n"
                    + "echo checked\n"
                    + "exec sleep 600\n";
            FakeSystemd.Child child = systemd.start(List.of("sh", "-c", check), Map.of("LISTEN_FDS", "7"));
            assertThat(child.waitFor(BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            // LISTEN_FDS=7 from the caller's map does get through: the control that the check can fail.
            assertThat(child.exitValue()).as("LISTEN_FDS from extraEnv is passed on").isNotZero();
            assertThat(child.log()).contains("+ test -z set");

            FakeSystemd.Child clean = systemd.start(List.of("sh", "-c", check), Map.of());
            awaitLog(clean, "checked");
            assertThat(openFds(clean)).containsExactly(0, 1, 2);
            clean.destroy();
            assertThat(clean.waitFor(BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        }
    }

    @Test
    @DisplayName("FDSTOREREMOVE=1 closes every descriptor of that name and no other")
    void remove() throws Exception {
        try (FakeSystemd systemd = new FakeSystemd(tmp.resolve("systemd"), 4, FakeSystemd.Access.ALL)) {
            int[] removed = pipe();
            int[] kept = pipe();
            systemd.send("FDSTORE=1\nFDNAME=w", removed[1]);
            systemd.send("FDSTORE=1\nFDNAME=keep", kept[1]);
            c.close(removed[1]);
            c.close(kept[1]);
            assertThat(systemd.storedNames(n -> n.size() == 2, BOUND)).containsExactly("keep", "w");
            systemd.send("FDSTOREREMOVE=1\nFDNAME=w");
            assertThat(hangsUp(removed[0], BOUND)).as("the store closed its write end").isTrue();
            assertThat(systemd.storedNames()).containsExactly("keep");
            assertThat(hangsUp(kept[0], Duration.ZERO)).as("the other one is still held").isFalse();
            c.close(removed[0]);
            c.close(kept[0]);
        }
    }

    @Test
    @DisplayName("a stored descriptor that hangs up is dropped, unless stored with FDPOLL=0")
    void hangUp() throws Exception {
        try (FakeSystemd systemd = new FakeSystemd(tmp.resolve("systemd"), 4, FakeSystemd.Access.ALL)) {
            int[] unpolled = pipe();
            int[] gone = pipe();
            int[] kept = pipe();
            systemd.send("FDSTORE=1\nFDNAME=unpolled\nFDPOLL=0", unpolled[0]);
            systemd.send("FDSTORE=1\nFDNAME=kept", kept[0]);
            assertThat(systemd.storedNames(n -> n.size() == 2, BOUND)).containsExactly("kept", "unpolled");
            c.close(unpolled[1]); // hangs up first: were it polled, it would go before "gone" does
            systemd.send("FDSTORE=1\nFDNAME=gone", gone[0]);
            assertThat(systemd.storedNames(n -> n.size() == 3, BOUND)).containsExactly("gone", "kept", "unpolled");
            c.close(gone[1]);
            assertThat(systemd.storedNames(n -> !n.contains("gone"), BOUND)).containsExactly("kept", "unpolled");
            assertThat(systemd.warnings()).contains("dropped gone on POLLHUP");
            c.close(unpolled[0]);
            c.close(gone[0]);
            c.close(kept[0]);
            c.close(kept[1]);
        }
    }

    @Test
    @DisplayName("the same open file is stored once; past FileDescriptorStoreMax descriptors are refused")
    void duplicatesAndLimit() throws Exception {
        try (FakeSystemd systemd = new FakeSystemd(tmp.resolve("systemd"), 3, FakeSystemd.Access.ALL)) {
            int a = memfd("a");
            int copy = c.fcntl(a, 1030, 0); // F_DUPFD_CLOEXEC: the same open file under another number
            int b = memfd("b");
            int d = memfd("d");
            int e = memfd("e");
            systemd.send("FDSTORE=1\nFDNAME=a", a);
            systemd.send("FDSTORE=1\nFDNAME=a", a);
            systemd.send("FDSTORE=1\nFDNAME=a", copy);
            systemd.send("FDSTORE=1\nFDNAME=a", b);
            systemd.send("FDSTORE=1\nFDNAME=d", d);
            systemd.send("FDSTORE=1\nFDNAME=e", e);
            systemd.send("READY=1"); // a marker: every message before it has been handled
            systemd.awaitReady(BOUND);
            assertThat(systemd.storedNames()).as("a new open file of a name already stored is kept beside it; %s",
                    systemd.warnings())
                    .containsExactly("d", "a", "a");
            assertThat(systemd.warnings()).anyMatch(w -> w.startsWith("FileDescriptorStoreMax=3 reached: e closed"));
            for (int fd : new int[] {a, copy, b, d, e}) {
                c.close(fd);
            }
        }
    }

    @Test
    @DisplayName("as NotifyAccess=main: another process's messages are ignored and its descriptors closed")
    void mainOnly() throws Exception {
        try (FakeSystemd systemd = new FakeSystemd(tmp.resolve("systemd"), 4, FakeSystemd.Access.MAIN)) {
            FakeSystemd.Child main = systemd.start(List.of("sleep", "600"), Map.of());
            int[] pipe = pipe();
            systemd.send("FDSTORE=1\nFDNAME=w", pipe[1]);
            systemd.send("READY=1");
            c.close(pipe[1]);
            assertThat(hangsUp(pipe[0], BOUND)).as("the descriptor this JVM sent was closed").isTrue();
            assertThat(systemd.storedNames()).isEmpty();
            assertThat(systemd.warnings()).anyMatch(w -> w.contains("not the main pid " + main.pid()));
            assertThat(systemd.messages()).isEmpty();
            main.destroyForcibly();
            assertThat(main.waitFor(BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            assertThat(main.exitValue()).as("killed by SIGKILL").isEqualTo(128 + 9);
            c.close(pipe[0]);
        }
    }

    @Test
    @DisplayName("awaitReady returns on READY=1 and fails with the log when the main process exits first")
    void ready() throws Exception {
        try (FakeSystemd systemd = new FakeSystemd(tmp.resolve("systemd"), 4, FakeSystemd.Access.ALL)) {
            FakeSystemd.Child dies = systemd.start(List.of("sh", "-c", "echo starting; exit 3"), Map.of());
            assertThatThrownBy(() -> systemd.awaitReady(BOUND)).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("exited with 3").hasMessageContaining("starting");
            assertThat(dies.exitValue()).isEqualTo(3);

            FakeSystemd.Child lives = systemd.start(List.of("sleep", "600"), Map.of());
            systemd.send("READY=1\nSTATUS=serving");
            systemd.awaitReady(BOUND);
            assertThat(systemd.status()).isEqualTo("serving");
            assertThat(systemd.stopping()).isFalse();
            systemd.send("STOPPING=1");
            assertThat(systemd.messages(m -> m.contains("STOPPING=1"), BOUND)).containsExactly("READY=1\nSTATUS=serving",
                    "STOPPING=1");
            assertThat(systemd.stopping()).isTrue();
            lives.destroy();
            assertThat(lives.waitFor(BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            assertThat(lives.exitValue()).isEqualTo(128 + 15);
        }
    }
}
