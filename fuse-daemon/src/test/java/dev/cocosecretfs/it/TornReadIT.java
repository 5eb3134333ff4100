// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.FuseMount;
import dev.cocosecretfs.fuse.Ownership;
import dev.cocosecretfs.fuse.SecretFs;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reader that has begun a secret and then finds it deleted gets an error, never a clean end of
 * file after a prefix; a reader that had nothing of it, or all of it, reads an empty file. The cases are the ones measured on the code before per-open file handles: {@code
 * cat} of a 300 KiB secret, 16-byte reads of a 64-byte secret, one 16 MiB {@code pread} racing the
 * deletion of an 8 MiB secret.
 */
@DisplayName("reads never tear: all of a secret or none of it, over any number of reads")
class TornReadIT {
    private static final long BOUND_SECONDS = 60;

    @TempDir
    Path tmp;

    private FuseMount mount;
    private BackingStore store;
    private Path mnt;

    private SecretPage mount(int count, int length, int pageSize) throws Exception {
        CocoDaemon.assumeFuse();
        SecretPage page = SecretPage.randomLengths(count, length, length, pageSize);
        Path file = page.write(tmp.resolve("page.bin"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        store = Stores.open(file);
        mount = FuseMount.mount(new SecretFs(SecretDirectory.open(store), Ownership.DEFAULT), mnt, false);
        return page;
    }

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            mount.unmount();
        }
        if (store != null) {
            store.close();
        }
    }

    private String file(SecretPage page, int i) {
        return mnt.resolve(page.names.get(i)).toString();
    }

    @Test
    @DisplayName("cat of a 300 KiB secret deleted after its first 128 KiB fails with EIO, it does not exit 0")
    void catFails() throws Exception {
        SecretPage page = mount(1, 300 * 1024, 320 * 1024);
        // cat reads 128 KiB, then writes them to a pipe that holds 64 KiB: until the test has read
        // more than 64 KiB of its output, cat cannot have read its second chunk.
        Process cat = new ProcessBuilder("cat", file(page, 0)).start();
        InputStream out = cat.getInputStream();
        int first = out.read();
        assertThat(first).as("cat's first byte").isNotNegative();
        Files.delete(Path.of(file(page, 0)));
        byte[] rest = out.readAllBytes();
        assertThat(cat.waitFor(BOUND_SECONDS, TimeUnit.SECONDS)).isTrue();
        String err = new String(cat.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);

        int got = 1 + rest.length;
        assertThat(got).as("bytes cat wrote").isLessThan(page.length(0));
        byte[] prefix = new byte[got];
        prefix[0] = (byte) first;
        System.arraycopy(rest, 0, prefix, 1, rest.length);
        assertThat(Arrays.equals(prefix, Arrays.copyOf(page.secrets.get(0), got))).as("what cat wrote is the secret's")
                .isTrue();
        assertThat(cat.exitValue()).as("cat's exit code after a prefix").isNotZero();
        assertThat(err).contains("Input/output error");
    }

    @Test
    @DisplayName("16-byte reads of a 64-byte secret: EIO after the deletion, for good; an open with none or all reads 0")
    void smallReads() throws Exception {
        SecretPage page = mount(2, 64, 4096);
        Sys c = Sys.C;
        int begun = c.open(Sys.path(file(page, 0)), Sys.O_RDONLY, 0);
        int untouched = c.open(Sys.path(file(page, 0)), Sys.O_RDONLY, 0);
        int whole = c.open(Sys.path(file(page, 0)), Sys.O_RDONLY, 0);
        assertThat(begun).isNotNegative();
        assertThat(untouched).isNotNegative();
        assertThat(whole).isNotNegative();
        try {
            byte[] buf = new byte[16];
            assertThat(c.read(begun, buf, 16)).isEqualTo(16);
            page.checkRead(0, 0, 16, buf, 16, "first 16-byte read");
            byte[] all = new byte[64];
            assertThat(c.read(whole, all, 64)).isEqualTo(64);
            page.checkRead(0, 0, 64, all, 64, "whole read");

            assertThat(c.unlink(Sys.path(file(page, 0)))).isZero();

            assertThat(c.read(begun, buf, 16)).as("read after the deletion, 16 bytes in").isEqualTo(-1);
            assertThat(Sys.errno()).isEqualTo(Sys.EIO);
            assertThat(c.pread(begun, buf, 16, 48)).as("and any later read").isEqualTo(-1);
            assertThat(Sys.errno()).isEqualTo(Sys.EIO);
            assertThat(c.read(untouched, buf, 16)).as("an open that had nothing").isZero();
            assertThat(c.read(whole, all, 64)).as("an open that had all of it, at the end").isZero();
            assertThat(c.pread(whole, all, 16, 0)).as("and at the start").isZero();
        } finally {
            c.close(begun);
            c.close(untouched);
            c.close(whole);
        }
        byte[] other = Files.readAllBytes(Path.of(file(page, 1)));
        assertThat(page.isSecret(1, other)).as("the other secret, whole").isTrue();
    }

    @Test
    @DisplayName("one 16 MiB pread racing the deletion of an 8 MiB secret: the whole secret, nothing, or EIO next")
    void bigPreadRacesDeletion() throws Exception {
        int rounds = 6;
        int length = 8 << 20;
        SecretPage page = mount(rounds, length, rounds * (length + 64) + 4096);
        Sys c = Sys.C;
        byte[] buf = new byte[16 << 20];
        int whole = 0;
        int none = 0;
        int cut = 0;
        for (int round = 0; round < rounds; round++) {
            int fd = c.open(Sys.path(file(page, round)), Sys.O_RDONLY, 0);
            assertThat(fd).isNotNegative();
            try {
                CountDownLatch go = new CountDownLatch(1);
                Path victim = Path.of(file(page, round));
                CompletableFuture<Void> rm = CompletableFuture.runAsync(() -> {
                    try {
                        go.await();
                        Files.delete(victim);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                go.countDown();
                long n = c.pread(fd, buf, buf.length, 0);
                rm.get(BOUND_SECONDS, TimeUnit.SECONDS);
                if (n == length) {
                    page.checkRead(round, 0, buf.length, buf, n, "pread racing a deletion");
                    whole++;
                } else if (n == 0) {
                    none++;
                } else {
                    assertThat(n).as("pread racing a deletion: bytes").isPositive().isLessThan(length);
                    page.checkRead(round, 0, n, buf, n, "the part before the deletion");
                    // The kernel splits a read into requests of at most 128 KiB and returns what the
                    // ones before a failure got; the reader's next read must fail, not end the file.
                    assertThat(c.pread(fd, buf, buf.length, n)).as("the read after a cut-short pread").isEqualTo(-1);
                    assertThat(Sys.errno()).isEqualTo(Sys.EIO);
                    cut++;
                }
            } finally {
                c.close(fd);
            }
        }
        System.out.printf("TornReadIT: %d rounds: %d whole, %d nothing, %d cut short then EIO%n", rounds, whole, none,
                cut);
        assertThat(whole + none + cut).isEqualTo(rounds);
        Set<Integer> all = new java.util.HashSet<>();
        for (int i = 0; i < rounds; i++) {
            all.add(i);
        }
        mount.unmount();
        mount = null;
        page.checkOnlyWiped(Files.readAllBytes(tmp.resolve("page.bin")), all);
    }
}
