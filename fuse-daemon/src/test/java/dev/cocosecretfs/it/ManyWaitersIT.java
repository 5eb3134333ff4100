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
import dev.cocosecretfs.testing.HeldWipes;
import dev.cocosecretfs.testing.SecretPage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * More requests waiting for one wipe than the loop ever had workers (it had 32): each of 48
 * descriptors opened before the unlink reads while the wipe is held, and each read waits on the
 * secret's lock on a worker of its own (and an fstat of each, which may wait inside libfuse). Another
 * secret must still read whole meanwhile: some thread is always left to take requests from
 * /dev/fuse. The waits are bounds that turn a hang into a failure, not timings.
 */
@DisplayName("any number of requests waiting on one wipe hold up nothing else")
class ManyWaitersIT {
    private static final long HANG_SECONDS = 120;
    /** Shorter than the wipe is held, so that a read held up by the wipe fails rather than waits it out. */
    private static final long OTHER_READ_SECONDS = 30;
    private static final int WAITERS = 48;

    @TempDir
    Path tmp;

    @Test
    void moreWaitersThanAnyCap() throws Exception {
        CocoDaemon.assumeFuse();
        SecretPage page = SecretPage.random(2, 40, 4096);
        Path file = page.write(tmp.resolve("page.bin"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        ExecutorService callers = Executors.newCachedThreadPool();
        List<FileChannel> opened = new ArrayList<>();
        try (BackingStore real = Stores.open(file)) {
            HeldWipes held = new HeldWipes(real, HANG_SECONDS);
            CountDownLatch letGo = held.letGo;
            FuseMount mount = FuseMount.mount(new SecretFs(SecretDirectory.open(held), Ownership.DEFAULT), mnt, false);
            try {
                Path victim = mnt.resolve(page.names.get(0));
                Path other = mnt.resolve(page.names.get(1));
                assertThat(Files.size(other)).isEqualTo(40); // looked up before the unlink holds the directory
                for (int i = 0; i < WAITERS; i++) {
                    opened.add(FileChannel.open(victim));
                }
                Future<?> rm = callers.submit(() -> {
                    Files.delete(victim);
                    return null;
                });
                assertThat(held.wiping.await(HANG_SECONDS, TimeUnit.SECONDS)).as("the wipe started").isTrue();
                List<Future<Integer>> reads = new ArrayList<>();
                for (FileChannel channel : opened) {
                    reads.add(callers.submit(() -> channel.read(ByteBuffer.allocate(64), 0)));
                }
                int waiting = awaitWaiting(WAITERS);
                // And fstat of the same descriptors, as measured in the issue: a GETATTR that reaches
                // the daemon (the kernel caches attributes for a second) waits inside libfuse, which
                // holds the name being unlinked, on a worker of its own too.
                List<Future<Long>> stats = new ArrayList<>();
                for (FileChannel channel : opened) {
                    stats.add(callers.submit(channel::size));
                }

                byte[] bytes = callers.submit(() -> Files.readAllBytes(other))
                        .get(OTHER_READ_SECONDS, TimeUnit.SECONDS);
                assertThat(Arrays.equals(bytes, page.secrets.get(1)))
                        .as("another secret, read whole while %d reads wait for the wipe", waiting).isTrue();
                assertThat(waiting).as("reads waiting for the wipe at once").isEqualTo(WAITERS);
                assertThat(rm.isDone()).as("the wipe still waits").isFalse();

                letGo.countDown();
                rm.get(HANG_SECONDS, TimeUnit.SECONDS);
                for (Future<Integer> read : reads) {
                    assertThat(read.get(HANG_SECONDS, TimeUnit.SECONDS)).as("a read that waited and had nothing")
                            .isLessThanOrEqualTo(0);
                }
                for (Future<Long> stat : stats) {
                    try {
                        assertThat(stat.get(HANG_SECONDS, TimeUnit.SECONDS)).as("fstat").isIn(0L, 40L);
                    } catch (java.util.concurrent.ExecutionException e) {
                        assertThat(e.getCause()).as("fstat after the unlink").isInstanceOf(IOException.class);
                    }
                }
            } finally {
                letGo.countDown();
                for (FileChannel channel : opened) {
                    channel.close();
                }
                mount.unmount();
            }
        } finally {
            callers.shutdownNow();
        }
        page.checkOnlyWiped(Files.readAllBytes(file), Set.of(0));
    }

    /**
     * Waits, within a bound, until {@code wanted} FUSE workers of this process wait inside
     * SecretDirectory.read, or their number has stopped growing for a while; returns how many do.
     */
    private static int awaitWaiting(int wanted) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        int seen = 0;
        long lastGrowth = System.nanoTime();
        while (System.nanoTime() < deadline && System.nanoTime() - lastGrowth < TimeUnit.SECONDS.toNanos(5)) {
            int now = 0;
            for (var thread : Thread.getAllStackTraces().entrySet()) {
                if (thread.getKey().getName().startsWith("fuse-")
                        && thread.getKey().getState() == Thread.State.WAITING
                        && Arrays.stream(thread.getValue()).anyMatch(f -> f.getClassName().endsWith("SecretDirectory")
                                && f.getMethodName().equals("read"))) {
                    now++;
                }
            }
            if (now > seen) {
                seen = now;
                lastGrowth = System.nanoTime();
            }
            if (seen >= wanted) {
                break;
            }
            Thread.sleep(20);
        }
        return seen;
    }
}
