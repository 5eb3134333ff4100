// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * systemd's part in a restart, played outside systemd, so that a test can restart the daemon the way
 * the unit does: a notify socket for {@code NOTIFY_SOCKET} and a file descriptor store, both as
 * systemd's service manager keeps them (src/core/service.c):
 *
 * <ul>
 *   <li>{@code FDSTORE=1} with descriptors as SCM_RIGHTS stores them under {@code FDNAME=} ("stored"
 *       without one), newest first; a descriptor for an open file already stored is dropped as a
 *       duplicate (kcmp), and so is one past the store's maximum (checked first, as systemd does).
 *       {@code FDSTOREREMOVE=1} with {@code FDNAME=} closes every descriptor of that name instead.
 *   <li>A stored descriptor that polls POLLHUP or POLLERR is closed and dropped (unless stored with
 *       {@code FDPOLL=0}): an unmounted FUSE connection's /dev/fuse descriptor polls POLLERR.
 *   <li>{@link Access#MAIN}, as {@code NotifyAccess=main}: messages count only from the main pid (the
 *       last child started), and descriptors sent by anyone else are closed.
 *   <li>{@link #start} runs the next main process with the stored descriptors at 3.. and
 *       {@code LISTEN_FDS}, {@code LISTEN_FDNAMES} and {@code LISTEN_PID}; the store keeps them.
 * </ul>
 *
 * The messages a daemon sends hold no secret (names, states, a status line), so they are kept and
 * may appear in assertion messages.
 */
public final class FakeSystemd implements AutoCloseable {
    /** Who may send messages, as systemd's NotifyAccess=. */
    public enum Access {
        MAIN,
        ALL
    }

    /** One entry of the store. */
    public record Stored(String name, int fd, boolean poll) {}

    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int SOL_SOCKET = 1;
    private static final int SO_PASSCRED = 16;
    private static final int SCM_RIGHTS = 1;
    private static final int SCM_CREDENTIALS = 2;
    private static final int MSG_TRUNC = 0x20;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int EAGAIN = 11;
    private static final short POLLIN = 0x1;
    private static final short POLLERR = 0x8;
    private static final short POLLHUP = 0x10;
    private static final short POLLNVAL = 0x20;
    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int O_RDONLY = 0;
    private static final int O_WRONLY = 1;
    private static final int O_CREAT = 0100;
    private static final int O_APPEND = 02000;
    private static final int SIGKILL = 9;
    private static final int SIGTERM = 15;
    private static final int SIGCONT = 18;
    private static final int KCMP_FILE = 0;
    private static final int FDNAME_MAX = 255;
    /** systemd's NOTIFY_BUFFER_MAX: a longer message is refused. */
    private static final int BUFFER = 4096;
    private static final int CONTROL = 8192;
    private static final int SUN_PATH_MAX = 108;

    private final Sys c = Sys.C;
    private final Runtime runtime = Runtime.getRuntime(c);
    private final Path dir;
    private final Path socketPath;
    private final int socket;
    private final int storeMax;
    private final Access access;
    private final Thread thread;
    private volatile boolean closing;

    // Guarded by this.
    private final List<Stored> store = new ArrayList<>();
    private final List<String> messages = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    private final List<Child> children = new ArrayList<>();
    private int mainPid = -1;
    private boolean ready;
    private boolean stopping;
    private String status;

    // Used by the receiving thread only.
    private final Pointer header;
    private final Pointer iov;
    private final Pointer data;
    private final Pointer control;

    /**
     * Binds {@code dir/notify} and starts receiving.
     *
     * @param storeMax what the unit's FileDescriptorStoreMax= says
     */
    public FakeSystemd(Path dir, int storeMax, Access access) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.storeMax = storeMax;
        this.access = access;
        socketPath = dir.resolve("notify").toAbsolutePath();
        byte[] path = socketPath.toString().getBytes(StandardCharsets.UTF_8);
        if (path.length >= SUN_PATH_MAX) {
            throw new IllegalArgumentException("socket path too long for sun_path: " + socketPath);
        }
        socket = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        check(socket, "socket");
        byte[] addr = new byte[2 + path.length + 1];
        addr[0] = AF_UNIX; // sa_family, little-endian
        System.arraycopy(path, 0, addr, 2, path.length);
        check(c.bind(socket, addr, addr.length), "bind " + socketPath);
        check(c.setsockopt(socket, SOL_SOCKET, SO_PASSCRED, new int[] {1}, 4), "SO_PASSCRED");
        header = Memory.allocateDirect(runtime, 56, true);
        iov = Memory.allocateDirect(runtime, 16, true);
        data = Memory.allocateDirect(runtime, BUFFER, true);
        control = Memory.allocateDirect(runtime, CONTROL, true);
        thread = new Thread(this::loop, "fake systemd");
        thread.setDaemon(true);
        thread.start();
    }

    /** The value of NOTIFY_SOCKET for a child. */
    public Path socket() {
        return socketPath;
    }

    private void check(long result, String what) throws IOException {
        if (result < 0) {
            throw new IOException(what + ": errno " + Sys.errno());
        }
    }

    /**
     * Sends {@code message} to this fake from this JVM, as sd_notify does (one datagram, the
     * descriptors as SCM_RIGHTS): for the tests of the fake, and to plant descriptors in the store of
     * one made with {@link Access#ALL}.
     */
    public void send(String message, int... fds) {
        Path socket = socketPath;
        int s = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) {
            throw new AssertionError("socket: errno " + Sys.errno());
        }
        try {
            byte[] path = socket.toString().getBytes(StandardCharsets.UTF_8);
            Pointer addr = Memory.allocateDirect(runtime, 110, true);
            addr.putShort(0, (short) AF_UNIX);
            addr.put(2, path, 0, path.length);
            byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
            Pointer buf = Memory.allocateDirect(runtime, bytes.length, true);
            buf.put(0, bytes, 0, bytes.length);
            Pointer iov = Memory.allocateDirect(runtime, 16, true);
            iov.putAddress(0, buf.address());
            iov.putLong(8, bytes.length);
            Pointer msg = Memory.allocateDirect(runtime, 56, true);
            msg.putAddress(0, addr.address());
            msg.putInt(8, 2 + path.length + 1);
            msg.putAddress(16, iov.address());
            msg.putLong(24, 1);
            Pointer control = Memory.allocateDirect(runtime, 16 + 8L * fds.length + 8, true);
            if (fds.length > 0) {
                control.putLong(0, 16 + 4L * fds.length); // CMSG_LEN
                control.putInt(8, SOL_SOCKET);
                control.putInt(12, SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) {
                    control.putInt(16 + 4L * i, fds[i]);
                }
                msg.putAddress(32, control.address());
                msg.putLong(40, 16 + ((4L * fds.length + 7) & ~7L)); // CMSG_SPACE
            }
            if (c.sendmsg(s, msg, 0) != bytes.length) {
                throw new AssertionError("sendmsg: errno " + Sys.errno());
            }
        } finally {
            c.close(s);
        }
    }

    /** The names in the store, in the order a start hands the descriptors over (newest first). */
    public synchronized List<String> storedNames() {
        return store.stream().map(Stored::name).toList();
    }

    /**
     * {@link #storedNames} as soon as {@code until} holds of them, or as they are when {@code bound}
     * has passed: the store changes when the receiving thread has caught up, which is a bound, not a
     * figure to assert on.
     */
    public synchronized List<String> storedNames(Predicate<List<String>> until, Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!until.test(storedNames()) && System.nanoTime() < deadline) {
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
        }
        return storedNames();
    }

    /** Every message accepted so far, in order. */
    public synchronized List<String> messages() {
        return List.copyOf(messages);
    }

    /** {@link #messages()} as soon as {@code until} holds of them, or as they are once {@code bound} has passed. */
    public synchronized List<String> messages(Predicate<List<String>> until, Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!until.test(messages) && System.nanoTime() < deadline) {
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
        }
        return List.copyOf(messages);
    }

    /** What systemd would have logged: messages refused, descriptors dropped and why. */
    public synchronized List<String> warnings() {
        return List.copyOf(warnings);
    }

    /** The last STATUS= of the current main process, or null. */
    public synchronized String status() {
        return status;
    }

    /** True once the current main process has sent STOPPING=1. */
    public synchronized boolean stopping() {
        return stopping;
    }

    /**
     * Waits, within {@code bound}, for READY=1 from the current main process; fails with its log if it
     * exits first or does not say it within the bound.
     */
    public synchronized void awaitReady(Duration bound) throws Exception {
        long deadline = System.nanoTime() + bound.toNanos();
        Child main = children.isEmpty() ? null : children.get(children.size() - 1);
        while (!ready) {
            if (main != null && !main.isAlive()) {
                throw new AssertionError("the main process exited with " + main.exitValue() + " before READY=1: "
                        + main.log());
            }
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                throw new AssertionError("no READY=1 within " + bound + "; messages " + messages + "; log: "
                        + (main == null ? "" : main.log()));
            }
            wait(Math.min(left, 100));
        }
    }

    private void loop() {
        while (!closing) {
            List<Stored> polled;
            synchronized (this) {
                polled = List.copyOf(store);
            }
            Pointer fds = Memory.allocateDirect(runtime, 8L * (1 + polled.size()), true);
            fds.putInt(0, socket);
            fds.putShort(4, POLLIN);
            for (int i = 0; i < polled.size(); i++) {
                // events 0: poll reports POLLHUP and POLLERR whatever is asked, which is all systemd watches for.
                fds.putInt(8L * (i + 1), polled.get(i).poll() ? polled.get(i).fd() : -1);
            }
            int n = c.poll(fds, 1 + polled.size(), 50);
            if (n <= 0) {
                continue;
            }
            synchronized (this) {
                for (int i = 0; i < polled.size(); i++) {
                    short revents = fds.getShort(8L * (i + 1) + 6);
                    if ((revents & (POLLHUP | POLLERR | POLLNVAL)) != 0 && store.remove(polled.get(i))) {
                        c.close(polled.get(i).fd());
                        warnings.add("dropped " + polled.get(i).name() + " on "
                                + ((revents & POLLERR) != 0 ? "POLLERR" : (revents & POLLHUP) != 0 ? "POLLHUP" : "POLLNVAL"));
                        notifyAll();
                    }
                }
            }
            if ((fds.getShort(6) & POLLIN) != 0) {
                while (receive()) {
                    // every datagram queued
                }
            }
        }
    }

    /** Receives one datagram; false when none is queued. */
    private boolean receive() {
        iov.putAddress(0, data.address());
        iov.putLong(8, BUFFER);
        header.putAddress(0, 0); // msg_name
        header.putInt(8, 0);
        header.putAddress(16, iov.address());
        header.putLong(24, 1);
        header.putAddress(32, control.address());
        header.putLong(40, CONTROL);
        header.putInt(48, 0);
        long n = c.recvmsg(socket, header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0) {
            int errno = Sys.errno();
            if (errno != EAGAIN) {
                synchronized (this) {
                    warnings.add("recvmsg: errno " + errno);
                }
            }
            return false;
        }
        int flags = header.getInt(48);
        long controlLength = header.getLong(40);
        List<Integer> fds = new ArrayList<>();
        int pid = -1;
        for (long at = 0; at + 16 <= controlLength; ) {
            long length = control.getLong(at);
            int level = control.getInt(at + 8);
            int type = control.getInt(at + 12);
            if (length < 16 || at + length > controlLength) {
                break;
            }
            if (level == SOL_SOCKET && type == SCM_RIGHTS) {
                for (long k = 16; k + 4 <= length; k += 4) {
                    fds.add(control.getInt(at + k));
                }
            } else if (level == SOL_SOCKET && type == SCM_CREDENTIALS) {
                pid = control.getInt(at + 16);
            }
            at += (length + 7) & ~7L;
        }
        synchronized (this) {
            if ((flags & MSG_CTRUNC) != 0 || (flags & MSG_TRUNC) != 0 || n > BUFFER) {
                warnings.add("a message of " + n + " bytes, flags " + flags + " (truncated), ignored");
                fds.forEach(c::close);
            } else {
                byte[] bytes = new byte[(int) n];
                data.get(0, bytes, 0, bytes.length);
                handle(pid, new String(bytes, StandardCharsets.UTF_8), fds);
            }
            notifyAll();
        }
        return true;
    }

    private void handle(int pid, String text, List<Integer> fds) {
        if (access == Access.MAIN && pid != mainPid) {
            warnings.add("a message from pid " + pid + ", not the main pid " + mainPid + ", ignored: " + text);
            fds.forEach(c::close);
            return;
        }
        messages.add(text);
        List<String> tags = List.of(text.split("\n"));
        if (tags.contains("STOPPING=1")) {
            stopping = true;
        } else if (tags.contains("READY=1") && !stopping) {
            ready = true;
        }
        String statusTag = first(tags, "STATUS=");
        if (statusTag != null) {
            status = statusTag;
        }
        String name = first(tags, "FDNAME=");
        if (tags.contains("FDSTOREREMOVE=1")) {
            if (name == null || !validName(name)) {
                warnings.add("FDSTOREREMOVE=1 without a valid FDNAME=, ignored");
            } else {
                store.removeIf(s -> {
                    if (s.name().equals(name)) {
                        c.close(s.fd());
                        return true;
                    }
                    return false;
                });
            }
            fds.forEach(c::close);
        } else if (tags.contains("FDSTORE=1")) {
            if (name != null && !validName(name)) {
                warnings.add("FDNAME=" + name + " is invalid, stored as \"stored\"");
            }
            String as = name == null || !validName(name) ? "stored" : name;
            boolean poll = !tags.contains("FDPOLL=0");
            for (int i = 0; i < fds.size(); i++) {
                int fd = fds.get(i);
                if (store.size() >= storeMax) {
                    warnings.add("FileDescriptorStoreMax=" + storeMax + " reached: " + as + " closed, and "
                            + (fds.size() - i - 1) + " more");
                    fds.subList(i, fds.size()).forEach(c::close);
                    break;
                }
                if (store.stream().anyMatch(s -> sameFile(s.fd(), fd))) {
                    c.close(fd); // a duplicate: systemd keeps the one it has
                    continue;
                }
                store.add(0, new Stored(as, fd, poll));
            }
        } else if (!fds.isEmpty()) {
            warnings.add(fds.size() + " descriptors sent without FDSTORE=1, closed");
            fds.forEach(c::close);
        }
    }

    private static String first(List<String> tags, String prefix) {
        return tags.stream().filter(t -> t.startsWith(prefix)).map(t -> t.substring(prefix.length())).findFirst()
                .orElse(null);
    }

    /** systemd's fdname_is_valid: printable ASCII but ':', at most 255 characters; empty is allowed. */
    public static boolean validName(String name) {
        return name.length() <= FDNAME_MAX && name.chars().allMatch(ch -> ch >= ' ' && ch < 127 && ch != ':');
    }

    /** Whether two descriptors of this process are the same open file (kcmp KCMP_FILE). */
    private boolean sameFile(int a, int b) {
        int self = c.getpid();
        long result = c.syscall(kcmpNumber(), self, self, KCMP_FILE, a, b, 0);
        if (result < 0) {
            warnings.add("kcmp: errno " + Sys.errno() + "; descriptors taken for different files");
            return false;
        }
        return result == 0;
    }

    private static long kcmpNumber() {
        return switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> 312;
            case "aarch64" -> 272;
            default -> throw new UnsupportedOperationException("kcmp's number on " + System.getProperty("os.arch"));
        };
    }

    /**
     * Starts {@code command} as the unit's next main process: the environment of this JVM without its
     * own LISTEN_* and NOTIFY_SOCKET, then {@code extraEnv}, NOTIFY_SOCKET, and with anything stored
     * LISTEN_FDS and LISTEN_FDNAMES; the stored descriptors at 3.. and nothing else above 2; LISTEN_PID
     * set by {@code sh} to its own pid just before it execs the command, which keeps the pid. Stdin is
     * /dev/null, stdout and stderr go to {@link Child#log()}.
     */
    public synchronized Child start(List<String> command, Map<String, String> extraEnv) throws IOException {
        List<Stored> passed = List.copyOf(store);
        Map<String, String> env = new LinkedHashMap<>(System.getenv());
        env.keySet().removeIf(k -> k.startsWith("LISTEN_") || k.equals("NOTIFY_SOCKET"));
        env.putAll(extraEnv);
        env.put("NOTIFY_SOCKET", socketPath.toString());
        if (!passed.isEmpty()) {
            env.put("LISTEN_FDS", String.valueOf(passed.size()));
            env.put("LISTEN_FDNAMES", passed.stream().map(Stored::name).collect(Collectors.joining(":")));
        }
        List<String> argv = new ArrayList<>(List.of("sh", "-c", "LISTEN_PID=$$; export LISTEN_PID; exec \"$@\"", "sh"));
        argv.addAll(command);
        Path log = Files.createTempFile(dir, "main-", ".log");

        // dup2 onto 3.. must not overwrite a descriptor still to be moved: first copy each above the targets.
        int top = 3 + passed.size();
        List<Integer> copies = new ArrayList<>();
        Pointer actions = Memory.allocateDirect(runtime, 256, true);
        check(c.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
        try {
            for (Stored s : passed) {
                int copy = c.fcntl(s.fd(), F_DUPFD_CLOEXEC, top);
                check(copy, "F_DUPFD_CLOEXEC of " + s.name());
                copies.add(copy);
            }
            spawnCheck(c.posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0), "addopen stdin");
            spawnCheck(c.posix_spawn_file_actions_addopen(actions, 1, log.toString(), O_WRONLY | O_CREAT | O_APPEND, 0600),
                    "addopen stdout");
            spawnCheck(c.posix_spawn_file_actions_adddup2(actions, 1, 2), "adddup2 stderr");
            for (int i = 0; i < copies.size(); i++) {
                // dup2 clears FD_CLOEXEC on the target: the descriptor survives the exec.
                spawnCheck(c.posix_spawn_file_actions_adddup2(actions, copies.get(i), 3 + i), "adddup2");
            }
            // Whatever else this JVM has open without O_CLOEXEC stays out of the child.
            spawnCheck(c.posix_spawn_file_actions_addclosefrom_np(actions, top), "addclosefrom_np");
            List<Pointer> keep = new ArrayList<>();
            int[] pid = new int[1];
            int r = c.posix_spawn(pid, "/bin/sh", actions, null, strings(argv, keep),
                    strings(env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList(), keep));
            spawnCheck(r, "posix_spawn " + command);
            Child child = new Child(pid[0], log);
            children.add(child);
            mainPid = pid[0];
            ready = false;
            stopping = false;
            status = null;
            return child;
        } finally {
            copies.forEach(c::close);
            c.posix_spawn_file_actions_destroy(actions);
        }
    }

    private static void spawnCheck(int result, String what) throws IOException {
        if (result != 0) {
            throw new IOException(what + ": error " + result);
        }
    }

    /** A NULL-terminated array of C strings; {@code keep} holds the memory until the call is done. */
    private Pointer strings(List<String> values, List<Pointer> keep) {
        Pointer array = Memory.allocateDirect(runtime, 8L * (values.size() + 1), true);
        for (int i = 0; i < values.size(); i++) {
            byte[] bytes = values.get(i).getBytes(StandardCharsets.UTF_8);
            Pointer s = Memory.allocateDirect(runtime, bytes.length + 1, true);
            s.put(0, bytes, 0, bytes.length);
            keep.add(s);
            array.putAddress(8L * i, s.address());
        }
        keep.add(array);
        return array;
    }

    /** Closes the socket and every stored descriptor, and kills what it started that still runs. */
    @Override
    public void close() {
        closing = true;
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Child> running;
        synchronized (this) {
            store.forEach(s -> c.close(s.fd()));
            store.clear();
            running = List.copyOf(children);
        }
        for (Child child : running) {
            if (child.isAlive()) {
                c.kill((int) child.pid(), SIGCONT);
                try {
                    child.destroyForcibly().waitFor(CocoDaemon.DEADLINE_MS, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        c.close(socket);
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException e) {
            // the directory is a test's temporary one
        }
    }

    /**
     * A main process started by {@link #start}: a child of this JVM that the JDK did not spawn, so it
     * is reaped here (waitpid on its pid only, which no JDK reaper does for a pid it does not know).
     */
    public final class Child extends Process {
        private final int pid;
        private final Path log;
        private final CompletableFuture<Integer> exit = new CompletableFuture<>();

        private Child(int pid, Path log) {
            this.pid = pid;
            this.log = log;
            Thread reaper = new Thread(() -> {
                int[] status = new int[1];
                while (c.waitpid(pid, status, 0) < 0) {
                    if (Sys.errno() != 4) { // EINTR
                        exit.complete(-1);
                        return;
                    }
                }
                int s = status[0];
                // WIFEXITED: the exit code; else 128 + the signal, as the JDK reports a killed process.
                exit.complete((s & 0x7f) == 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f));
            }, "reaper of " + pid);
            reaper.setDaemon(true);
            reaper.start();
        }

        /** Its stdout and stderr so far. */
        public String log() {
            try {
                return Files.readString(log, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(no log: " + e + ")";
            }
        }

        Path logFile() {
            return log;
        }

        @Override
        public long pid() {
            return pid;
        }

        @Override
        public OutputStream getOutputStream() {
            return OutputStream.nullOutputStream();
        }

        @Override
        public InputStream getInputStream() {
            return InputStream.nullInputStream();
        }

        @Override
        public InputStream getErrorStream() {
            return InputStream.nullInputStream();
        }

        @Override
        public int waitFor() throws InterruptedException {
            try {
                return exit.get();
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public boolean waitFor(long timeout, TimeUnit unit) throws InterruptedException {
            try {
                exit.get(timeout, unit);
                return true;
            } catch (java.util.concurrent.TimeoutException e) {
                return false;
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public int exitValue() {
            Integer value = exit.getNow(null);
            if (value == null) {
                throw new IllegalThreadStateException("process " + pid + " has not exited");
            }
            return value;
        }

        @Override
        public boolean isAlive() {
            return !exit.isDone();
        }

        @Override
        public void destroy() {
            signal(SIGTERM);
        }

        @Override
        public Process destroyForcibly() {
            signal(SIGKILL);
            return this;
        }

        private void signal(int signal) {
            if (isAlive()) {
                c.kill(pid, signal); // not reaped yet: the pid is still ours
            }
        }

        @Override
        public ProcessHandle toHandle() {
            return ProcessHandle.of(pid).orElseThrow();
        }

        @Override
        public CompletableFuture<Process> onExit() {
            return exit.thenApply(x -> this);
        }
    }

    /** The main processes started so far, oldest first. */
    public synchronized List<Child> children() {
        return List.copyOf(children);
    }
}
