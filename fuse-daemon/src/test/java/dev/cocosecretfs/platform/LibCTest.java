// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The C library as bound through jffi: arguments, results and errno arrive as the C calls left them. */
@DisplayName("the C library through jffi")
class LibCTest {
    static final LibC C = Native.libc();

    @TempDir
    Path tmp;

    @Test
    @DisplayName("a failed call leaves its errno, per thread, and strerror names it")
    void errnoPerCall() throws Exception {
        assertThat(C.open(tmp.resolve("absent").toString(), LibC.O_RDONLY)).isEqualTo(-1);
        assertThat(Native.errno()).isEqualTo(LibC.ENOENT);
        assertThat(Native.describe(LibC.ENOENT)).isEqualTo("No such file or directory");
        // Another thread's failure does not change this thread's errno.
        AtomicInteger other = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            C.close(-1);
            other.set(Native.errno());
            done.countDown();
        });
        t.start();
        done.await();
        assertThat(other.get()).isEqualTo(LibC.EBADF);
        assertThat(Native.errno()).as("this thread's errno after the other's call").isEqualTo(LibC.ENOENT);
        assertThat(Native.close(-1)).isEqualTo(LibC.EBADF);
    }

    @Test
    @DisplayName("paths go as C strings: a UTF-8 name is created and found by Java under the same name")
    void strings() throws Exception {
        Path file = tmp.resolve("grüße-ñ");
        int fd = C.open(file.toString(), LibC.O_WRONLY | LibC.O_CREAT | LibC.O_CLOEXEC, 0600);
        assertThat(fd).as("open: %s", Native.describe(Native.errno())).isGreaterThanOrEqualTo(0);
        assertThat(C.close(fd)).isZero();
        assertThat(Files.exists(file)).isTrue();
    }

    @Test
    @DisplayName("pwrite, pread and write move native bytes at the offsets asked for")
    void nativeWritesAndReads() throws Exception {
        Path file = Files.write(tmp.resolve("f"), new byte[16]);
        int fd = C.open(file.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
        long buf = NativeMemory.allocate(16);
        try {
            NativeMemory.put(buf, "abcd".getBytes(StandardCharsets.US_ASCII));
            assertThat(C.pwrite(fd, buf, 4, 6)).isEqualTo(4);
            assertThat(Native.writeWhole(fd, buf, 2)).as("write at the file offset, 0").isZero();
            NativeMemory.fill(buf, 16, (byte) 0);
            assertThat(C.pread(fd, buf, 16, 0)).isEqualTo(16);
            assertThat(new String(NativeMemory.get(buf, 16), StandardCharsets.ISO_8859_1))
                    .isEqualTo("ab\0\0\0\0abcd\0\0\0\0\0\0");
            assertThat(C.pread(fd, buf, 16, 100)).as("past the end").isZero();
            assertThat(C.lseek(fd, 0, LibC.SEEK_END)).isEqualTo(16);
        } finally {
            NativeMemory.free(buf);
            C.close(fd);
        }
        assertThat(Native.writeWhole(fd, 1, 1)).as("write on a closed descriptor").isEqualTo(LibC.EBADF);
    }

    @Test
    @DisplayName("writev writes its buffers in order in one call; read reads from the file offset")
    void writevAndRead() throws Exception {
        Path file = tmp.resolve("v");
        int fd = C.open(file.toString(), LibC.O_RDWR | LibC.O_CREAT | LibC.O_CLOEXEC, 0600);
        long block = NativeMemory.allocate(64);
        try {
            long iov = block;
            long one = block + 32;
            long two = block + 48;
            NativeMemory.put(one, "head".getBytes(StandardCharsets.US_ASCII));
            NativeMemory.put(two, "-tail".getBytes(StandardCharsets.US_ASCII));
            NativeMemory.putLong(iov, one);
            NativeMemory.putLong(iov + 8, 4);
            NativeMemory.putLong(iov + 16, two);
            NativeMemory.putLong(iov + 24, 5);
            assertThat(C.writev(fd, iov, 2)).isEqualTo(9);
            assertThat(Files.readString(file)).isEqualTo("head-tail");
            assertThat(C.lseek(fd, 2, 0 /* SEEK_SET */)).isEqualTo(2);
            NativeMemory.fill(block, 64, (byte) 0);
            assertThat(C.read(fd, block, 64)).isEqualTo(7);
            assertThat(new String(NativeMemory.get(block, 7), StandardCharsets.US_ASCII)).isEqualTo("ad-tail");
        } finally {
            NativeMemory.free(block);
            C.close(fd);
        }
    }

    @Test
    @DisplayName("fstat reads the x86-64 struct stat: inode, size, mode, and device numbers")
    void fstat() throws Exception {
        Path file = Files.write(tmp.resolve("f"), new byte[123]);
        int fd = C.open(file.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
        try {
            FileStatus s = Native.fstat(fd);
            Map<String, Object> unix = Files.readAttributes(file, "unix:ino,dev,mode,size");
            assertThat(s.ino()).isEqualTo(unix.get("ino"));
            assertThat(s.dev()).isEqualTo(unix.get("dev"));
            assertThat(s.mode()).isEqualTo(unix.get("mode"));
            assertThat(s.size()).isEqualTo(123);
            assertThat(Native.isFuseDevice(fd)).as("a regular file").isFalse();
        } finally {
            C.close(fd);
        }
        assertThatThrownBy(() -> Native.fstat(fd)).isInstanceOf(ErrnoException.class)
                .hasMessageContaining("Bad file descriptor");
        assertThat(Native.isFuseDevice(fd)).as("a closed descriptor").isFalse();
        int nul = C.open("/dev/null", LibC.O_RDONLY | LibC.O_CLOEXEC);
        try {
            FileStatus s = Native.fstat(nul);
            assertThat(s.rdevMajor() + ":" + s.rdevMinor()).isEqualTo("1:3");
            assertThat(Native.isFuseDevice(nul)).as("/dev/null, another character device").isFalse();
        } finally {
            C.close(nul);
        }
    }

    @Test
    @DisplayName("/dev/fuse is known as the FUSE device")
    void fuseDevice() {
        assumeTrue(Files.isReadable(Path.of("/dev/fuse")), "skipped: no readable /dev/fuse on this machine");
        int fd = C.open("/dev/fuse", LibC.O_RDWR | LibC.O_CLOEXEC);
        assertThat(fd).as("open /dev/fuse: %s", Native.describe(Native.errno())).isGreaterThanOrEqualTo(0);
        try {
            assertThat(Native.isFuseDevice(fd)).isTrue();
        } finally {
            C.close(fd);
        }
    }

    @Test
    @DisplayName("dev_t numbers split as glibc's major() and minor() do, large ones included")
    void deviceNumbers() {
        long small = 10 << 8 | 229;
        assertThat(FileStatus.major(small)).isEqualTo(10);
        assertThat(FileStatus.minor(small)).isEqualTo(229);
        long big = (0x123L & 0xfff) << 8 | (0x45678L & 0xff) | (0x45678L & ~0xffL) << 12;
        assertThat(FileStatus.major(big)).isEqualTo(0x123);
        assertThat(FileStatus.minor(big)).isEqualTo(0x45678);
    }
}
