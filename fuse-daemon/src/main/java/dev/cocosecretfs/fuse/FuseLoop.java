// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static dev.cocosecretfs.fuse.FuseStructs.ARGS_ARGC;
import static dev.cocosecretfs.fuse.FuseStructs.ARGS_ARGV;
import static dev.cocosecretfs.fuse.FuseStructs.ARGS_BYTES;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_BYTES;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_FD;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_FLAGS;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_MEM;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_POS;
import static dev.cocosecretfs.fuse.FuseStructs.BUF_SIZE;
import static dev.cocosecretfs.fuse.FuseStructs.IN_HEADER_BYTES;
import static dev.cocosecretfs.fuse.FuseStructs.IN_LEN;
import static dev.cocosecretfs.fuse.FuseStructs.IN_NODEID;
import static dev.cocosecretfs.fuse.FuseStructs.IN_OPCODE;
import static com.google.common.base.Preconditions.checkArgument;

import dev.cocosecretfs.platform.FuseSession;
import dev.cocosecretfs.platform.Native;
import com.kenai.jffi.MemoryIO;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import jnr.ffi.Struct;

/**
 * libfuse's session driven by a pool of Java threads in the leader/followers pattern, instead of
 * libfuse's multithreaded loop.
 *
 * <p>One worker, the leader, waits for the kernel's next request and answers it itself; the others
 * wait for their turn to lead. Answering a request takes a few microseconds, so with nothing slow
 * in flight one thread takes every request, as libfuse's single-threaded loop would: the request
 * arrives on the thread that is already running, with no hand-over to another thread, which is what
 * makes libfuse's multithreaded loop cost about twice the CPU per request. The one request that may
 * take long is an unlink (the wipe syncs the backing), and while it runs, requests for the same name
 * wait for it (inside libfuse, which holds the name, or on the secret's lock): from an unlink's
 * arrival until no unlink is left in progress, the leader hands the lead to a follower (starting one
 * if none waits) before it answers anything, so one slow request never holds up the others. It is
 * multithreaded where it matters; SlowWipeIT holds it to that.
 *
 * <p>There is no cap on workers: a cap would let enough requests waiting for one wipe hold every
 * worker, with none left to read /dev/fuse. Each worker past the spare followers is answering a
 * request that its caller waits for, so the kernel bounds them by the callers' own threads; they
 * end as soon as the wipe does. A worker that cannot be started (no threads left) is not counted,
 * and the request is answered on the thread that has it.
 *
 * <p>The workers are Java threads, so libfuse's calls into the filesystem arrive on threads the JVM
 * already knows, not native threads it must attach.
 */
final class FuseLoop {
    private static final System.Logger LOG = System.getLogger(FuseLoop.class.getName());

    /** Followers kept waiting after a slow request; more than that end. */
    private static final int SPARE_FOLLOWERS = 2;
    static final int FUSE_LOOKUP = 1;
    static final int FUSE_UNLINK = 10;
    /** fuse_buf_flags: the request is still in the device (libfuse's splice_read, not used here). */
    private static final int FUSE_BUF_IS_FD = 1 << 1;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;

    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    /** The worker of the current thread, for the filesystem's callbacks that run on it. */
    private static final ThreadLocal<Worker> CURRENT = new ThreadLocal<>();

    /** What the loop needs of libfuse's session. {@link Libfuse} is the real one; FuseLoopTest has a fake. */
    interface Session {
        /** Size of the buffer a request may need. */
        long bufferSize();

        /** The channel to answer on, which {@link #receive} may change through its slot. */
        long channel();

        /**
         * Waits for the next request into the {@code struct fuse_buf} at {@code request}: its size; 0
         * once the session has ended; -EINTR or -EAGAIN to be tried again; another negative errno.
         */
        int receive(long request, long channelSlot);

        /** Answers a request on this thread. */
        void process(long request, long channel);

        /** Marks the session ended: the next {@link #receive} returns 0. */
        void exit();

        /**
         * Makes a request reach the worker waiting in {@link #receive}, without waiting for its
         * answer, so that a worker blocked there sees the session end.
         */
        void wake();

