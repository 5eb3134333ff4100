// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static dev.cocosecretfs.platform.FuseLowLevel.BUF_MEM;
import static dev.cocosecretfs.platform.FuseLowLevel.IN_OPCODE;
import static org.assertj.core.api.Assertions.assertThat;

import com.kenai.jffi.MemoryIO;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The loop's bookkeeping against a session that behaves as libfuse's does over a kernel that queues
 * requests: receive blocks until a request is queued (a wake queues one, as the statfs of the real
 * wake makes the kernel do) and returns 0 once the session has exited. The waits are bounds that turn
 * a hang into a failure, not timings.
 */
class FuseLoopTest {
    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    private static final long BOUND_SECONDS = 20;
    private static final int GETATTR = 3;
    private static final int STATFS = 17;
    private static final int READ = 15;

    private final FakeSession session = new FakeSession();
    private FuseLoop loop;

    @AfterEach
    void end() throws Exception {
        session.letGo.countDown();
        if (loop != null) {
            loop.stop();
            try {
                loop.ended().get(BOUND_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                // the test has failed already; its threads are daemons
            }
        }
    }

    @Test
    @DisplayName("a worker that cannot be started is not counted: the loop still ends and unmounts")
    void failedStart() throws Exception {
        AtomicInteger made = new AtomicInteger();
        ThreadFactory secondFails = r -> made.incrementAndGet() == 2 ? new Unstartable(r) : daemon(r);
        loop = new FuseLoop(session, secondFails).run();
        assertThat(made.get()).isEqualTo(2);
        assertThat(loop.workers()).as("workers counted after one failed to start").isEqualTo(1);

        loop.stop();
        loop.ended().get(BOUND_SECONDS, TimeUnit.SECONDS);
        assertThat(session.closed.get()).as("unmounted and freed once").isEqualTo(1);
    }

    @Test
    @DisplayName("no worker at all: the loop has ended (unmounted) by the time run returns")
    void noWorkerAtAll() throws Exception {
        loop = new FuseLoop(session, Unstartable::new).run();
        loop.ended().get(BOUND_SECONDS, TimeUnit.SECONDS);
        assertThat(session.closed.get()).isEqualTo(1);
        assertThat(loop.workers()).isZero();
    }

    @Test
    @DisplayName("a worker that fails while another leads ends the loop: the leader in receive is woken")
    void failingFollowerEndsTheLoop() throws Exception {
        session.onUnlink = () -> {
            throw new IllegalStateException("worker failed while answering");
        };
        loop = new FuseLoop(session, FuseLoopTest::daemon).run();
        session.queue(FuseLoop.FUSE_UNLINK); // handed off: the failing worker is no longer the leader

        loop.ended().get(BOUND_SECONDS, TimeUnit.SECONDS);
        assertThat(session.closed.get()).isEqualTo(1);
        assertThat(session.woken.get()).as("wakes").isPositive();
    }

    @Test
    @DisplayName("stop from outside the loop ends it while its leader waits in receive")
    void stopFromOutside() throws Exception {
        loop = new FuseLoop(session, FuseLoopTest::daemon).run();
        session.queue(GETATTR);
        assertThat(session.processed.poll(BOUND_SECONDS, TimeUnit.SECONDS)).isEqualTo(GETATTR);

        loop.stop();
        loop.ended().get(BOUND_SECONDS, TimeUnit.SECONDS);
        assertThat(session.closed.get()).isEqualTo(1);
    }

    @Test
    @DisplayName("48 requests waiting on one wipe, more than any fixed cap: another request is still answered")
    void moreWaitersThanWorkers() throws Exception {
        CountDownLatch wiping = new CountDownLatch(1);
        session.onUnlink = () -> {
            wiping.countDown();
            session.awaitLetGo();
        };
        session.onGetattr = session::awaitLetGo; // waits as a getattr of the name being unlinked does in libfuse
        loop = new FuseLoop(session, FuseLoopTest::daemon).run();
        session.queue(FuseLoop.FUSE_UNLINK);
        assertThat(wiping.await(BOUND_SECONDS, TimeUnit.SECONDS)).isTrue();
        int waiters = 48;
        for (int i = 0; i < waiters; i++) {
            session.queue(GETATTR);
        }
        session.queue(READ);

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_SECONDS);
        while (session.waiting.get() < waiters + 1 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(session.waiting.get()).as("requests waiting at once, the unlink's included").isEqualTo(waiters + 1);
        Integer answered = session.processed.poll(BOUND_SECONDS, TimeUnit.SECONDS);
        assertThat(answered).as("a request for something else, answered while %d wait", waiters).isEqualTo(READ);

        session.letGo.countDown();
        for (int i = 0; i < waiters + 1; i++) {
            assertThat(session.processed.poll(BOUND_SECONDS, TimeUnit.SECONDS)).isNotNull();
        }
    }

    private static Thread daemon(Runnable r) {
        Thread t = new Thread(r, "fuse-test");
        t.setDaemon(true);
        return t;
    }

    /** A thread whose start fails as it does when the process may have no more threads. */
    private static final class Unstartable extends Thread {
        Unstartable(Runnable r) {
            super(r);
        }

        @Override
        public synchronized void start() {
            throw new OutOfMemoryError("unable to create native thread: possibly out of memory or process/resource"
                    + " limits reached");
        }
    }

    /** libfuse's session over a queue of opcodes standing in for the kernel. */
    private static final class FakeSession implements FuseLoop.Session {
        private static final int EXITED = -1;
        final BlockingQueue<Integer> kernel = new LinkedBlockingQueue<>();
        final BlockingQueue<Integer> processed = new LinkedBlockingQueue<>();
        final CountDownLatch letGo = new CountDownLatch(1);
        final AtomicInteger closed = new AtomicInteger();
        final AtomicInteger woken = new AtomicInteger();
        final AtomicInteger waiting = new AtomicInteger();
        volatile boolean exited;
        volatile Runnable onUnlink = () -> {};
        volatile Runnable onGetattr = () -> {};

        void queue(int opcode) {
            kernel.add(opcode);
        }

        void awaitLetGo() {
            waiting.incrementAndGet();
            try {
                letGo.await(BOUND_SECONDS * 3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public long bufferSize() {
            return 4096;
        }

        @Override
        public long channel() {
            return 1;
        }

        @Override
        public int receive(long request, long channelSlot) {
            int opcode;
            try {
                opcode = kernel.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return -4;
            }
            if (exited || opcode == EXITED) {
                return 0; // libfuse drops a request read after the session exited
            }
            long mem = MEMORY.getAddress(request + BUF_MEM);
            MEMORY.putInt(mem, 40);
            MEMORY.putInt(mem + IN_OPCODE, opcode);
            return 40;
        }

        @Override
        public void process(long request, long channel) {
            int opcode = MEMORY.getInt(MEMORY.getAddress(request + BUF_MEM) + IN_OPCODE);
            if (opcode == FuseLoop.FUSE_UNLINK) {
                onUnlink.run();
            } else if (opcode == GETATTR) {
                onGetattr.run();
            }
            processed.add(opcode);
        }

        @Override
        public void exit() {
            exited = true;
        }

        @Override
        public void wake() {
            woken.incrementAndGet();
            kernel.add(STATFS);
        }

        @Override
        public int invalidate(long node) {
            return 0;
        }

        @Override
        public void close() {
            closed.incrementAndGet();
        }
    }
}
