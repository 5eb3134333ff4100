// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded stress: 48 client threads read (whole, in pieces of random size, and at random
 * offsets), stat, list and unlink 600 secrets of 1 byte to 8 KiB for 20 seconds (or a fixed number of
 * operations each, whichever ends first). What may happen to a read is exact: all of the secret, or,
 * once its unlink has started, nothing (the open fails with ENOENT or the first read returns 0
 * bytes), or an error (EIO) after some bytes. A read that ends cleanly after a prefix is torn; a byte
 * that is not the secret's is wrong; both must be 0. The page ends exactly as the successful unlinks
 * say. Figures are printed; no time is asserted.
 */
@DisplayName("stress: 48 threads on 600 secrets")
class StressIT {
    static final int SECRETS = 600;
    static final int THREADS = 48;
    static final long SECONDS = 20;
    static final int OPERATIONS_PER_THREAD = 40_000;
    /** At most this many secrets are unlinked, so that reads go on finding live ones to the end. */
    static final int UNLINKS = 400;

    @TempDir
    Path tmp;

    final Sys c = Sys.C;
    final Set<Integer> unlinkStarted = ConcurrentHashMap.newKeySet();
    final Set<Integer> deleted = ConcurrentHashMap.newKeySet();
    final AtomicInteger claims = new AtomicInteger();
    final AtomicLong wholeReads = new AtomicLong();
    final AtomicLong emptyReads = new AtomicLong();
    final AtomicLong cutReads = new AtomicLong();
    final AtomicLong refusedOpens = new AtomicLong();
    final AtomicLong tornReads = new AtomicLong();
    final AtomicLong wrongBytes = new AtomicLong();
    final AtomicLong stats = new AtomicLong();
    final AtomicLong listings = new AtomicLong();
    final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();

