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
import dev.cocosecretfs.testing.ForwardingStore;
import dev.cocosecretfs.testing.SecretPage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One thread takes the kernel's requests and answers the quick ones itself (FuseLoop); these tests
 * hold it to its promise that a request that waits never holds up the others. The wipe here waits
 * until the test lets it go, as a wipe on a slow disk would; while it waits, other secrets read
 * whole, and requests for the very secret being wiped wait without holding up anyone either, then
 * get nothing (never the old bytes).
 *
 * <p>The waits below are there to turn a hang into a failure, not to time anything.
 */
@DisplayName("a wipe that waits holds up nothing but reads of its own secret")
class SlowWipeIT {
    private static final long HANG_SECONDS = 60;

    @TempDir
    Path tmp;

    @Test
    void readsGoOnWhileAWipeWaits() throws Exception {
        CocoDaemon.assumeFuse();
        SecretPage page = SecretPage.random(3, 40, 4096);
        Path file = page.write(tmp.resolve("page.bin"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        CountDownLatch wiping = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        ExecutorService callers = Executors.newCachedThreadPool();
        FileChannel opened = null;
        try (BackingStore real = Stores.open(file)) {
            FuseMount mount = FuseMount.mount(
                    new SecretFs(SecretDirectory.open(held(real, wiping, letGo)), Ownership.DEFAULT), mnt, false);
            try {
                // The kernel holds the directory's lock through an unlink, so a name it has not
                // looked up yet, or a listing, waits for the unlink whatever the daemon does: look
                // every name up first, as a container reading its secrets would have.
                for (String name : page.names) {
                    assertThat(Files.size(mnt.resolve(name))).isEqualTo(40);
                }
                opened = FileChannel.open(mnt.resolve(page.names.get(0)));
                Future<?> rm = callers.submit(() -> {
                    Files.delete(mnt.resolve(page.names.get(0)));
                    return null;
                });
                assertThat(wiping.await(HANG_SECONDS, TimeUnit.SECONDS)).as("the wipe started").isTrue();

                assertThat(readWhole(callers, mnt.resolve(page.names.get(1)))).as("another secret, read whole")
                        .matches(bytes -> Arrays.equals(bytes, page.secrets.get(1)));

                // Two requests for the secret being wiped: a read on a descriptor opened before the
                // unlink waits on the secret's lock in the daemon, an open of its name waits inside
                // libfuse. Neither may hold up a read of a third secret.
                FileChannel before = opened;
                Future<Integer> openedBefore = callers.submit(() -> before.read(ByteBuffer.allocate(64), 0));
                awaitReadWaitingForTheWipe();
                Future<byte[]> openedDuring = callers.submit(() -> Files.readAllBytes(mnt.resolve(page.names.get(0))));
                assertThat(readWhole(callers, mnt.resolve(page.names.get(2))))
                        .as("a third secret, while two requests wait for the wipe")
                        .matches(bytes -> Arrays.equals(bytes, page.secrets.get(2)));
                assertThat(rm.isDone()).as("the wipe still waits").isFalse();

                letGo.countDown();
                rm.get(HANG_SECONDS, TimeUnit.SECONDS);
                assertThat(openedBefore.get(HANG_SECONDS, TimeUnit.SECONDS)).as("bytes of the read that waited")
                        .isLessThanOrEqualTo(0);
                try {
                    assertThat(openedDuring.get(HANG_SECONDS, TimeUnit.SECONDS)).as("the open that waited").isEmpty();
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).as("the open that waited").isInstanceOf(NoSuchFileException.class);
                }
                assertThat(Files.exists(mnt.resolve(page.names.get(0)))).isFalse();
            } finally {
                letGo.countDown();
                if (opened != null) {
                    opened.close();
                }
                mount.unmount();
            }
        } finally {
            callers.shutdownNow();
        }
        page.checkOnlyWiped(Files.readAllBytes(file), Set.of(0));
    }

    private static byte[] readWhole(ExecutorService callers, Path file) throws Exception {
        return callers.submit(() -> Files.readAllBytes(file)).get(HANG_SECONDS, TimeUnit.SECONDS);
    }

    /** Waits until a FUSE worker of this process is parked inside SecretDirectory.read: on the secret's lock. */
    private static void awaitReadWaitingForTheWipe() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_SECONDS);
        while (System.nanoTime() < deadline) {
            for (var thread : Thread.getAllStackTraces().entrySet()) {
                if (thread.getKey().getName().startsWith("fuse-")
                        && thread.getKey().getState() == Thread.State.WAITING
                        && Arrays.stream(thread.getValue()).anyMatch(f -> f.getClassName().endsWith("SecretDirectory")
                                && f.getMethodName().equals("read"))) {
                    return;
                }
            }
            Thread.sleep(10);
        }
        StringBuilder workers = new StringBuilder();
        Thread.getAllStackTraces().forEach((thread, stack) -> {
            if (thread.getName().startsWith("fuse-")) {
                workers.append("\n  ").append(thread.getName()).append(' ').append(thread.getState());
                Arrays.stream(stack).limit(40).forEach(f -> workers.append("\n    at ").append(f));
            }
        });
        throw new AssertionError("no read of the secret being wiped reached the daemon; its workers:" + workers);
    }

    /** {@code real}, whose wipes wait for {@code letGo} after counting {@code wiping} down. */
    private static BackingStore held(BackingStore real, CountDownLatch wiping, CountDownLatch letGo) {
        return new ForwardingStore(real) {
            @Override
            public void wipe(long offset, long length) throws IOException {
                wiping.countDown();
                try {
                    if (!letGo.await(HANG_SECONDS, TimeUnit.SECONDS)) {
                        throw new IOException("the test never let the wipe go");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", e);
                }
                real.wipe(offset, length);
            }
        };
    }
}
