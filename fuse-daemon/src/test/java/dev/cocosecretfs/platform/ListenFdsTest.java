// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID as sd_listen_fds(3) reads them. */
@DisplayName("descriptors passed by systemd")
class ListenFdsTest {
    static final int PID = 4242;

    @TempDir
    Path tmp;

    static Map<String, String> env(String pid, String fds, String names) {
        Map<String, String> env = new HashMap<>();
        env.put("PATH", "/usr/bin");
        if (pid != null) {
            env.put("LISTEN_PID", pid);
        }
        if (fds != null) {
            env.put("LISTEN_FDS", fds);
        }
        if (names != null) {
            env.put("LISTEN_FDNAMES", names);
        }
        return env;
    }

    @Test
    @DisplayName("descriptors from 3 on, by name, several under one name in the order passed")
    void byName() {
        Map<String, List<Integer>> fds = ListenFds.parse(env("4242", "4", "fuse:fuse-state:fuse-inflight:fuse"), PID);
        assertThat(fds).containsExactly(Map.entry("fuse", List.of(3, 6)), Map.entry("fuse-state", List.of(4)),
                Map.entry("fuse-inflight", List.of(5)));
        assertThatThrownBy(() -> fds.put("x", List.of())).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> fds.get("fuse").add(7)).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    @DisplayName("missing names are \"unknown\"; names past LISTEN_FDS are ignored")
    void names() {
        assertThat(ListenFds.parse(env("4242", "2", null), PID)).containsExactly(Map.entry("unknown", List.of(3, 4)));
        assertThat(ListenFds.parse(env("4242", "3", "a::b"), PID)).containsExactly(Map.entry("a", List.of(3)),
                Map.entry("unknown", List.of(4)), Map.entry("b", List.of(5)));
        assertThat(ListenFds.parse(env("4242", "2", "a"), PID)).containsExactly(Map.entry("a", List.of(3)),
                Map.entry("unknown", List.of(4)));
        assertThat(ListenFds.parse(env("4242", "1", "a:b:c"), PID)).containsExactly(Map.entry("a", List.of(3)));
    }

    @ParameterizedTest(name = "LISTEN_PID={0} LISTEN_FDS={1}")
    @CsvSource(nullValues = "null", value = {
        "4243, 1",      // another process's: inherited from a parent
        "null, 1",
        "4242, null",
        "4242, 0",
        "4242, -1",
        "4242, x",
        "abc, 1",
        "4242, 99999999",
    })
    @DisplayName("nothing is passed to us without our pid and a sane count")
    void nothing(String pid, String fds) {
        assertThat(ListenFds.parse(env(pid, fds, "fuse"), PID)).isEmpty();
    }

    @Test
    @DisplayName("close-on-exec is set on a passed descriptor, and a descriptor that is not open is reported")
    void closeOnExec() throws Exception {
        Path file = Files.write(tmp.resolve("f"), new byte[1]);
        LibC c = Native.libc();
        int fd = c.open(file.toString(), LibC.O_RDONLY); // as systemd passes it: no O_CLOEXEC
        try {
            assertThat(c.fcntl(fd, LibC.F_GETFD, 0) & LibC.FD_CLOEXEC).isZero();
            assertThat(ListenFds.setCloseOnExec(fd)).isZero();
            assertThat(c.fcntl(fd, LibC.F_GETFD, 0) & LibC.FD_CLOEXEC).isEqualTo(LibC.FD_CLOEXEC);
        } finally {
            c.close(fd);
        }
        assertThat(ListenFds.setCloseOnExec(fd)).isEqualTo(LibC.EBADF);
    }

    @Test
    @DisplayName("a child's environment loses LISTEN_* and NOTIFY_SOCKET, and keeps the rest")
    void childEnvironment() {
        Map<String, String> env = env("4242", "3", "fuse");
        env.put("NOTIFY_SOCKET", "/run/systemd/notify");
        assertThat(ListenFds.childEnvironment(env)).isSameAs(env).containsExactly(Map.entry("PATH", "/usr/bin"));
        ProcessBuilder pb = new ProcessBuilder("true");
        pb.environment().put("LISTEN_FDS", "1");
        ListenFds.childEnvironment(pb.environment());
        assertThat(pb.environment()).doesNotContainKey("LISTEN_FDS");
    }

    @Test
    @DisplayName("this test's JVM was passed nothing: take() is empty, and stays empty")
    void takeInThisJvm() {
        assertThat(System.getenv("LISTEN_FDS")).as("precondition").isNull();
        assertThat(ListenFds.take()).isEmpty();
        assertThat(ListenFds.take()).isEmpty();
    }
}
