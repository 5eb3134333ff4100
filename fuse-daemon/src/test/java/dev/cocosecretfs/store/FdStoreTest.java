// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.platform.ErrnoException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import dev.cocosecretfs.platform.NativeMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("descriptor stores")
class FdStoreTest {
    @TempDir
    Path tmp;

    Path file;
    byte[] bytes;
    /** 64 bytes of native memory for reads, freed after each test. */
    long dst;

    @BeforeEach
    void setUp() throws IOException {
        bytes = new byte[100];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i + 1);
        }
        file = tmp.resolve("page.bin");
        Files.write(file, bytes);
        dst = NativeMemory.allocate(64);
    }

    @AfterEach
    void tearDown() {
        NativeMemory.free(dst);
    }

    static byte[] get(long address, int n) {
        return NativeMemory.get(address, n);
    }

    @Nested
    @DisplayName("reads")
    class Reads {
        @Test
        @DisplayName("address 0 and a negative length are refused before anything is read, by both reads")
        void nullAddressRefused() throws Exception {
            byte[] head = new byte[20];
            try (BackingStore store = Stores.open(file)) {
                assertThatThrownBy(() -> store.readInto(20, 0L, 10))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("address 0");
                assertThatThrownBy(() -> store.readInto(0, head, 0L, 10))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("address 0");
                assertThatThrownBy(() -> store.readInto(20, dst, -1))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("length -1 is negative");
                assertThatThrownBy(() -> store.readInto(0, head, dst, -1))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("length -1 is negative");
            }
            assertThat(get(dst, 64)).containsOnly(0);
            assertThat(head).as("the header of a refused read").containsOnly(0);
        }

        @Test
        @DisplayName("a header longer than the per-thread room, and metadata longer than it, read the same bytes")
        void beyondTheScratch() throws Exception {
            byte[] head = new byte[40]; // more than the 32 bytes the scratch keeps for a header
            ByteBuffer metadata = ByteBuffer.allocate(80); // more than the 64-byte scratch
            try (BackingStore store = Stores.open(file)) {
                store.readInto(5, head, dst, 50);
                store.readMetadata(15, metadata);
            }
            assertThat(head).isEqualTo(Arrays.copyOfRange(bytes, 5, 45));
            assertThat(get(dst, 50)).isEqualTo(Arrays.copyOfRange(bytes, 45, 95));
            assertThat(metadata.array()).isEqualTo(Arrays.copyOfRange(bytes, 15, 95));
        }

        @Test
        @DisplayName("header and data in one read, straight into native memory")
        void headAndData() throws Exception {
            byte[] head = new byte[20];
            try (BackingStore store = Stores.open(file)) {
                store.readInto(10, head, dst, 30);
            }
            assertThat(head).isEqualTo(Arrays.copyOfRange(bytes, 10, 30));
            assertThat(get(dst, 30)).isEqualTo(Arrays.copyOfRange(bytes, 30, 60));
        }

        @Test
        @DisplayName("a range that runs past the end (a truncated page) is an error, not a short read")
        void shortReads() throws Exception {
            try (BackingStore store = Stores.open(file)) {
                assertThatThrownBy(() -> store.readInto(90, dst, 20)).isInstanceOf(ErrnoException.class)
                        .hasMessageContaining("could not read 20 bytes at offset 90").hasMessageContaining("only 10");
                assertThatThrownBy(() -> store.readInto(70, new byte[20], dst, 20))
                        .isInstanceOf(ErrnoException.class).hasMessageContaining("only 10");
                assertThatThrownBy(() -> store.readInto(90, new byte[20], dst, 5)).as("the header itself cut short")
                        .isInstanceOf(ErrnoException.class).hasMessageContaining("could not read 20 bytes at offset 90")
                        .hasMessageContaining("only 10");
                assertThatThrownBy(() -> store.readMetadata(95, ByteBuffer.allocate(20)))
                        .isInstanceOf(ErrnoException.class).hasMessageContaining("only 5");
                store.readInto(100, dst, 0);
            }
        }
    }

    @Test
    @DisplayName("an immutable file (EPERM for writing) is opened read-only: reads work, wipes fail, nothing changes")
    void readOnlyFallback() throws Exception {
        assumeTrue(chattr("+i", file), "skipped: the temporary directory's filesystem has no immutable flag");
        try (BackingStore store = Stores.open(file)) {
            assertThat(store.writable()).isFalse();
            store.readInto(4, dst, 16);
            assertThat(get(dst, 16)).isEqualTo(Arrays.copyOfRange(bytes, 4, 20));
            assertThatThrownBy(() -> store.wipe(0, 10)).isInstanceOf(ErrnoException.class)
                    .hasMessageContaining("opened read-only");
        } finally {
            chattr("-i", file);
        }
        assertThat(Files.readAllBytes(file)).isEqualTo(bytes);
    }

    @Test
    @DisplayName("a file on a read-only filesystem (EROFS) is opened read-only: reads work, wipes fail, nothing changes")
    void readOnlyFilesystem() throws Exception {
        Path ro = Files.createDirectory(tmp.resolve("ro"));
        assumeTrue(run("mount", "--bind", tmp.toString(), ro.toString()),
                "skipped: cannot bind-mount the temporary directory (needs root)");
        try {
            assertThat(run("mount", "-o", "remount,bind,ro", ro.toString())).as("remount read-only").isTrue();
            try (BackingStore store = Stores.open(ro.resolve("page.bin"))) {
                assertThat(store.writable()).isFalse();
                byte[] head = new byte[4];
                store.readInto(0, head, dst, 16);
                assertThat(head).isEqualTo(Arrays.copyOfRange(bytes, 0, 4));
                assertThat(get(dst, 16)).isEqualTo(Arrays.copyOfRange(bytes, 4, 20));
                assertThatThrownBy(() -> store.wipe(0, 10)).isInstanceOf(ErrnoException.class)
                        .hasMessageContaining("opened read-only");
            }
        } finally {
            assertThat(run("umount", ro.toString())).as("unmount the bind").isTrue();
        }
        assertThat(Files.readAllBytes(file)).isEqualTo(bytes);
    }

    @Test
    @DisplayName("wipes write zeros over exactly the range, and a range outside the area is refused")
    void wipes() throws Exception {
        try (BackingStore store = Stores.open(file)) {
            assertThat(store.writable()).isTrue();
            store.wipe(10, 5);
            store.sync();
            assertThatThrownBy(() -> store.wipe(95, 10)).isInstanceOf(IllegalArgumentException.class);
        }
        byte[] after = Files.readAllBytes(file);
        Arrays.fill(bytes, 10, 15, (byte) 0);
        assertThat(after).isEqualTo(bytes);
    }

    @Nested
    @DisplayName("what a backing is")
    class Kinds {
        @Test
        @DisplayName("a regular file is a FileStore (fdatasync)")
        void regularFile() throws Exception {
            try (BackingStore store = Stores.open(file)) {
                assertThat(store).isInstanceOf(FileStore.class);
            }
        }

        @Test
        @DisplayName("a character device other than the shim's is refused, naming its number")
        void otherCharacterDevice() {
            assertThatThrownBy(() -> Stores.open(Path.of("/dev/null"))).isInstanceOf(FileSystemException.class)
                    .hasMessageContaining("is a character device (1:3) but not the kernel shim's coco_secret device");
        }

        @Test
        @DisplayName("a FIFO is refused before it is opened")
        void fifo() throws Exception {
            Path fifo = tmp.resolve("fifo");
            Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
            assertThat(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0).isTrue();
            assertThatThrownBy(() -> Stores.open(fifo)).isInstanceOf(FileSystemException.class)
                    .hasMessageContaining("is neither a regular file nor a device");
        }

        @Test
        @DisplayName("the shim's device is known by the number sysfs gives, else by /proc/misc")
        void shimByNumber() throws Exception {
            Path sysfs = tmp.resolve("dev");
            Path misc = tmp.resolve("misc");
            Path none = tmp.resolve("absent");
            long shim = 10 << 8 | 57; // 10:57
            long other = 10 << 8 | 58;
            Files.writeString(sysfs, "10:57\n");
            Files.writeString(misc, "229 fuse\n 57 coco_secret\n237 loop-control\n");
            assertThat(ShimDevice.is(shim, sysfs, misc)).isTrue();
            assertThat(ShimDevice.is(other, sysfs, misc)).isFalse();
            assertThat(ShimDevice.is(shim, none, misc)).isTrue();
            assertThat(ShimDevice.is(other, none, misc)).isFalse();
            assertThat(ShimDevice.is(1 << 8 | 57, none, misc)).as("not a misc device").isFalse();
            assertThat(ShimDevice.is(shim, none, none)).as("no shim loaded").isFalse();
            Files.writeString(misc, "229 fuse\n");
            assertThat(ShimDevice.is(shim, none, misc)).isFalse();
            // Large numbers use glibc's split encoding.
            long big = (0x123L & 0xfff) << 8 | (0x45678L & 0xff) | (0x45678L & ~0xffL) << 12;
            assertThat(ShimDevice.name(big)).isEqualTo("291:284280");
        }
    }

    static boolean chattr(String flag, Path file) throws Exception {
        return run("chattr", flag, file.toString());
    }

    /** Runs a command; true if it exited 0 within 10 s. */
    static boolean run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    }
}
