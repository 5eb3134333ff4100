// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** memfds for the handover: a sealed one nobody can change, a shared mapping everyone sees. */
@DisplayName("memfds")
class MemFdTest {
    static final LibC C = Native.libc();

    @Test
    @DisplayName("a sealed memfd reads back whole and refuses writes, growth, shrinking and new seals")
    void sealed() throws Exception {
        byte[] contents = "magic v1 /run/coco 0:57 INIT".getBytes(StandardCharsets.US_ASCII);
        int fd = MemFd.createSealed("fuse-state", contents);
        long buf = NativeMemory.allocate(8);
        try {
            assertThat(MemFd.seals(fd)).isEqualTo(MemFd.ALL_SEALS);
            assertThat(MemFd.read(fd, 4096)).isEqualTo(contents);
            assertThat(MemFd.read(fd, 4096)).as("read again: positional").isEqualTo(contents);
            assertThat(C.fcntl(fd, LibC.F_GETFD, 0) & LibC.FD_CLOEXEC).as("close-on-exec").isNotZero();
            assertThat(C.pwrite(fd, buf, 1, 0)).as("write").isEqualTo(-1);
            assertThat(Native.errno()).isEqualTo(LibC.EPERM);
            assertThat(C.pwrite(fd, buf, 1, contents.length)).as("append").isEqualTo(-1);
            assertThat(Native.errno()).isEqualTo(LibC.EPERM);
            assertThat(C.ftruncate(fd, 1)).as("shrink").isEqualTo(-1);
            assertThat(Native.errno()).isEqualTo(LibC.EPERM);
            assertThat(C.fcntl(fd, LibC.F_ADD_SEALS, 0)).as("add seals").isEqualTo(-1);
            assertThat(Native.errno()).isEqualTo(LibC.EPERM);
            assertThatThrownBy(() -> MemFd.read(fd, contents.length - 1)).isInstanceOf(IOException.class)
                    .hasMessageContaining("holds " + contents.length + " bytes");
        } finally {
            NativeMemory.free(buf);
            C.close(fd);
        }
    }

    @Test
    @DisplayName("an empty sealed memfd reads as empty; a closed descriptor is an error")
    void emptyAndClosed() throws Exception {
        int fd = MemFd.createSealed("empty", new byte[0]);
        assertThat(MemFd.read(fd, 0)).isEmpty();
        C.close(fd);
        assertThatThrownBy(() -> MemFd.read(fd, 10)).isInstanceOf(ErrnoException.class);
        assertThatThrownBy(() -> MemFd.seals(fd)).isInstanceOf(ErrnoException.class);
    }

    @Test
    @DisplayName("a shared mapping's stores are seen by another mapping and by reads of the descriptor")
    void shared() throws Exception {
        int fd = MemFd.createShared("fuse-inflight", 4096);
        try {
            assertThat(MemFd.seals(fd) & LibC.F_SEAL_WRITE).as("not sealed").isZero();
            long a = MemFd.mapShared(fd, 4096);
            long b = MemFd.mapShared(fd, 4096);
            try {
                assertThat(b).isNotEqualTo(a);
                assertThat(NativeMemory.getLong(b + 8)).as("zero at first").isZero();
                NativeMemory.putLong(a + 8, 0x1122334455667788L);
                assertThat(NativeMemory.getLong(b + 8)).isEqualTo(0x1122334455667788L);
                byte[] read = MemFd.read(fd, 4096);
                assertThat(read).hasSize(4096);
                assertThat(read[8]).isEqualTo((byte) 0x88);
                assertThat(read[15]).isEqualTo((byte) 0x11);
            } finally {
                MemFd.unmap(a, 4096);
                MemFd.unmap(b, 4096);
            }
        } finally {
            C.close(fd);
        }
        assertThatThrownBy(() -> MemFd.mapShared(fd, 4096)).isInstanceOf(ErrnoException.class)
                .hasMessageContaining("Bad file descriptor");
    }
}
