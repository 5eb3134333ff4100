// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static com.google.common.base.Preconditions.checkArgument;

import dev.cocosecretfs.platform.FuseLowLevel;
import dev.cocosecretfs.platform.FuseRequest;
import dev.cocosecretfs.platform.Native;
import dev.cocosecretfs.platform.Operations;
import dev.cocosecretfs.platform.ReplyBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

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
 * wait for it (on the secret's lock, and in the kernel, which holds the directory): from an unlink's
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
    static final int FUSE_UNLINK = 10;
    static final int FUSE_INIT = 26;
    /**
     * Request ids below the first one a daemon taking over reads that it answers with an error, in
     * case the daemon before it had read them and died before it could answer (ids grow by 2; the
     * kernel refuses, and ignores, a reply for an id that is not waiting for one).
     */
    static final int RELEASE_WINDOW = 1024;
    private static final int EIO = 5;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int ENODEV = 19;
    /** How long closing the session waits for a notification in progress on another thread. */
    private static final long NOTIFY_GRACE_SECONDS = 2;

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

        /** The /dev/fuse descriptor of the connection; -1 if there is none. */
        default int deviceFd() {
            return -1;
        }

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

        /** Drops the kernel's cached attributes of that node id; a negative errno if not. */
        default int invalidateAttributes(long node) {
            return 0;
        }

        /** Drops the kernel's cached entry of {@code name} in directory {@code parent}; a negative errno if not. */
        default int invalidateEntry(long parent, String name) {
            return 0;
        }

        /** Unmounts (lazily: libfuse always does), closes the channel and frees libfuse's state. */
        void close();

        /**
         * Answers the request of id {@code unique}, which this process never read, with an error:
         * 0, or a negative errno (ENOENT: no such request waits).
         */
        default int release(long unique, int errno) {
            return 0;
        }
    }

    private final Session session;
    private final ThreadFactory threads;
    private final long bufferSize;
    private final ReentrantLock lead = new ReentrantLock();
    private final AtomicInteger workers = new AtomicInteger();
    private final AtomicInteger followers = new AtomicInteger();
    /** Unlinks received and not yet answered. */
    private final AtomicInteger unlinking = new AtomicInteger();
    /**
     * Held (shared) by a notification to the kernel, (exclusively) by closing the session: a thread
     * that is not a worker (a policy reload) must not write to a channel being freed.
     */
    private final ReentrantReadWriteLock channelInUse = new ReentrantReadWriteLock();
    private volatile boolean closed;
    private final CompletableFuture<Integer> ended = new CompletableFuture<>();
    private final CompletableFuture<byte[]> init = new CompletableFuture<>();
    /** Set on a takeover: the first request read releases those before it (see {@link #RELEASE_WINDOW}). */
    private final AtomicBoolean releaseBeforeFirst = new AtomicBoolean();
    private final CompletableFuture<Integer> released = new CompletableFuture<>();
    /** Requests of the daemon before that its request log named, released at the takeover. */
    private int releasedFromLog;
    private volatile boolean stopping;
    /** Ended by {@link #handOver()}: the connection stays, for the next daemon. */
    private volatile boolean handingOver;

    private final RequestLog log;

    FuseLoop(Session session, ThreadFactory threads) {
        this(session, threads, RequestLog.none());
    }

    FuseLoop(Session session, ThreadFactory threads, RequestLog log) {
        this.session = session;
        this.threads = threads;
        this.bufferSize = session.bufferSize();
        this.log = log;
    }

    /**
     * Mounts {@code ops} at {@code mountPoint} with libfuse's mount {@code options} (as {@code -o}
     * pairs) and starts the workers. The kernel's INIT request is answered by them like any other.
     *
     * @return the running loop
     * @throws MountException if libfuse cannot mount or set up the filesystem (it has printed why)
     */
    static FuseLoop start(Operations ops, Path mountPoint, List<String> options, RequestLog log)
            throws MountException {
        checkArgument(mountPoint.isAbsolute(), "mount point %s is not absolute", mountPoint);
        FuseLowLevel lib = FuseLowLevel.get();
        String where = mountPoint.toString();
        try (FuseLowLevel.Args mountArgs = new FuseLowLevel.Args(SecretFs.FS_NAME, options);
                FuseLowLevel.Args sessionArgs = new FuseLowLevel.Args(SecretFs.FS_NAME, List.of())) {
            long channel = lib.mount(where, mountArgs.address());
            if (channel == 0) {
                throw new MountException("mounting at " + mountPoint + " failed (see libfuse's message above)");
            }
            long session = lib.newSession(sessionArgs.address(), ops);
            if (session == 0) {
                lib.unmount(where, channel);
                throw new MountException("setting up the filesystem at " + mountPoint
                        + " failed (see libfuse's message above)");
            }
            lib.addChannel(session, channel);
            log.clear();
            return new FuseLoop(new Libfuse(lib, where, session, channel), new Workers(), log).run();
        }
    }

    /**
     * Serves {@code ops} on the live connection of an open /dev/fuse descriptor {@code fd}, mounted at
     * {@code mountPoint}, which a daemon before this one served: libfuse is put in the state that the
     * connection's first INIT ({@code init}, the raw request) negotiated, since the kernel sends INIT
     * once per connection; then the workers start. The first request they read releases any that the
     * daemon before had read and not answered; a statfs of the mount point makes one arrive.
     *
     * @throws MountException if libfuse cannot set up the session on {@code fd}
     */
    static FuseLoop takeOver(Operations ops, Path mountPoint, int fd, byte[] init, RequestLog log)
            throws MountException {
        checkArgument(mountPoint.isAbsolute(), "mount point %s is not absolute", mountPoint);
        FuseLowLevel lib = FuseLowLevel.get();
        long channel = lib.channelOn(fd);
        if (channel == 0) {
            throw new MountException("cannot serve the FUSE connection handed over for " + mountPoint);
        }
        long session;
        try (FuseLowLevel.Args sessionArgs = new FuseLowLevel.Args(SecretFs.FS_NAME, List.of())) {
            session = lib.newSession(sessionArgs.address(), ops);
        }
        if (session == 0) {
            throw new MountException("setting up the filesystem at " + mountPoint
                    + " failed (see libfuse's message above)");
        }
        lib.addChannel(session, channel);
        Libfuse libfuse = new Libfuse(lib, mountPoint.toString(), session, channel);
        libfuse.replay(init);
        FuseLoop loop = new FuseLoop(libfuse, new Workers(), log);
        int logged = 0;
        for (long id : log.pending()) {
            if (libfuse.release(id, EIO) == 0) {
                logged++;
            }
        }
        log.clear();
        loop.releasedFromLog = logged;
        loop.releaseBeforeFirst.set(true);
        loop.init.complete(init.clone());
        loop.run();
        // Reading the first request is what releases the window before it: make one come soon.
        libfuse.wake();
        return loop;
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

    /** The connection's /dev/fuse descriptor. */
    int deviceFd() {
        return session.deviceFd();
    }

    /** Completes with the raw bytes of the connection's INIT request, once it has been answered. */
    CompletableFuture<byte[]> initRequest() {
        return init;
    }

    /**
     * After a takeover, completes with how many requests of the daemon before were released (answered
     * with EIO), once the first request has been read.
     */
    CompletableFuture<Integer> released() {
        return released;
    }

    /**
     * Ends the loop and leaves the connection to the next daemon: no request is taken from the kernel
     * after this, every one taken is answered, and nothing is unmounted or closed (the descriptor
     * lives on in systemd's store). The worker waiting in read(2) is woken by a statfs, which it
     * answers like any other request (the session is not exited, so nothing read is dropped).
     */
    void handOver() {
        handingOver = true;
        stopping = true;
        session.wake();
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
     * Drops the kernel's cached attributes and pages of the file of {@code node} (for node 0 it does
     * nothing). Any thread may call this and the other notifications; once the session is closed they
     * do nothing and answer {@code -ENODEV}.
     *
     * @return 0, or a negative errno
     */
    int invalidateInode(long node) {
        return node == 0 ? 0 : notify(() -> session.invalidate(node));
    }

    /** Drops the kernel's cached attributes of {@code node}: 0, or a negative errno. */
    int invalidateAttributes(long node) {
        return notify(() -> session.invalidateAttributes(node));
    }

    /**
     * Drops the kernel's cached entry of {@code name} in directory {@code parent}: 0, or a negative
     * errno. The kernel takes the directory's lock: a worker must call this only once it has given
     * up the lead ({@link #slow}) or answered the request that made it, never while a request for
     * that directory waits for an answer it would give.
     */
    int invalidateEntry(long parent, String name) {
        return notify(() -> session.invalidateEntry(parent, name));
    }

    private interface Notification {
        int send();
    }

    private int notify(Notification notification) {
        Lock shared = channelInUse.readLock();
        shared.lock();
        try {
            return closed ? -ENODEV : notification.send();
        } finally {
            shared.unlock();
        }
    }

    /**
     * From a filesystem callback: what it is answering may take long (a wipe), so a follower takes
     * the lead first, as for an unlink (see the class comment). Elsewhere it does nothing.
     */
    static void slow() {
        Worker worker = CURRENT.get();
        if (worker != null) {
            worker.slow();
        }
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
            closeSession();
            ended.complete(0);
        } catch (Throwable t) {
            ended.completeExceptionally(t);
        }
    }

    /**
     * Ends notifications and closes the session (unless it is handed over), once no notification is
     * being written: waiting a bounded time for one that is stuck in the kernel, since the process is
     * ending and a stuck notification must not hold it.
     */
    private void closeSession() throws InterruptedException {
        Lock exclusive = channelInUse.writeLock();
        boolean locked = exclusive.tryLock(NOTIFY_GRACE_SECONDS, TimeUnit.SECONDS);
        try {
            closed = true;
            if (!handingOver) {
                session.close();
            }
        } finally {
            if (locked) {
                exclusive.unlock();
            }
        }
    }

    /**
     * Answers with EIO every request id in the window below {@code first} that is still waiting for an
     * answer: on a takeover, {@code first} is the first request this daemon read, so any older one
     * still waiting was read by the daemon before, which died before answering it.
     *
     * @return how many were waiting
     */
    private int releaseBefore(long first) {
        int count = 0;
        for (long id = first - 2; id > 0 && id >= first - 2L * RELEASE_WINDOW; id -= 2) {
            if (session.release(id, EIO) == 0) {
                count++;
            }
        }
        if (count > 0) {
            LOG.log(System.Logger.Level.WARNING, "released {0} requests that the daemon before had not answered"
                    + " (their callers get EIO)", String.valueOf(count));
        }
        return count;
    }

    private final class Worker implements Runnable {
        private int slot = -1;
        /** The request being answered was marked {@link FuseLoop#slow}: counted in {@code unlinking}. */
        private boolean markedSlow;

        void slow() {
            if (!markedSlow) {
                markedSlow = true;
                unlinking.incrementAndGet();
            }
            if (lead.isHeldByCurrentThread()) {
                handOff();
            }
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
            FuseRequest request = null;
            try {
                CURRENT.set(this);
                slot = log.claim();
                request = new FuseRequest(bufferSize);
                serve(request);
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, "FUSE worker {0} failed: {1}", Thread.currentThread().getName(),
                        String.valueOf(t));
                endAll(!lead.isHeldByCurrentThread()); // if it does not lead, another may wait in receive
            } finally {
                if (lead.isHeldByCurrentThread()) {
                    lead.unlock();
                }
                CURRENT.remove();
                log.giveBack(slot);
                ReplyBuffer.release();
                if (request != null) {
                    request.close();
                }
                workerEnded();
            }
        }

        private void serve(FuseRequest request) {
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
                request.reset(session.channel());
                int res = session.receive(request.buf(), request.channelSlot());
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
                int opcode = request.opcode();
                if (opcode == FUSE_INIT && !init.isDone()) {
                    init.complete(request.copy(res));
                }
                if (releaseBeforeFirst.compareAndSet(true, false)) {
                    // Interrupts have odd ids (their request's id + 1); requests have even ones.
                    long first = request.unique() & ~1L;
                    released.complete(releasedFromLog + releaseBefore(first));
                }
                // An unlink may take long (it syncs the backing), and while it runs, reads of the same
                // secret wait for its lock: from the unlink's
                // arrival until the last one in progress ends, every request is answered on a thread
                // that has given up the lead, as in libfuse's own multithreaded loop.
                boolean unlink = opcode == FUSE_UNLINK
                        || request.inDevice(); // unknown: as slow
                if (unlink) {
                    unlinking.incrementAndGet();
                }
                if (unlink || unlinking.get() > 0) {
                    handOff();
                }
                log.begin(slot, request.unique());
                try {
                    session.process(request.buf(), request.channel());
                } finally {
                    log.end(slot);
                    if (unlink) {
                        unlinking.decrementAndGet();
                    }
                    if (markedSlow) {
                        markedSlow = false;
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

    /** The low-level session of a filesystem mounted through libfuse. */
    private static final class Libfuse implements Session {
        /** An id the kernel never gives a request: its INIT reply is refused (ENOENT) and changes nothing. */
        private static final long REPLAY_UNIQUE = 1L << 62;
        private final FuseLowLevel lib;
        private final String mountPoint;
        private final long session;
        private final long channel;

        Libfuse(FuseLowLevel lib, String mountPoint, long session, long channel) {
            this.lib = lib;
            this.mountPoint = mountPoint;
            this.session = session;
            this.channel = channel;
        }

        /** Processes the connection's first INIT again, for libfuse's state; its reply goes nowhere. */
        void replay(byte[] init) {
            FuseRequest.process(lib, session, channel, init, REPLAY_UNIQUE);
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
         * which the worker in receive takes (and answers, or drops once the session has exited); the
         * statfs ends when it is answered or the channel closes. Nothing else reaches a worker blocked
         * in read(2) on /dev/fuse: closing the descriptor does not, and libfuse's own loop cancels its
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
        public int invalidateAttributes(long node) {
            return lib.invalidateAttributes(channel, node);
        }

        @Override
        public int invalidateEntry(long parent, String name) {
            return lib.invalidateEntry(channel, parent, name);
        }

        @Override
        public int deviceFd() {
            return lib.channelFd(channel);
        }

        @Override
        public int release(long unique, int errno) {
            return lib.sendError(channel, unique, errno);
        }

        @Override
        public void close() {
            lib.unmount(mountPoint, channel);
            lib.destroySession(session);
        }
    }
}
