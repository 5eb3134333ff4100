// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.security;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.FuseMount;
import dev.cocosecretfs.fuse.Ownership;
import dev.cocosecretfs.fuse.SecretFs;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 48 client threads for 20 s on 600 secrets: readers read whole secrets in chunks of 16 bytes to 4
 * KiB, others stat and list, a few unlink. A read of a secret is whole, or empty (opened before its
 * deletion, nothing read), or ends in EIO after part of it (the reader is told): never a part and a
 * clean end of file (a torn read), never a wrong byte. The page ends exactly as the successful
 * unlinks say. The 20 s bound the run; nothing is timed.
 */
@DisplayName("48 clients for 20 s on 600 secrets: no torn read, no wrong byte, the page as the unlinks say")
class StressIT {
    private static final int SECRETS = 600;
    private static final int READERS = 36;
    private static final int LOOKERS = 8;
    private static final int UNLINKERS = 4;
    private static final long RUN_NANOS = TimeUnit.SECONDS.toNanos(20);
    private static final int MAX_UNLINKS = 300;

    @TempDir
    Path tmp;

    private final Set<Integer> unlinkStarted = ConcurrentHashMap.newKeySet();
    private final Set<Integer> unlinked = ConcurrentHashMap.newKeySet();
    private final AtomicLong whole = new AtomicLong();
    private final AtomicLong empty = new AtomicLong();
    private final AtomicLong eioAfterPart = new AtomicLong();
    private final AtomicLong refusedAtOpen = new AtomicLong();
    private final AtomicLong looks = new AtomicLong();
    private final AtomicLong readerOps = new AtomicLong();

