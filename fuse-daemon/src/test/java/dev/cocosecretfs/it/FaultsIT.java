// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.table.SecretEntry;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults under a running daemon: a SIGKILL in the middle of a read storm, and a backing file that
 * is truncated, rewritten in place, replaced by a rename, made immutable, or that cannot be written
 * whole. Reads never return bytes that are not the secret (an error instead), an unlink that cannot
 * wipe answers an error and keeps the entry, and the page always ends exactly as the successful
 * deletions say.
 *
 * <p>Replacing the page by a rename (as {@code coco-secretfs pack --out} does) is not a fault to the
 * daemon: it keeps the descriptor of the page it mounted, so it goes on serving that page's secrets
 * whole and wiping them there, where they still are; the new file is untouched until the next mount.
 */
@DisplayName("faults")
class FaultsIT {
    static final int ENOTCONN = 107;
    static final AtomicInteger FAULTS = new AtomicInteger();

    @TempDir
    Path tmp;

    SecretPage page;
    Path backing;
    Path mnt;
    final Sys c = Sys.C;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        page = SecretPage.random(40, 40, 4096);
        backing = page.write(tmp.resolve("page.bin"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    @AfterAll
    static void report() {
        System.out.printf("faults: %d injected (SIGKILL in a read storm, truncation, rewrite in place, replacement"
                + " by rename, immutable page at mount and under the daemon, a wipe cut short by RLIMIT_FSIZE)%n",
                FAULTS.get());
    }

    String file(int i) {
        return mnt.resolve(page.names.get(i)).toString();
    }

    /** Reads secret i whole through the mount; -errno if the open or the read fails. */
    long read(int i, byte[] buf) {
        int fd = c.open(Sys.path(file(i)), Sys.O_RDONLY, 0);
        if (fd < 0) {
            return -Sys.errno();
        }
        try {
            long n = c.pread(fd, buf, buf.length, 0);
            return n < 0 ? -Sys.errno() : n;
        } finally {
            c.close(fd);
        }
    }

    void readsWhole(int i) {
        byte[] buf = new byte[4096];
        page.checkRead(i, 0, buf.length, buf, read(i, buf), "read");
    }

    void readFails(int i, int errno) {
        byte[] buf = new byte[4096];
        assertThat(read(i, buf)).as("read of secret %d", i).isEqualTo(-errno);
    }

    void unlinkFails(int i, int errno) {
        assertThat(c.unlink(Sys.path(file(i)))).as("unlink of secret %d", i).isEqualTo(-1);
        assertThat(Sys.errno()).as("unlink of secret %d: errno", i).isEqualTo(errno);
    }

    List<String> listing() throws IOException {
        try (Stream<Path> names = Files.list(mnt)) {
            return names.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    List<String> namesExcept(Set<Integer> deleted) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < page.size(); i++) {
            if (!deleted.contains(i)) {
                names.add(page.names.get(i));
            }
        }
        return names.stream().sorted().toList();
    }

    @Test
    @DisplayName("SIGKILL during a read storm: the next mount recovers, live secrets whole, deleted ones wiped")
    void sigkillDuringReadStorm() throws Exception {
        Set<Integer> deleted = new TreeSet<>();
        AtomicLong reads = new AtomicLong();
        AtomicLong refusedAfterKill = new AtomicLong();
        // Not closed until the end: closing it would clear the dead mount the second daemon must recover.
        CocoDaemon first = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt);
        try {
            for (int i = 0; i < page.size(); i += 4) {
                assertThat(c.unlink(Sys.path(file(i)))).isZero();
                deleted.add(i);
            }
            AtomicBoolean killed = new AtomicBoolean();
            ExecutorService pool = Executors.newFixedThreadPool(3);
            List<Future<?>> readers = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                int seed = t;
                readers.add(pool.submit(() -> {
                    byte[] buf = new byte[4096];
                    for (int k = seed; ; k += 7) {
                        int i = k % page.size();
                        boolean afterKill = killed.get();
                        long n = read(i, buf);
                        if (n >= 0 && !deleted.contains(i)) {
                            page.checkRead(i, 0, buf.length, buf, n, "read in the storm");
                        } else if (n >= 0) {
                            fail("deleted secret %d read %d bytes", i, n);
                        } else if (-n == Sys.ENOENT && deleted.contains(i)) {
                            // a deleted secret is refused
                        } else if (afterKill || killed.get()) {
                            refusedAfterKill.incrementAndGet();
                            if (-n == ENOTCONN) {
                                return null; // the mount is dead
                            }
                        } else {
                            fail("read of live secret %d failed with errno %d before the kill", i, -n);
                        }
                        reads.incrementAndGet();
                    }
                }));
            }
            while (reads.get() < 3000) {
                for (Future<?> r : readers) {
                    if (r.isDone()) {
                        r.get(); // a reader that failed early fails the test here
                    }
                }
                Thread.sleep(5);
            }
            killed.set(true);
            first.kill();
            FAULTS.incrementAndGet();
            for (Future<?> r : readers) {
                r.get(60, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertThat(first.isMounted()).as("SIGKILL leaves the dead mount behind").isTrue();
            page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
            try (CocoDaemon second = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
                assertThat(second.log()).contains("dead FUSE mount");
                assertThat(listing()).containsExactlyElementsOf(namesExcept(deleted));
                for (int i = 0; i < page.size(); i++) {
                    if (deleted.contains(i)) {
                        readFails(i, Sys.ENOENT);
                    } else {
                        readsWhole(i);
                    }
                }
                assertThat(second.stop()).isZero();
            }
        } finally {
            if (first.process.isAlive()) {
                first.kill();
            }
            first.close();
        }
        System.out.printf("faults: SIGKILL after %d reads in a storm of 3 threads (%d refused as the mount died);"
                + " remount: %d secrets whole, %d wiped%n", reads.get(), refusedAfterKill.get(),
                page.size() - deleted.size(), deleted.size());
    }

    @Test
    @DisplayName("the page truncated under the daemon: what is cut off fails with EIO, unlink writes nothing")
    void truncated() throws Exception {
        SecretEntry inside = page.entries.get(0);
        assertThat(inside.offset() + inside.length()).isLessThan(100);
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            readsWhole(1);
            try (FileChannel ch = FileChannel.open(backing, StandardOpenOption.WRITE)) {
                ch.truncate(100); // cuts the second entry's data
            }
            FAULTS.incrementAndGet();
            readsWhole(0);
            readFails(1, Sys.EIO);
            readFails(5, Sys.EIO);
            unlinkFails(5, Sys.EIO);
            assertThat(Files.size(backing)).as("a refused unlink does not write past the end").isEqualTo(100);
            assertThat(listing()).contains(page.names.get(5));
            assertThat(d.process.isAlive()).isTrue();
            assertThat(d.awaitLog("could not read")).contains("could not read");
        }
        // Compared without AssertJ, whose message would print the page and so the secrets in it.
        if (!Arrays.equals(Files.readAllBytes(backing), Arrays.copyOf(page.bytes, 100))) {
            fail("the truncated page changed");
        }
    }

    @Test
    @DisplayName("the page rewritten in place with other secrets: EIO for every old name, nothing wiped")
    void rewrittenInPlace() throws Exception {
        SecretPage other = SecretPage.random(40, 40, 4096);
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            readsWhole(3);
            try (FileChannel ch = FileChannel.open(backing, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(other.bytes), 0); // same inode, same size, other table
            }
            FAULTS.incrementAndGet();
            for (int i = 0; i < page.size(); i++) {
                readFails(i, Sys.EIO);
            }
            unlinkFails(3, Sys.EIO);
            assertThat(d.awaitLog("the backing changed under the mount")).contains("the backing changed under the mount");
        }
        other.checkOnlyWiped(Files.readAllBytes(backing), Set.of());
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            assertThat(listing()).containsExactlyElementsOf(other.names.stream().sorted().toList());
        }
    }

    @Test
    @DisplayName("the page replaced by a rename: the daemon serves and wipes the page it mounted, the new one waits")
    void replacedByRename() throws Exception {
        SecretPage other = SecretPage.random(40, 40, 4096);
        Path fresh = other.write(tmp.resolve("page.new"));
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            Files.move(fresh, backing, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            FAULTS.incrementAndGet();
            for (int i = 0; i < page.size(); i++) {
                readsWhole(i);
            }
            assertThat(c.unlink(Sys.path(file(7)))).isZero();
            readFails(7, Sys.ENOENT);
            Path mounted = descriptorOf(d.pid(), backing);
            page.checkOnlyWiped(Files.readAllBytes(mounted), Set.of(7));
            assertThat(d.stop()).isZero();
        }
        other.checkOnlyWiped(Files.readAllBytes(backing), Set.of());
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            assertThat(listing()).containsExactlyElementsOf(other.names.stream().sorted().toList());
        }
    }

    /** /proc/PID/fd/N of the daemon's descriptor on the (now unlinked) file once at {@code path}. */
    static Path descriptorOf(long pid, Path path) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc", String.valueOf(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().equals(path + " (deleted)")) {
                        return fd;
                    }
                } catch (NoSuchFileException closed) {
                    // closed meanwhile
                }
            }
        }
        throw new AssertionError("the daemon holds no descriptor on the replaced " + path);
    }

    @Test
    @DisplayName("an immutable page, at mount or under the daemon: unlink fails, the entry stays")
    void immutable() throws Exception {
        assumeTrue(chattr("+i", backing), "skipped: the temporary directory's filesystem has no immutable flag");
        try {
            FAULTS.incrementAndGet();
            try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
                unlinkFails(2, Sys.EROFS);
                assertThat(listing()).contains(page.names.get(2));
                readsWhole(2); // nothing was written: the page was opened read-only
            }
            assertThat(chattr("-i", backing)).isTrue();
            try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
                readsWhole(3);
                assertThat(chattr("+i", backing)).isTrue();
                FAULTS.incrementAndGet();
                unlinkFails(3, Sys.EACCES);
                assertThat(listing()).contains(page.names.get(3));
                // The daemon cannot know how much of a failed wipe reached the page: it refuses to read.
                readFails(3, Sys.EIO);
                readsWhole(4);
                assertThat(chattr("-i", backing)).isTrue();
                assertThat(c.unlink(Sys.path(file(3)))).as("unlink again once the page is writable").isZero();
                readFails(3, Sys.ENOENT);
            }
        } finally {
            chattr("-i", backing);
        }
        page.checkOnlyWiped(Files.readAllBytes(backing), Set.of(3));
    }

    static boolean chattr(String flag, Path file) throws Exception {
        Process p = new ProcessBuilder("chattr", flag, file.toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor() == 0;
    }

    @Test
    @DisplayName("a wipe cut short (RLIMIT_FSIZE mid-secret): unlink fails, the entry stays and reads EIO")
    void wipeCutShort() throws Exception {
        int victim = 6;
        SecretEntry entry = page.entries.get(victim);
        long[] old = new long[2];
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            int pid = (int) d.pid();
            assertThat(c.prlimit(pid, Sys.RLIMIT_FSIZE, null, old)).isZero();
            // Writes may reach 16 bytes into the secret, not further; the hard limit stays.
            long cut = entry.dataOffset() + 16;
            assertThat(c.prlimit(pid, Sys.RLIMIT_FSIZE, new long[] {cut, old[1]}, null)).as("prlimit").isZero();
            FAULTS.incrementAndGet();
            unlinkFails(victim, Sys.EFBIG);
            assertThat(listing()).contains(page.names.get(victim));
            readFails(victim, Sys.EIO);
            readsWhole(victim + 1);
            byte[] now = Files.readAllBytes(backing);
            // First the mark (the GUID's first 8 bytes), then the data as far as the limit let it go.
            for (long k = entry.offset(); k < entry.offset() + entry.length(); k++) {
                boolean zeroed = k < entry.offset() + 8 || k >= entry.dataOffset() && k < cut;
                if (now[(int) k] != (zeroed ? 0 : page.bytes[(int) k])) {
                    fail("page byte %d: the cut wipe should have zeroed exactly [%d, %d) and [%d, %d)", k,
                            entry.offset(), entry.offset() + 8, entry.dataOffset(), cut);
                }
            }
            assertThat(c.prlimit(pid, Sys.RLIMIT_FSIZE, old, null)).isZero();
            assertThat(c.unlink(Sys.path(file(victim)))).as("unlink again finishes the wipe").isZero();
            assertThat(d.process.isAlive()).isTrue();
            assertThat(d.stop()).isZero();
        }
        page.checkOnlyWiped(Files.readAllBytes(backing), Set.of(victim));
    }
}