    @Test
    @DisplayName("0 torn reads, 0 wrong bytes, the page exactly as the successful unlinks say")
    void noTornReadsNoWrongBytes() throws Exception {
        CocoDaemon.assumeFuse();
        SecretPage page = SecretPage.randomLengths(SECRETS, 1, 8192, 4 << 20);
        Path backing = page.write(tmp.resolve("page.bin"));
        long operations = 0;
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing,
                Files.createDirectory(tmp.resolve("mnt")))) {
            Path mnt = d.mountPoint;
            long start = System.nanoTime();
            long deadline = start + TimeUnit.SECONDS.toNanos(SECONDS);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<Long>> clients = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                SplittableRandom random = new SplittableRandom(t);
                clients.add(pool.submit(() -> client(page, mnt, random, start, deadline)));
            }
            for (Future<Long> f : clients) {
                operations += f.get(5, TimeUnit.MINUTES);
            }
            pool.shutdown();
            assertThat(failures).as("unexpected answers").isEmpty();

            Set<String> expected = new TreeSet<>();
            for (int i = 0; i < SECRETS; i++) {
                if (!deleted.contains(i)) {
                    expected.add(page.names.get(i));
                }
            }
            try (Stream<Path> names = Files.list(mnt)) {
                assertThat(names.map(p -> p.getFileName().toString()).sorted()).containsExactlyElementsOf(expected);
            }
            assertThat(d.stop()).isZero();
        }
        System.out.printf("stress: %d threads, %d secrets of 1-8192 bytes, %d operations in at most %d s: %d whole"
                + " reads, %d empty and %d cut off with EIO after their unlink began, %d opens refused after it,"
                + " %d stats, %d listings, %d unlinks; %d torn reads, %d wrong bytes%n",
                THREADS, SECRETS, operations, SECONDS, wholeReads.get(), emptyReads.get(), cutReads.get(),
                refusedOpens.get(), stats.get(), listings.get(), deleted.size(), tornReads.get(), wrongBytes.get());
        assertThat(tornReads.get()).as("torn reads").isZero();
        assertThat(wrongBytes.get()).as("reads with a byte that is not the secret's").isZero();
        assertThat(deleted).as("unlinks").isNotEmpty();
        page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
    }

    private long client(SecretPage page, Path mnt, SplittableRandom random, long start, long deadline) {
        byte[] buf = new byte[16384];
        long done = 0;
        while (done < OPERATIONS_PER_THREAD && System.nanoTime() < deadline && failures.size() < 20) {
            int i = random.nextInt(SECRETS);
            int kind = random.nextInt(100);
            if (kind < 45) {
                readWhole(page, mnt, i, random, buf);
            } else if (kind < 65) {
                readAt(page, mnt, i, random, buf);
            } else if (kind < 85) {
                stat(page, mnt, i);
            } else if (kind < 92) {
                list(page, mnt);
            } else {
                unlink(page, mnt, start, deadline);
            }
            done++;
        }
        return done;
    }

    private int open(SecretPage page, Path mnt, int i) {
        int fd = c.open(Sys.path(mnt.resolve(page.names.get(i)).toString()), Sys.O_RDONLY, 0);
        if (fd < 0) {
            int errno = Sys.errno();
            if (errno == Sys.ENOENT && unlinkStarted.contains(i)) {
                refusedOpens.incrementAndGet();
            } else {
                failures.add("open of secret " + i + " failed with errno " + errno);
            }
        }
        return fd;
    }

    /** Reads secret i from the start in pieces of random size until the end of file or an error. */
    private void readWhole(SecretPage page, Path mnt, int i, SplittableRandom random, byte[] buf) {
        int fd = open(page, mnt, i);
        if (fd < 0) {
            return;
        }
        byte[] secret = page.secrets.get(i);
        int got = 0;
        try {
            while (true) {
                long n = c.read(fd, buf, 1 + random.nextInt(random.nextInt(4) == 0 ? buf.length : 64));
                if (n < 0) {
                    int errno = Sys.errno();
                    if (errno == Sys.EIO && got > 0 && unlinkStarted.contains(i)) {
                        cutReads.incrementAndGet();
                    } else {
                        failures.add("read of secret " + i + " after " + got + " bytes failed with errno " + errno);
                    }
                    return;
                }
                if (n == 0) {
                    if (got == secret.length) {
                        wholeReads.incrementAndGet();
                    } else if (got == 0 && unlinkStarted.contains(i)) {
                        emptyReads.incrementAndGet();
                    } else {
                        tornReads.incrementAndGet();
                    }
                    return;
                }
                if (got + n > secret.length) {
                    wrongBytes.incrementAndGet();
                    return;
                }
                for (int k = 0; k < n; k++) {
                    if (buf[k] != secret[got + k]) {
                        wrongBytes.incrementAndGet();
                        return;
                    }
                }
                got += (int) n;
            }
        } finally {
            c.close(fd);
        }
    }

    /** One pread at a random offset: the exact bytes there, or 0 bytes once the unlink began. */
    private void readAt(SecretPage page, Path mnt, int i, SplittableRandom random, byte[] buf) {
        int fd = open(page, mnt, i);
        if (fd < 0) {
            return;
        }
        byte[] secret = page.secrets.get(i);
        try {
            long offset = random.nextInt(secret.length + 4);
            long count = 1 + random.nextInt(buf.length);
            long n = c.pread(fd, buf, count, offset);
            long expected = offset >= secret.length ? 0 : Math.min(count, secret.length - offset);
            if (n < 0) {
                failures.add("pread of secret " + i + " failed with errno " + Sys.errno());
            } else if (n == 0 && expected > 0) {
                if (unlinkStarted.contains(i)) {
                    emptyReads.incrementAndGet();
                } else {
                    failures.add("pread of secret " + i + " at " + offset + " read 0 bytes without an unlink");
                }
            } else if (n != expected) {
                tornReads.incrementAndGet();
            } else {
                for (int k = 0; k < n; k++) {
                    if (buf[k] != secret[(int) offset + k]) {
                        wrongBytes.incrementAndGet();
                        return;
                    }
                }
                wholeReads.incrementAndGet();
            }
        } finally {
            c.close(fd);
        }
    }

    private void stat(SecretPage page, Path mnt, int i) {
        try {
            long size = Files.size(mnt.resolve(page.names.get(i)));
            if (size != page.length(i)) {
                failures.add("stat of secret " + i + " gave size " + size + ", not " + page.length(i));
            }
            stats.incrementAndGet();
        } catch (NoSuchFileException e) {
            if (!unlinkStarted.contains(i)) {
                failures.add("stat of secret " + i + " found nothing without an unlink");
            }
        } catch (IOException e) {
            failures.add("stat of secret " + i + " failed: " + e);
        }
    }

    /** Every name listed is a secret of the page, and every secret whose unlink had not begun is listed. */
    private void list(SecretPage page, Path mnt) {
        Set<String> seen;
        try (Stream<Path> names = Files.list(mnt)) {
            seen = new TreeSet<>(names.map(p -> p.getFileName().toString()).toList());
        } catch (IOException e) {
            failures.add("listing failed: " + e);
            return;
        }
        for (int i = 0; i < SECRETS; i++) {
            if (!seen.remove(page.names.get(i)) && !unlinkStarted.contains(i)) {
                failures.add("listing lacks secret " + i + " without an unlink");
            }
        }
        if (!seen.isEmpty()) {
            failures.add("listing has " + seen.size() + " names that are no secret of the page");
        }
        listings.incrementAndGet();
    }

    /**
     * Unlinks the next unclaimed secret (each is claimed once, so ENOENT is never right); claims are
     * paced over the run, so that deletions meet reads from start to end.
     */
    private void unlink(SecretPage page, Path mnt, long start, long deadline) {
        int claim = claims.get();
        if (claim >= UNLINKS || System.nanoTime() - start < (deadline - start) / UNLINKS * claim
                || !claims.compareAndSet(claim, claim + 1)) {
            return;
        }
        // Claims walk the page with a stride coprime to its size, so the victims are spread over it.
        int i = (int) ((long) claim * 7 % SECRETS);
        unlinkStarted.add(i);
        if (c.unlink(Sys.path(mnt.resolve(page.names.get(i)).toString())) == 0) {
            deleted.add(i);
        } else {
            failures.add("unlink of secret " + i + " failed with errno " + Sys.errno());
        }
    }
}
