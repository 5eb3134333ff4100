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
import static com.google.common.base.Preconditions.checkArgument;

import dev.cocosecretfs.platform.FuseSession;
import com.kenai.jffi.MemoryIO;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
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
 * <p>The workers are Java threads, so libfuse's calls into the filesystem arrive on threads the JVM
 * already knows, not native threads it must attach.
 */
final class FuseLoop {
    private static final System.Logger LOG = System.getLogger(FuseLoop.class.getName());

    /** Followers kept waiting after a slow request; more than that end. */
    private static final int SPARE_FOLLOWERS = 2;
    /** Most workers at once: each one past the first is answering a request that may wait. */
    private static final int MAX_WORKERS = 32;
    /** struct fuse_in_header { uint32_t len; uint32_t opcode; ... }: where a request says what it is. */
    private static final long IN_OPCODE = 4;
    private static final int FUSE_UNLINK = 10;
    /** fuse_buf_flags: the request is still in the device (libfuse's splice_read, not used here). */
    private static final int FUSE_BUF_IS_FD = 1 << 1;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;


    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    private final FuseSession lib;
    private final String mountPoint;
    private final long fuse;
    private final long session;
    private final long channel;
    private final long bufferSize;
    private final ReentrantLock lead = new ReentrantLock();
    private final AtomicInteger workers = new AtomicInteger();
    private final AtomicInteger followers = new AtomicInteger();
    private final AtomicInteger names = new AtomicInteger();
    /** Unlinks received and not yet answered. */
    private final AtomicInteger unlinking = new AtomicInteger();
    private final CompletableFuture<Integer> ended = new CompletableFuture<>();
    private volatile boolean stopping;

    private FuseLoop(FuseSession lib, String mountPoint, long fuse, long channel) {
        this.lib = lib;
        this.mountPoint = mountPoint;
        this.fuse = fuse;
        this.channel = channel;
        this.session = lib.session(fuse);
        this.bufferSize = lib.bufferSize(channel);
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
            FuseLoop loop = new FuseLoop(lib, where, fuse, channel);
            loop.startWorker();
            loop.startWorker();
            return loop;
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

    /** Completes once every worker has ended and libfuse has let the mount go. */
    CompletableFuture<Integer> ended() {
        return ended;
    }

    private void startWorker() {
        if (workers.incrementAndGet() > MAX_WORKERS) {
            workers.decrementAndGet();
            return;
        }
        Worker worker = new Worker("fuse-" + names.incrementAndGet());
        worker.setDaemon(true);
        worker.start();
    }

    /** Makes every worker end: each one that gets the lead next sees the flag and passes it on. */
    private void endAll() {
        stopping = true;
        lib.exit(session);
    }

    /** Called by the last worker to end: unmounts (if the kernel has not already) and frees libfuse's state. */
    private void finish() {
        try {
            lib.unmount(mountPoint, channel);
            lib.destroy(fuse);
            ended.complete(0);
        } catch (Throwable t) {
            ended.completeExceptionally(t);
        }
    }

    private final class Worker extends Thread {
        Worker(String name) {
            super(name);
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
            long buffer = 0;
            long request = 0;
            long channelSlot = 0;
            try {
                buffer = FuseSession.allocate(bufferSize);
                request = FuseSession.allocate(BUF_BYTES);
                channelSlot = FuseSession.allocate(Long.BYTES);
                serve(buffer, request, channelSlot);
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, "FUSE worker {0} failed: {1}", getName(), String.valueOf(t));
                endAll();
            } finally {
                if (lead.isHeldByCurrentThread()) {
                    lead.unlock();
                }
                FuseSession.free(buffer);
                FuseSession.free(request);
                FuseSession.free(channelSlot);
                if (workers.decrementAndGet() == 0) {
                    finish();
                }
            }
        }

        private void serve(long buffer, long request, long channelSlot) {
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
                MEMORY.putAddress(channelSlot, channel);
                int res = lib.receive(session, request, channelSlot);
                if (res == -EINTR || res == -EAGAIN) {
                    continue;
                }
                if (res <= 0) {
                    if (res < 0) {
                        LOG.log(System.Logger.Level.WARNING, "reading /dev/fuse failed (errno {0}); ending the"
                                + " mount at {1}", String.valueOf(-res), mountPoint);
                    }
                    endAll();
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
                    lib.process(session, request, MEMORY.getAddress(channelSlot));
                } finally {
                    if (unlink) {
                        unlinking.decrementAndGet();
                    }
                }
            }
        }
    }
}