    @Test
    void stress() throws Exception {
        CocoDaemon.assumeFuse();
        SecretPage page = SecretPage.randomLarge(SECRETS, 1024, SECRETS * (1024 + 20) + 4096);
        Path file = page.write(tmp.resolve("page.bin"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        ExecutorService pool = Executors.newFixedThreadPool(READERS + LOOKERS + UNLINKERS);
        try (BackingStore store = Stores.open(file)) {
            FuseMount mount = FuseMount.mount(new SecretFs(SecretDirectory.open(store), Ownership.DEFAULT), mnt, false);
            try {
                long end = System.nanoTime() + RUN_NANOS;
                List<Future<?>> all = new ArrayList<>();
                for (int t = 0; t < READERS; t++) {
                    long seed = t;
                    all.add(pool.submit(() -> read(page, mnt, new Random(seed), end)));
                }
                for (int t = 0; t < LOOKERS; t++) {
                    long seed = 100 + t;
                    all.add(pool.submit(() -> look(page, mnt, new Random(seed), end)));
                }
                for (int t = 0; t < UNLINKERS; t++) {
                    long seed = 200 + t;
                    all.add(pool.submit(() -> unlink(page, mnt, new Random(seed), end)));
                }
                for (Future<?> f : all) {
                    f.get(RUN_NANOS / 1_000_000_000L + 120, TimeUnit.SECONDS);
                }
            } finally {
                mount.unmount();
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.printf("stress: %d secrets, %d client threads for %d s: %d reads whole, %d empty, %d EIO after"
                + " part, %d refused at open, %d stats and listings, %d unlinks; 0 torn, 0 wrong bytes%n", SECRETS,
                READERS + LOOKERS + UNLINKERS, TimeUnit.NANOSECONDS.toSeconds(RUN_NANOS), whole.get(), empty.get(),
                eioAfterPart.get(), refusedAtOpen.get(), looks.get(), unlinked.size());
        assertThat(unlinked).isNotEmpty();
        assertThat(whole.get()).isPositive();
        page.checkOnlyWiped(Files.readAllBytes(file), unlinked);
    }

    private Void read(SecretPage page, Path mnt, Random random, long end) {
        Sys c = Sys.C;
        byte[] buf = new byte[4096];
        int[] chunks = {16, 100, 1024, 4096};
        while (System.nanoTime() < end) {
            int i = random.nextInt(SECRETS);
            byte[] secret = page.secrets.get(i);
            int fd = c.open(Sys.path(mnt.resolve(page.names.get(i)).toString()), Sys.O_RDONLY, 0);
            readerOps.incrementAndGet();
            if (fd < 0) {
                int errno = Sys.errno();
                assertThat(errno).as("errno of open of secret %d", i).isEqualTo(Sys.ENOENT);
                assertThat(unlinkStarted).as("secret %d refused at open", i).contains(i);
                refusedAtOpen.incrementAndGet();
                continue;
            }
            try {
                int chunk = chunks[random.nextInt(chunks.length)];
                long got = 0;
                while (true) {
                    long n = c.read(fd, buf, chunk);
                    if (n < 0) {
                        assertThat(Sys.errno()).as("errno of a read of secret %d at %d", i, got).isEqualTo(Sys.EIO);
                        assertThat(got).as("bytes of secret %d before EIO", i).isPositive();
                        assertThat(unlinkStarted).as("secret %d, EIO", i).contains(i);
                        eioAfterPart.incrementAndGet();
                        break;
                    }
                    if (n == 0) {
                        if (got == 0) {
                            assertThat(unlinkStarted).as("secret %d read empty", i).contains(i);
                            empty.incrementAndGet();
                        } else {
                            assertThat(got).as("bytes of secret %d before the end of file (a torn read)", i)
                                    .isEqualTo(secret.length);
                            whole.incrementAndGet();
                        }
                        break;
                    }
                    for (int k = 0; k < n; k++) {
                        if (buf[k] != secret[(int) got + k]) {
                            throw new AssertionError("secret " + i + ": byte " + (got + k) + " is wrong");
                        }
                    }
                    got += n;
                }
            } finally {
                c.close(fd);
            }
        }
        return null;
    }

    private Void look(SecretPage page, Path mnt, Random random, long end) throws Exception {
        while (System.nanoTime() < end) {
            if (random.nextInt(8) == 0) {
                Set<Integer> goneBefore = new HashSet<>(unlinked);
                Set<String> listed;
                try (Stream<Path> names = Files.list(mnt)) {
                    listed = names.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
                }
                Set<Integer> startedAfter = new HashSet<>(unlinkStarted);
                for (int i = 0; i < SECRETS; i++) {
                    String name = page.names.get(i);
                    if (goneBefore.contains(i)) {
                        assertThat(listed).as("listing after the unlink of secret %d", i).doesNotContain(name);
                    } else if (!startedAfter.contains(i)) {
                        assertThat(listed).as("listing of secret %d, never unlinked", i).contains(name);
                    }
                }
            } else {
                int i = random.nextInt(SECRETS);
                try {
                    assertThat(Files.size(mnt.resolve(page.names.get(i)))).as("size of secret %d", i)
                            .isEqualTo(page.length(i));
                } catch (NoSuchFileException e) {
                    assertThat(unlinkStarted).as("secret %d missing at stat", i).contains(i);
                }
            }
            looks.incrementAndGet();
        }
        return null;
    }

    private Void unlink(SecretPage page, Path mnt, Random random, long end) throws Exception {
        while (System.nanoTime() < end) {
            // Paced by the readers, so that deletions are spread over the run rather than all first.
            if (unlinkStarted.size() >= MAX_UNLINKS || readerOps.get() < 20L * unlinkStarted.size()) {
                Thread.sleep(1);
                continue;
            }
            int i = random.nextInt(SECRETS);
            unlinkStarted.add(i);
            try {
                Files.delete(mnt.resolve(page.names.get(i)));
                assertThat(unlinked.add(i)).as("secret %d unlinked twice", i).isTrue();
            } catch (NoSuchFileException e) {
                // another unlinker took it first
            }
        }
        return null;
    }
}