        /** Drops the kernel's cached attributes and pages of the file of that node id; a negative errno if not. */
        int invalidate(long node);

        /** Unmounts (lazily: libfuse always does), closes the channel and frees libfuse's state. */
        void close();
    }

    private final Session session;
    private final ThreadFactory threads;
    private final long bufferSize;
    private final ReentrantLock lead = new ReentrantLock();
    private final AtomicInteger workers = new AtomicInteger();
    private final AtomicInteger followers = new AtomicInteger();
    /** Unlinks received and not yet answered. */
    private final AtomicInteger unlinking = new AtomicInteger();
    private final CompletableFuture<Integer> ended = new CompletableFuture<>();
    private volatile boolean stopping;

    FuseLoop(Session session, ThreadFactory threads) {
        this.session = session;
        this.threads = threads;
        this.bufferSize = session.bufferSize();
    }

    /**
     * Mounts {@code ops} at {@code mountPoint} with libfuse's command-line {@code options} (as {@code -o}
     * pairs) and starts the workers. The kernel's INIT request is answered by them like any other.
     *
     * @return the running loop
     * @throws MountException if libfuse cannot mount or set up the filesystem (it has printed why)
     */
    static FuseLoop start(Struct ops, Path mountPoint, List<String> options) throws MountException {
        checkArgument(mountPoint.isAbsolute(), "mount point %s is not absolute", mountPoint);
        FuseSession lib = FuseSession.load();
        String where = mountPoint.toString();
        long[] strings = new long[options.size() + 1];
        long argv = FuseSession.allocate((long) (strings.length + 1) * Long.BYTES);
        long args = FuseSession.allocate(ARGS_BYTES);
        // jnr-fuse builds the table in Java memory; fuse_new copies it, so a native copy for the call will do.
        int opsSize = Struct.size(ops);
        byte[] table = new byte[opsSize];
        Struct.getMemory(ops).get(0, table, 0, opsSize);
        long opsCopy = FuseSession.allocate(opsSize);
        MEMORY.putByteArray(opsCopy, table, 0, opsSize);
        try {
            for (int i = 0; i < strings.length; i++) {
                strings[i] = FuseSession.cString(i == 0 ? SecretFs.FS_NAME : options.get(i - 1));
                MEMORY.putAddress(argv + (long) i * Long.BYTES, strings[i]);
            }
            MEMORY.putInt(args + ARGS_ARGC, strings.length);
            MEMORY.putAddress(args + ARGS_ARGV, argv);
            long channel = lib.mount(where, args);
            if (channel == 0) {
                throw new MountException("mounting at " + mountPoint + " failed (see libfuse's message above)");
            }
            long fuse = lib.newFuse(channel, args, opsCopy, opsSize);
            if (fuse == 0) {
                lib.unmount(where, channel);
                throw new MountException("setting up the filesystem at " + mountPoint
                        + " failed (see libfuse's message above)");
            }
            return new FuseLoop(new Libfuse(lib, where, fuse, channel), new Workers()).run();
        } finally {
            lib.freeArgs(args); // what libfuse allocated while parsing; ours (allocated == 0) stays
            for (long string : strings) {
                FuseSession.free(string);
            }
            FuseSession.free(argv);
            FuseSession.free(args);
            FuseSession.free(opsCopy);
        }
    }

    /** Starts the first workers; if none can be started the loop has ended already. */
    FuseLoop run() {
        startWorker();
        if (!ended.isDone()) {
            startWorker();
        }
        return this;
    }

    /** Completes once every worker has ended and libfuse has let the mount go. */
    CompletableFuture<Integer> ended() {
        return ended;
    }

    /**
     * Ends the loop whatever is still open in the mount: the worker waiting for a request is woken,
     * every worker ends once it has answered what it holds, and the last one unmounts (lazily, so
     * that files still open there get {@code ENOTCONN} rather than keep the mount alive).
     */
    void stop() {
        endAll(true);
    }

