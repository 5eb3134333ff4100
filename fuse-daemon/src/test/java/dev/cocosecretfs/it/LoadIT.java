// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded load: two readers and one unlinker, a fixed number of operations each, against a page of
 * 200 secrets. Every read is the secret's exact bytes at its offset, or refused (the open fails with
 * ENOENT, a descriptor opened before the unlink reads 0 bytes, or EIO if it had already returned part
 * of the secret) and then only for a secret whose unlink had started; the page ends exactly as the successful unlinks say. Figures are printed, no
 * time is asserted.
 */
@DisplayName("bounded load")
class LoadIT {
    static final int SECRETS = 200;
    static final int READERS = 2;
    static final int OPERATIONS_PER_READER = 2500;
    static final int UNLINKS = 100;

    @TempDir
    Path tmp;

    final Sys c = Sys.C;
    final Set<Integer> unlinkStarted = ConcurrentHashMap.newKeySet();
    final AtomicLong readerOperations = new AtomicLong();
    final AtomicLong reads = new AtomicLong();
    final AtomicLong whole = new AtomicLong();
    final AtomicLong empty = new AtomicLong();
    final AtomicLong refused = new AtomicLong();

    @Test
    @DisplayName("2 readers and 1 unlinker on 200 secrets: every read whole or refused, the page as the unlinks say")
    void twoReadersOneUnlinker() throws Exception {
        CocoDaemon.assumeFuse();
        SecretPage page = SecretPage.random(SECRETS, 48, 16384);
        Path backing = page.write(tmp.resolve("page.bin"));
        List<Integer> victims = new ArrayList<>();
        for (int i = 0; i < SECRETS; i++) {
            victims.add(i);
        }
        Collections.shuffle(victims, new Random(5));
        victims = victims.subList(0, UNLINKS);
        Set<Integer> deleted = new TreeSet<>();
        long repeats;

        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, Files.createDirectory(tmp.resolve("mnt")))) {
            Path mnt = d.mountPoint;
            ExecutorService pool = Executors.newFixedThreadPool(READERS + 1);
            List<Future<?>> readers = new ArrayList<>();
            for (int r = 0; r < READERS; r++) {
                Random random = new Random(r);
                readers.add(pool.submit(() -> {
                    read(page, mnt, random);
                    return null;
                }));
            }
            List<Integer> order = victims;
            Future<Long> unlinker = pool.submit(() -> unlink(page, mnt, order, deleted));
            repeats = unlinker.get(5, TimeUnit.MINUTES);
            for (Future<?> f : readers) {
                f.get(5, TimeUnit.MINUTES);
            }
            pool.shutdown();

            try (Stream<Path> names = Files.list(mnt)) {
                List<String> expected = new ArrayList<>();
                for (int i = 0; i < SECRETS; i++) {
                    if (!deleted.contains(i)) {
                        expected.add(page.names.get(i));
                    }
                }
                assertThat(names.map(p -> p.getFileName().toString()).sorted())
                        .containsExactlyElementsOf(expected.stream().sorted().toList());
            }
            assertThat(d.stop()).isZero();
        }
        assertThat(deleted).hasSize(UNLINKS);
        page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
        System.out.printf("bounded load: %d secrets; %d readers x %d operations = %d reads (%d whole, %d empty or EIO on a"
                + " descriptor opened before the unlink, %d refused at open) and 1 unlinker: %d unlinks, %d repeated"
                + " or unknown names refused with ENOENT; the page ends with exactly those %d wiped%n",
                SECRETS, READERS, OPERATIONS_PER_READER, reads.get(), whole.get(), empty.get(), refused.get(),
                deleted.size(), repeats, deleted.size());
    }

    /** One reader: a fixed number of operations of four kinds on secrets picked at random. */
    private void read(SecretPage page, Path mnt, Random random) {
        byte[] buf = new byte[4096];
        int held = -1;
        int heldFd = -1;
        for (int op = 0; op < OPERATIONS_PER_READER; op++) {
            int i = random.nextInt(SECRETS);
            int kind = op % 4;
            if (kind == 3) {
                // Read the descriptor held since the previous round (perhaps unlinked since), then hold a new one.
                if (heldFd >= 0) {
                    check(page, held, heldFd, 0, buf.length, buf);
                    c.close(heldFd);
                }
                held = i;
                heldFd = open(page, mnt, i);
            } else {
                int fd = open(page, mnt, i);
                if (fd >= 0) {
                    try {
                        if (kind == 0) {
                            check(page, i, fd, 0, buf.length, buf);
                        } else if (kind == 1) {
                            int offset = random.nextInt(page.length(i) + 8);
                            check(page, i, fd, offset, 1 + random.nextInt(64), buf);
                        } else {
                            for (int k = 0; k < 3; k++) {
                                check(page, i, fd, random.nextInt(page.length(i)), 1, buf);
                            }
                        }
                    } finally {
                        c.close(fd);
                    }
                }
            }
            readerOperations.incrementAndGet();
        }
        if (heldFd >= 0) {
            check(page, held, heldFd, 0, buf.length, buf);
            c.close(heldFd);
        }
    }

    /** Opens secret i; -1 when refused with ENOENT, which only a secret being unlinked may be. */
    private int open(SecretPage page, Path mnt, int i) {
        int fd = c.open(Sys.path(mnt.resolve(page.names.get(i)).toString()), Sys.O_RDONLY, 0);
        if (fd < 0) {
            int errno = Sys.errno();
            if (errno != Sys.ENOENT || !unlinkStarted.contains(i)) {
                fail("open of secret %d failed with errno %d (its unlink %s)", i, errno,
                        unlinkStarted.contains(i) ? "had started" : "had not started");
            }
            refused.incrementAndGet();
            reads.incrementAndGet();
        }
        return fd;
    }

    /** One pread: the exact bytes, or 0 bytes or EIO for a secret whose unlink had started. */
    private void check(SecretPage page, int i, int fd, long offset, long count, byte[] buf) {
        long n = c.pread(fd, buf, count, offset);
        reads.incrementAndGet();
        if (n < 0) {
            int errno = Sys.errno();
            if (errno != Sys.EIO || !unlinkStarted.contains(i)) {
                fail("pread of secret %d at offset %d failed with errno %d (its unlink %s)", i, offset, errno,
                        unlinkStarted.contains(i) ? "had started" : "had not started");
            }
            empty.incrementAndGet();
            return;
        }
        if (n == 0 && offset < page.length(i)) {
            if (!unlinkStarted.contains(i)) {
                fail("secret %d read 0 bytes at offset %d without an unlink", i, offset);
            }
            empty.incrementAndGet();
            return;
        }
        page.checkRead(i, offset, count, buf, n, "pread");
        whole.incrementAndGet();
    }

    /**
     * Unlinks the victims one by one, paced by the readers' progress so that deletions are spread over
     * the whole run; between them, repeats an earlier unlink and tries an unknown name, both ENOENT.
     */
    private long unlink(SecretPage page, Path mnt, List<Integer> victims, Set<Integer> deleted) throws Exception {
        long total = (long) READERS * OPERATIONS_PER_READER;
        long refusedUnlinks = 0;
        for (int k = 0; k < victims.size(); k++) {
            while (readerOperations.get() < total * k / (victims.size() + 1)) {
                Thread.sleep(1);
            }
            int i = victims.get(k);
            unlinkStarted.add(i);
            assertThat(c.unlink(Sys.path(mnt.resolve(page.names.get(i)).toString()))).as("unlink of %d", i).isZero();
            deleted.add(i);
            if (k % 10 == 9) {
                assertThat(c.unlink(Sys.path(mnt.resolve(page.names.get(victims.get(k - 5))).toString())))
                        .isEqualTo(-1);
                assertThat(Sys.errno()).isEqualTo(Sys.ENOENT);
                assertThat(c.unlink(Sys.path(mnt.resolve("00000000-0000-4000-8000-00000000000" + k % 10).toString())))
                        .isEqualTo(-1);
                assertThat(Sys.errno()).isEqualTo(Sys.ENOENT);
                refusedUnlinks += 2;
            }
        }
        return refusedUnlinks;
    }
}
