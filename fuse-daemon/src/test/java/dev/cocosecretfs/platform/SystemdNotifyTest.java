// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.In;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * sd_notify as systemd receives it: a datagram socket of the test's own stands for $NOTIFY_SOCKET,
 * and what arrives on it (text and SCM_RIGHTS descriptors) is read back with recvmsg.
 */
@DisplayName("sd_notify and the fd store")
class SystemdNotifyTest {
    /** The socket calls the daemon does not make, bound for the test through jnr-ffi. */
    public interface Sockets {
        int bind(int fd, @In byte[] addr, int addrlen);

        long recvmsg(int fd, long msghdr, int flags);
    }

    static final Sockets SOCKETS = LibraryLoader.create(Sockets.class).load("c");
    static final int MSG_DONTWAIT = 0x40;
    static final int MSG_CTRUNC = 0x08;

    @TempDir
    Path tmp;

    int receiver = -1;
    final List<Integer> toClose = new ArrayList<>();

    @BeforeEach
    void socket() {
        receiver = Native.libc().socket(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        assertThat(receiver).isGreaterThanOrEqualTo(0);
    }

    @AfterEach
    void close() {
        Native.libc().close(receiver);
        toClose.forEach(Native::close);
    }

    /** Binds the receiver to {@code name}: a path, or with a leading NUL an abstract name. */
    void bind(byte[] name) {
        byte[] addr = new byte[2 + name.length + 1];
        addr[0] = (byte) LibC.AF_UNIX;
        System.arraycopy(name, 0, addr, 2, name.length);
        int length = name[0] == 0 ? 2 + name.length : addr.length;
        assertThat(SOCKETS.bind(receiver, addr, length)).as("bind: %s", Native.describe(Native.errno())).isZero();
    }

    String bindPath() {
        Path path = tmp.resolve("notify");
        bind(path.toString().getBytes(StandardCharsets.UTF_8));
        return path.toString();
    }

    /** One datagram: its text and the descriptors that came with it (the test closes them). */
    record Message(String text, List<Integer> fds) {}

    /** Receives the datagram waiting on the receiver; fails if there is none (never blocks). */
    Message receive() {
        long block = NativeMemory.allocate(64 + 16 + 4096 + 512);
        try {
            long iov = block + 64;
            long data = iov + 16;
            long control = data + 4096;
            NativeMemory.putLong(iov, data);
            NativeMemory.putLong(iov + 8, 4096);
            NativeMemory.putLong(block + 16, iov);
            NativeMemory.putLong(block + 24, 1);
            NativeMemory.putLong(block + 32, control);
            NativeMemory.putLong(block + 40, 512);
            long n = SOCKETS.recvmsg(receiver, block, MSG_DONTWAIT);
            assertThat(n).as("recvmsg: %s", Native.describe(Native.errno())).isGreaterThanOrEqualTo(0);
            assertThat(NativeMemory.getInt(block + 48) & MSG_CTRUNC).as("control data cut short").isZero();
            String text = new String(NativeMemory.get(data, (int) n), StandardCharsets.UTF_8);
            List<Integer> fds = new ArrayList<>();
            long controlLength = NativeMemory.getLong(block + 40);
            if (controlLength > 0) {
                long cmsgLen = NativeMemory.getLong(control);
                assertThat(NativeMemory.getInt(control + 8)).as("cmsg_level").isEqualTo(LibC.SOL_SOCKET);
                assertThat(NativeMemory.getInt(control + 12)).as("cmsg_type").isEqualTo(LibC.SCM_RIGHTS);
                for (long at = 16; at < cmsgLen; at += 4) {
                    fds.add(NativeMemory.getInt(control + at));
                }
            }
            toClose.addAll(fds);
            return new Message(text, fds);
        } finally {
            NativeMemory.free(block);
        }
    }

    int open(Path file) {
        int fd = Native.libc().open(file.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
        assertThat(fd).isGreaterThanOrEqualTo(0);
        toClose.add(fd);
        return fd;
    }

    static void sameFile(int a, int b) throws ErrnoException {
        FileStatus x = Native.fstat(a);
        FileStatus y = Native.fstat(b);
        assertThat(y.dev()).isEqualTo(x.dev());
        assertThat(y.ino()).isEqualTo(x.ino());
    }

    @Test
    @DisplayName("FDSTORE=1 with FDNAME and the descriptors as SCM_RIGHTS: what arrives is the same files")
    void storesDescriptors() throws Exception {
        String socket = bindPath();
        int file = open(Files.write(tmp.resolve("f"), new byte[] {1, 2, 3}));
        int memfd = MemFd.createSealed("state", "hello".getBytes(StandardCharsets.US_ASCII));
        toClose.add(memfd);
        assertThat(SystemdNotify.storeFds(socket, "fuse-state", file, memfd)).isTrue();
        Message m = receive();
        assertThat(m.text()).isEqualTo("FDSTORE=1\nFDNAME=fuse-state");
        assertThat(m.fds()).hasSize(2);
        assertThat(m.fds()).doesNotContain(file, memfd);
        sameFile(file, m.fds().get(0));
        sameFile(memfd, m.fds().get(1));
        assertThat(MemFd.read(m.fds().get(1), 100)).asString(StandardCharsets.US_ASCII).isEqualTo("hello");
    }

    @Test
    @DisplayName("an abstract socket ('@name') is reached, and FDSTOREREMOVE names what to drop, with no descriptor")
    void abstractSocketAndRemove() {
        String name = "coco-secretfs-test-" + UUID.randomUUID();
        byte[] abstractName = ("\0" + name).getBytes(StandardCharsets.UTF_8);
        bind(abstractName);
        assertThat(SystemdNotify.removeFds("@" + name, "fuse")).isTrue();
        Message m = receive();
        assertThat(m.text()).isEqualTo("FDSTOREREMOVE=1\nFDNAME=fuse");
        assertThat(m.fds()).isEmpty();
    }

    @Test
    @DisplayName("no socket, a socket nobody listens on, or a descriptor that is not open: false, nothing sent")
    void failures() throws Exception {
        int file = open(Files.write(tmp.resolve("f"), new byte[1]));
        assertThat(SystemdNotify.storeFds(null, "fuse", file)).isFalse();
        assertThat(SystemdNotify.storeFds("", "fuse", file)).isFalse();
        assertThat(SystemdNotify.removeFds(null, "fuse")).isFalse();
        assertThat(SystemdNotify.storeFds(tmp.resolve("nobody").toString(), "fuse", file)).isFalse();
        assertThat(SystemdNotify.storeFds("relative/path", "fuse", file)).isFalse();
        String socket = bindPath();
        // -1: a number of a closed descriptor could be reused by another thread of the JVM at any time.
        assertThat(SystemdNotify.storeFds(socket, "fuse", file, -1)).as("EBADF").isFalse();
        // Nothing arrived: the next datagram is the one sent now.
        assertThat(SystemdNotify.send(socket, "STATUS=x")).isTrue();
        assertThat(receive().text()).isEqualTo("STATUS=x");
    }

    @Test
    @DisplayName("names systemd refuses, and a store of no descriptor, are refused before anything is sent")
    void badNames() {
        String socket = bindPath();
        assertThatThrownBy(() -> SystemdNotify.storeFds(socket, "a:b", 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a:b");
        assertThatThrownBy(() -> SystemdNotify.storeFds(socket, "", 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SystemdNotify.storeFds(socket, "a\nFDSTOREREMOVE=1", 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SystemdNotify.storeFds(socket, "x".repeat(256), 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SystemdNotify.storeFds(socket, "fuse")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("0 descriptors");
        assertThat(SystemdNotify.send(socket, "STATUS=after")).isTrue();
        assertThat(receive().text()).isEqualTo("STATUS=after");
    }
}