    /** Workers now running, for tests. */
    int workers() {
        return workers.get();
    }

    /**
     * The node id of the request the current thread is answering, or 0 off the loop's threads. In
     * libfuse's high-level API (without {@code use_ino}) this is the inode number the kernel reports.
     */
    static long currentNode() {
        Worker worker = CURRENT.get();
        return worker == null ? 0 : MEMORY.getLong(worker.buffer + IN_NODEID);
    }

    /**
     * Length in bytes of the name that the LOOKUP request the current thread is answering asks for, or
     * -1 if it answers something else. The name as the kernel sent it: the path libfuse hands the
     * filesystem is decoded into a Java string, where bytes that are not UTF-8 are no longer counted
     * as they were.
     */
    static int currentLookupNameBytes() {
        Worker worker = CURRENT.get();
        if (worker == null || MEMORY.getInt(worker.buffer + IN_OPCODE) != FUSE_LOOKUP) {
            return -1;
        }
        long length = MEMORY.getInt(worker.buffer + IN_LEN) - IN_HEADER_BYTES;
        long nul = MEMORY.indexOf(worker.buffer + IN_HEADER_BYTES, (byte) 0, (int) Math.max(0, length));
        return nul < 0 ? -1 : (int) nul;
    }

    /**
     * Drops the kernel's cached pages of the file of {@code node}, from a callback on one of the
     * loop's threads (elsewhere, and for node 0, it does nothing).
     *
     * @return 0, or a negative errno
     */
    static int invalidate(long node) {
        Worker worker = CURRENT.get();
        return worker == null || node == 0 ? 0 : worker.loop().session.invalidate(node);
    }

    private void startWorker() {
        workers.incrementAndGet();
        try {
            threads.newThread(new Worker()).start();
        } catch (Throwable t) { // OutOfMemoryError "unable to create native thread", a limit on tasks
            LOG.log(System.Logger.Level.WARNING, "cannot start a FUSE worker ({0} running): {1}",
                    String.valueOf(workers.get() - 1), String.valueOf(t));
            workerEnded();
        }
    }

    private void workerEnded() {
        if (workers.decrementAndGet() == 0) {
            finish();
        }
    }

    /**
     * Makes every worker end: each one that gets the lead next sees the flag and passes it on. The
     * one waiting in receive, if the caller is not it, is woken by a request.
     */
    private void endAll(boolean wake) {
        stopping = true;
        session.exit();
        if (wake) {
            session.wake();
        }
    }

    /** Called by the last worker to end: unmounts (if the kernel has not already) and frees libfuse's state. */
    private void finish() {
        stopping = true;
        try {
            session.close();
            ended.complete(0);
        } catch (Throwable t) {
            ended.completeExceptionally(t);
        }
    }

    private final class Worker implements Runnable {
        private long buffer;

        FuseLoop loop() {
            return FuseLoop.this;
        }

        /** Lets a follower (started if none waits) take the next request while this one is answered. */
        private void handOff() {
            if (followers.get() == 0) {
                startWorker();
            }
            lead.unlock();
        }

        @Override
        public void run() {
            long request = 0;
            long channelSlot = 0;
            try {
                CURRENT.set(this);
                buffer = FuseSession.allocate(bufferSize);
                request = FuseSession.allocate(BUF_BYTES);
                channelSlot = FuseSession.allocate(Long.BYTES);
                serve(request, channelSlot);
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, "FUSE worker {0} failed: {1}", Thread.currentThread().getName(),
                        String.valueOf(t));
                endAll(!lead.isHeldByCurrentThread()); // if it does not lead, another may wait in receive
            } finally {
                if (lead.isHeldByCurrentThread()) {
                    lead.unlock();
                }
                CURRENT.remove();
                FuseSession.free(buffer);
                FuseSession.free(request);
                FuseSession.free(channelSlot);
                workerEnded();
            }
        }

        private void serve(long request, long channelSlot) {
            while (true) {
                if (!lead.isHeldByCurrentThread()) {
                    if (followers.get() >= SPARE_FOLLOWERS) {
                        return; // enough others wait to lead
                    }
                    followers.incrementAndGet();
                    lead.lock();
                    followers.decrementAndGet();
                }
                if (stopping) {
                    return;
                }
                MEMORY.putLong(request + BUF_SIZE, bufferSize);
                MEMORY.putInt(request + BUF_FLAGS, 0);
                MEMORY.putAddress(request + BUF_MEM, buffer);
                MEMORY.putInt(request + BUF_FD, 0);
                MEMORY.putLong(request + BUF_POS, 0);
                MEMORY.putAddress(channelSlot, session.channel());
                int res = session.receive(request, channelSlot);
                if (res == -EINTR || res == -EAGAIN) {
                    continue;
                }
                if (res <= 0) {
                    if (res < 0) {
                        LOG.log(System.Logger.Level.WARNING, "reading /dev/fuse failed (errno {0}); ending the"
                                + " mount", String.valueOf(-res));
                    }
                    endAll(false); // this worker leads: nobody else waits in receive
                    return;
                }
                // An unlink may take long (it syncs the backing), and while it runs, libfuse holds its
                // path, so any other request for the same name waits inside libfuse: from the unlink's
                // arrival until the last one in progress ends, every request is answered on a thread
                // that has given up the lead, as in libfuse's own multithreaded loop.
                boolean unlink = MEMORY.getInt(buffer + IN_OPCODE) == FUSE_UNLINK
                        || (MEMORY.getInt(request + BUF_FLAGS) & FUSE_BUF_IS_FD) != 0; // unknown: as slow
                if (unlink) {
                    unlinking.incrementAndGet();
                }
                if (unlink || unlinking.get() > 0) {
                    handOff();
                }
                try {
                    session.process(request, MEMORY.getAddress(channelSlot));
                } finally {
                    if (unlink) {
                        unlinking.decrementAndGet();
                    }
                }
            }
        }
    }

    /** Worker threads: daemon threads named fuse-1, fuse-2, ... */
    private static final class Workers implements ThreadFactory {
        private final AtomicInteger names = new AtomicInteger();

        @Override
        public Thread newThread(Runnable worker) {
            Thread thread = new Thread(worker, "fuse-" + names.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        }
    }

    /** The session of a filesystem mounted through libfuse. */
    private static final class Libfuse implements Session {
        private final FuseSession lib;
        private final String mountPoint;
        private final long fuse;
        private final long session;
        private final long channel;

        Libfuse(FuseSession lib, String mountPoint, long fuse, long channel) {
            this.lib = lib;
            this.mountPoint = mountPoint;
            this.fuse = fuse;
            this.channel = channel;
            this.session = lib.session(fuse);
        }

        @Override
        public long bufferSize() {
            return lib.bufferSize(channel);
        }

        @Override
        public long channel() {
            return channel;
        }

        @Override
        public int receive(long request, long channelSlot) {
            return lib.receive(session, request, channelSlot);
        }

        @Override
        public void process(long request, long channel) {
            lib.process(session, request, channel);
        }

        @Override
        public void exit() {
            lib.exit(session);
        }

        /**
         * A statfs of the mount point, on a thread of its own: the kernel sends the daemon a request,
         * which the worker in receive takes and drops (libfuse answers nothing once the session has
         * exited); the statfs ends when the channel closes. Nothing else reaches a worker blocked in
         * read(2) on /dev/fuse: closing the descriptor does not, and libfuse's own loop cancels its
         * threads instead.
         */
        @Override
        public void wake() {
            Thread statfs = new Thread(() -> Native.libc().statfs(mountPoint, new byte[256]), "fuse-wake");
            statfs.setDaemon(true);
            try {
                statfs.start();
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.WARNING, "cannot wake the FUSE loop at {0}: {1}", mountPoint,
                        String.valueOf(t));
            }
        }

        @Override
        public int invalidate(long node) {
            return lib.invalidateInode(channel, node);
        }

        @Override
        public void close() {
            lib.unmount(mountPoint, channel);
            lib.destroy(fuse);
        }
    }
}
