// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.FakeSystemd;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mount that outlives its daemon (issue 12): containers' binds of the mount point keep working
 * across a restart, because the next daemon takes the FUSE connection from systemd's file descriptor
 * store instead of mounting anew. {@link FakeSystemd} plays systemd (the notify socket, the store,
 * starting the next daemon with {@code LISTEN_FDS}); mount namespaces stand in for containers, one
 * with a read-only bind of the mount point and one with a read-write bind, reached from here through
 * {@code /proc/PID/root} of a process in each.
 *
 * <p>No assertion on durations: a caller that waits past {@link #OP_BOUND} fails the test as a hang.
 */
@DisplayName("restarts")
class RestartIT {
    static final String UNIT = "coco-secretfs-restart-it.service";
    /** No read may wait longer than this, across a restart included. */
    static final Duration OP_BOUND = Duration.ofSeconds(30);
    /** For a daemon to start or stop, and for the store to catch up. */
    static final Duration START_BOUND = Duration.ofSeconds(90);
    static final int READERS = 4;
    static final int EIO = 5;

    final Sys c = Sys.C;

    @TempDir
    Path tmp;

    SecretPage page;
    Path backing;
    Path mnt;
    Path jobs;
    FakeSystemd systemd;
    final List<Process> containers = new ArrayList<>();
    Storm storm;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        page = SecretPage.random(40, 40, 4096);
        backing = page.write(tmp.resolve("page.bin"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        // The fake systemctl prints whatever jobs the test has queued: none until a test says so.
        jobs = tmp.resolve("jobs");
        Files.writeString(jobs, "");
        Path bin = Files.createDirectory(tmp.resolve("bin"));
        Path systemctl = bin.resolve("systemctl");
        Files.writeString(systemctl, "#!/bin/sh\ncat '" + jobs + "'\n");
        Files.setPosixFilePermissions(systemctl, PosixFilePermissions.fromString("rwxr-xr-x"));
        systemd = new FakeSystemd(tmp.resolve("systemd"), unitStoreMax(), FakeSystemd.Access.MAIN);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (storm != null) {
            storm.stop();
        }
        systemd.close(); // kills the daemons and closes the stored connection: a stuck reader gets ENOTCONN
        for (Process p : containers) {
            p.destroyForcibly();
            p.waitFor(CocoDaemon.DEADLINE_MS, TimeUnit.MILLISECONDS);
        }
        CocoDaemon.cleanUp(List.of(), mnt);
        if (storm != null) {
            storm.join();
        }
    }

    /** The unit in the source tree the jar was built in. */
    static String unit() throws IOException {
        for (Path dir = CocoDaemon.jar().getParent(); dir != null; dir = dir.getParent()) {
            Path unit = dir.resolve("systemd/coco-secretfs.service");
            if (Files.isRegularFile(unit)) {
                return Files.readString(unit);
            }
        }
        throw new AssertionError("no systemd/coco-secretfs.service above " + CocoDaemon.jar());
    }

    /** The unit's FileDescriptorStoreMax=: what systemd would let the daemon store. */
    static int unitStoreMax() throws IOException {
        Matcher m = Pattern.compile("(?m)^FileDescriptorStoreMax=(\\d+)\\s*$").matcher(unit());
        return m.find() ? Integer.parseInt(m.group(1)) : 0; // systemd's default: no store
    }

    /**
     * Runs the unit's ExecStartPre= lines as systemd would before each start, /run/coco being the
     * test's mount point (their quoting is a shell's): one that waits on the mount between two daemons
     * would hold the next start back for ever, since systemd starts the daemon only after it.
     */
    void execStartPre() throws Exception {
        Matcher m = Pattern.compile("(?m)^ExecStartPre=([-@+!:]*)(.*)$").matcher(unit());
        while (m.find()) {
            String line = m.group(2).replace("/run/coco", mnt.toString());
            Process p = new ProcessBuilder("sh", "-c", line).redirectErrorStream(true)
                    .redirectOutput(tmp.resolve("exec-start-pre.log").toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            if (!p.waitFor(OP_BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                fail("ExecStartPre=%s did not finish within %s: it waits on the mount, and the next daemon with it",
                        line, OP_BOUND);
            }
            if (p.exitValue() != 0 && !m.group(1).contains("-")) {
                fail("ExecStartPre=%s exited with %d", line, p.exitValue());
            }
        }
    }

    /** The daemon's environment: the unit's name, and the fake systemctl first on PATH. */
    Map<String, String> daemonEnv() {
        return Map.of("COCO_SECRETFS_UNIT", UNIT, "PATH", tmp.resolve("bin") + ":" + System.getenv("PATH"));
    }

    /** Starts the next daemon as the unit does: ExecStartPre=, then ExecStart= with the stored descriptors. */
    FakeSystemd.Child startDaemon() throws Exception {
        execStartPre();
        FakeSystemd.Child d = systemd.start(CocoDaemon.command(CocoDaemon.Start.QUICK, CocoDaemon.jar(),
                List.of("mount", "--backing", backing.toString(), mnt.toString())), daemonEnv());
        systemd.awaitReady(START_BOUND);
        return d;
    }

    /**
     * A container: a process in a mount namespace of its own, with the mount point bound at a
     * directory of its own ({@code ro}: then remounted read-only, as {@code docker run --mount
     * ...,readonly} does). Returns where the bind is, seen from this namespace.
     */
    Path container(String name, boolean readOnly) throws Exception {
        Path target = Files.createDirectory(tmp.resolve(name));
        Path ready = tmp.resolve(name + ".ready");
        String script = "set -e\n"
                + "mount --bind '" + mnt + "' '" + target + "'\n"
                + (readOnly ? "mount -o remount,bind,ro '" + target + "'\n" : "")
                + "echo bound > '" + ready + "'\n"
                + "exec sleep 100000\n";
        Path log = tmp.resolve(name + ".log");
        Process p = new ProcessBuilder("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
                .redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        containers.add(p);
        long deadline = System.nanoTime() + START_BOUND.toNanos();
        while (!Files.exists(ready) || Files.size(ready) == 0) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("container " + name + " did not bind the mount: " + Files.readString(log));
            }
            Thread.sleep(10);
        }
        Path bind = Path.of("/proc/" + p.pid() + "/root" + target);
        assertThat(listing(target)).as("the bind is the container's only").isEmpty();
        return bind;
    }

    static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> names = Files.list(dir)) {
            return names.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Reads secret i whole through {@code dir}; -errno if the open or the read fails. */
    long read(Path dir, int i, byte[] buf) {
        int fd = c.open(Sys.path(dir.resolve(page.names.get(i)).toString()), Sys.O_RDONLY, 0);
        if (fd < 0) {
            return -Sys.errno();
        }
        try {
            long n = c.pread(fd, buf, buf.length, 0);
            return n < 0 ? -Sys.errno() : n;
        } finally {
            c.close(fd);
        }
    }

    static String errno(long e) {
        return switch ((int) e) {
            case 5 -> "EIO";
            case 103 -> "ECONNABORTED";
            case 107 -> "ENOTCONN";
            case 2 -> "ENOENT";
            default -> "errno " + e;
        };
    }

    long device(Path dir) throws IOException {
        return (Long) Files.getAttribute(dir, "unix:dev");
    }

    /** Through {@code dir}: the listing, every live secret's exact bytes, every deleted one ENOENT. */
    void servesExactly(Path dir, Set<Integer> deleted, String what) throws IOException {
        List<String> live = new ArrayList<>();
        byte[] buf = new byte[4096];
        for (int i = 0; i < page.size(); i++) {
            long n = read(dir, i, buf);
            if (deleted.contains(i)) {
                assertThat(n).as("%s: deleted secret %s", what, page.names.get(i)).isEqualTo(-Sys.ENOENT);
            } else {
                live.add(page.names.get(i));
                if (n < 0) {
                    fail("%s: read of secret %s failed with %s", what, page.names.get(i), errno(-n));
                }
                page.checkRead(i, 0, buf.length, buf, n, what + ": read");
            }
        }
        assertThat(listing(dir)).as("%s: the listing", what).containsExactlyElementsOf(live.stream().sorted().toList());
    }

    /** rm through the read-only bind: EROFS, and the secret is still there. */
    void refusesRm(Path roBind, int i) {
        assertThat(c.unlink(Sys.path(roBind.resolve(page.names.get(i)).toString()))).isEqualTo(-1);
        assertThat(Sys.errno()).as("rm through the read-only bind").isEqualTo(Sys.EROFS);
        assertThat(Files.exists(mnt.resolve(page.names.get(i)))).isTrue();
    }

    /** The first daemon, the mount's device, a read-only and a read-write bind, and every fifth secret deleted. */
    record Serving(FakeSystemd.Child first, long dev, Path ro, Path rw, Set<Integer> deleted) {}

    Serving startServing() throws Exception {
        FakeSystemd.Child first = startDaemon();
        long dev = device(mnt);
        Path ro = container("ro", true);
        Path rw = container("rw", false);
        Set<Integer> deleted = new TreeSet<>();
        for (int i = 0; i < page.size(); i += 5) {
            unlink(rw, i, deleted);
        }
        return new Serving(first, dev, ro, rw, deleted);
    }

    void unlink(Path dir, int i, Set<Integer> deleted) {
        assertThat(c.unlink(Sys.path(dir.resolve(page.names.get(i)).toString()))).as("rm of secret %s", page.names.get(i)).isZero();
        deleted.add(i);
    }

    @Test
    @DisplayName("SIGKILL during a read storm: the next daemon takes the stored connection, both binds keep serving")
    void sigkill() throws Exception {
        Serving at = startServing();
        FakeSystemd.Child first = at.first();
        Path ro = at.ro();
        Path rw = at.rw();
        Set<Integer> deleted = at.deleted();
        servesExactly(ro, deleted, "the read-only bind before the kill");
        refusesRm(ro, 1);

        int last = 2; // deleted during the storm, right before the kill
        storm = new Storm(List.of(ro, rw), deleted, last, true);
        storm.awaitOps(2000);
        storm.deleting(last);
        unlink(rw, last, deleted);
        first.destroyForcibly();
        assertThat(first.waitFor(START_BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        storm.phase(Storm.GAP);

        FakeSystemd.Child second = startDaemon();
        storm.phase(Storm.AFTER);
        storm.awaitOpsAfter(400);
        storm.stop();
        storm.join();
        storm.check();

        servesExactly(ro, deleted, "the read-only bind after the restart");
        servesExactly(rw, deleted, "the read-write bind after the restart");
        servesExactly(mnt, deleted, "the mount point after the restart");
        refusesRm(ro, 1);
        assertThat(device(mnt)).as("the same mount: nothing unmounted, nothing mounted").isEqualTo(at.dev());
        page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
        assertThat(second.log()).contains("took over the mount at " + mnt);
        assertThat(systemd.storedNames()).as("the store after the takeover; %s", systemd.warnings())
                .containsExactlyInAnyOrder("fuse", "fuse-state", "fuse-inflight");
        System.out.printf("restart after SIGKILL: %d reads, %d released with EIO around the kill, %d after%n",
                storm.ops.get(), storm.released.get(), storm.opsAfter.get());
    }

    @Test
    @DisplayName("SIGTERM with a restart queued: the mount is handed over, the readers see no error")
    void cleanRestart() throws Exception {
        Serving at = startServing();
        FakeSystemd.Child first = at.first();
        Path ro = at.ro();
        Path rw = at.rw();
        Set<Integer> deleted = at.deleted();
        storm = new Storm(List.of(ro, rw), deleted, -1, false);
        storm.awaitOps(2000);
        // What systemctl list-jobs shows while `systemctl restart` stops the unit.
        Files.writeString(jobs, "7 other.service start waiting\n42 " + UNIT + " restart running\n");
        first.destroy();
        assertThat(first.waitFor(START_BOUND.toMillis(), TimeUnit.MILLISECONDS)).as("the first daemon exits").isTrue();
        assertThat(first.exitValue()).as(first.log()).isZero();
        Files.writeString(jobs, "");
        assertThat(first.log()).contains("handing the mount at " + mnt + " over to the next daemon");
        assertThat(MountTable.at(mnt)).as("still mounted between the daemons").isPresent();
        storm.phase(Storm.GAP);

        FakeSystemd.Child second = startDaemon();
        storm.phase(Storm.AFTER);
        storm.awaitOpsAfter(400);
        storm.stop();
        storm.join();
        storm.check();
        assertThat(storm.released.get()).as("errors seen by the readers").isZero();

        servesExactly(ro, deleted, "the read-only bind after the restart");
        servesExactly(rw, deleted, "the read-write bind after the restart");
        refusesRm(ro, 1);
        assertThat(device(mnt)).as("the same mount: nothing unmounted, nothing mounted").isEqualTo(at.dev());
        page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
        assertThat(second.log()).contains("took over the mount at " + mnt);
        assertThat(systemd.storedNames()).as("the store after the takeover; %s", systemd.warnings())
                .containsExactlyInAnyOrder("fuse", "fuse-state", "fuse-inflight");
        System.out.printf("clean restart: %d reads, %d after the handover, 0 errors%n", storm.ops.get(),
                storm.opsAfter.get());
    }

    @Test
    @DisplayName("SIGTERM with no restart queued: unmounts, empties the store; a container's bind fails, never hangs")
    void stop() throws Exception {
        FakeSystemd.Child daemon = startDaemon();
        assertThat(systemd.storedNames()).as("stored at the start; %s", systemd.warnings())
                .containsExactlyInAnyOrder("fuse", "fuse-state", "fuse-inflight");
        Path ro = container("ro", true);
        servesExactly(ro, Set.of(), "the read-only bind");
        // Another unit's restart and our own stop job: neither is a restart of ours.
        Files.writeString(jobs, "7 other.service restart running\n42 " + UNIT + " stop running\n");
        daemon.destroy();
        assertThat(daemon.waitFor(START_BOUND.toMillis(), TimeUnit.MILLISECONDS)).as("the daemon exits").isTrue();
        assertThat(daemon.exitValue()).as(daemon.log()).isZero();
        assertThat(MountTable.at(mnt)).as("unmounted").isEmpty();
        assertThat(systemd.messages(m -> m.contains("STOPPING=1"), START_BOUND)).contains("STOPPING=1");
        // A container's bind holds the connection's superblock: only FDSTOREREMOVE, not POLLERR, empties the store.
        assertThat(systemd.storedNames(List::isEmpty, START_BOUND)).as("the store; %s", systemd.warnings()).isEmpty();
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try {
            Future<Long> read = reader.submit(() -> read(ro, 0, new byte[4096]));
            long n;
            try {
                n = read.get(OP_BOUND.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("a read through the bind of a stopped service waits past " + OP_BOUND);
            }
            assertThat(errno(-n)).as("a read through the bind of a stopped service").isEqualTo("ENOTCONN");
        } finally {
            reader.shutdownNow();
        }
    }

    @Test
    @DisplayName("a start with nothing stored mounts as today, and stores the connection")
    void freshStart() throws Exception {
        FakeSystemd.Child daemon = startDaemon();
        assertThat(daemon.log()).contains("coco-secretfs: mounted ").doesNotContain("took over");
        servesExactly(mnt, Set.of(), "the mount point");
        assertThat(systemd.storedNames()).as("the store; %s", systemd.warnings())
                .containsExactlyInAnyOrder("fuse", "fuse-state", "fuse-inflight");
    }

    @Test
    @DisplayName("a start whose stored descriptors name no live mount mounts as today and replaces them")
    void staleStore() throws Exception {
        systemd.close();
        // Anyone may plant descriptors in this one: descriptors of no mount under the daemon's names.
        systemd = new FakeSystemd(tmp.resolve("systemd-all"), unitStoreMax(), FakeSystemd.Access.ALL);
        int fuse = c.memfd_create("not-fuse", 1);
        int state = c.memfd_create("not-state", 1);
        systemd.send("FDSTORE=1\nFDNAME=fuse", fuse);
        systemd.send("FDSTORE=1\nFDNAME=fuse-state", state);
        c.close(fuse);
        c.close(state);
        assertThat(systemd.storedNames(n -> n.size() == 2, START_BOUND)).containsExactlyInAnyOrder("fuse", "fuse-state");
        FakeSystemd.Child daemon = startDaemon();
        assertThat(daemon.log()).contains("coco-secretfs: mounted ").doesNotContain("took over");
        servesExactly(mnt, Set.of(), "the mount point");
        assertThat(systemd.storedNames()).as("one of each name, none of the stale ones; %s", systemd.warnings())
                .containsExactlyInAnyOrder("fuse", "fuse-state", "fuse-inflight");
    }

    /**
     * Readers that loop over the secrets through the binds until stopped, each read whole and checked
     * against the page. Errors are failures but for: ENOENT for a deleted secret, and EIO for a read
     * that started before the next daemon was ready after a SIGKILL (a request the dead daemon had
     * taken, released by the next one), when {@code releasedAllowed}.
     */
    final class Storm {
        static final int BEFORE = 0;
        static final int GAP = 1;
        static final int AFTER = 2;

        final List<Path> dirs;
        final Set<Integer> deleted;
        final int vanishing;
        final boolean releasedAllowed;
        final ExecutorService pool = Executors.newFixedThreadPool(READERS);
        final AtomicLong ops = new AtomicLong();
        final AtomicLong opsAfter = new AtomicLong();
        final AtomicLong released = new AtomicLong();
        final AtomicLongArray started = new AtomicLongArray(READERS);
        final String[] doing = new String[READERS];
        final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        volatile int phase = BEFORE;
        volatile boolean deletingVanishing;
        volatile boolean stopped;

        Storm(List<Path> dirs, Set<Integer> deleted, int vanishing, boolean releasedAllowed) {
            this.dirs = dirs;
            this.deleted = Set.copyOf(deleted);
            this.vanishing = vanishing;
            this.releasedAllowed = releasedAllowed;
            for (int r = 0; r < READERS; r++) {
                int reader = r;
                pool.submit(() -> run(reader));
            }
        }

        void run(int reader) {
            Path dir = dirs.get(reader % dirs.size());
            String where = dir.equals(mnt) ? "the mount point" : dir.toString();
            byte[] buf = new byte[4096];
            for (int k = reader; !stopped && failures.isEmpty(); k += 7) {
                int i = k % page.size();
                int phaseAtStart = phase;
                boolean afterUnlinkStarted = deletingVanishing;
                doing[reader] = "read of " + page.names.get(i) + " through " + where;
                started.set(reader, System.nanoTime());
                long n = read(dir, i, buf);
                started.set(reader, 0);
                String how = "read through " + where + " ("
                        + (phaseAtStart == BEFORE ? "started while the first daemon served or went"
                        : phaseAtStart == GAP ? "started between the daemons" : "started after the next daemon was ready")
                        + ")";
                String what = how + " of secret " + page.names.get(i) + (i == vanishing ? " (the one deleted during"
                        + " the storm)" : "");
                try {
                    if (n > 0 && (deleted.contains(i) || i == vanishing && afterUnlinkStarted && phaseAtStart == AFTER)) {
                        failures.add(what + ": a deleted secret returned " + n + " bytes");
                    } else if (n == 0 && i == vanishing) {
                        // opened before its unlink, read after it: none of it, as for any open of a wiped secret
                    } else if (n >= 0) {
                        page.checkRead(i, 0, buf.length, buf, n, how);
                    } else if (n == -Sys.ENOENT && (deleted.contains(i) || i == vanishing && afterUnlinkStarted)) {
                        // deleted
                    } else if (n == -EIO && releasedAllowed && phaseAtStart != AFTER) {
                        released.incrementAndGet();
                    } else {
                        failures.add(what + " failed with " + errno(-n));
                    }
                } catch (AssertionError e) {
                    failures.add(e.getMessage());
                }
                ops.incrementAndGet();
                if (phaseAtStart == AFTER) {
                    opsAfter.incrementAndGet();
                }
            }
        }

        void phase(int p) {
            phase = p;
        }

        void deleting(int i) {
            assertThat(i).isEqualTo(vanishing);
            deletingVanishing = true;
        }

        /** Fails on a reader's failure, or on a read that has waited past {@link #OP_BOUND}. */
        void check() {
            if (!failures.isEmpty()) {
                fail("%d reader failure(s), the first: %s", failures.size(), failures.peek());
            }
            long now = System.nanoTime();
            for (int r = 0; r < READERS; r++) {
                long since = started.get(r);
                if (since != 0 && now - since > OP_BOUND.toNanos()) {
                    fail("a caller waits past %s: the %s", OP_BOUND, doing[r]);
                }
            }
        }

        private void await(java.util.function.BooleanSupplier done, String what) throws InterruptedException {
            long deadline = System.nanoTime() + START_BOUND.toNanos() + OP_BOUND.toNanos();
            while (!done.getAsBoolean()) {
                check();
                if (System.nanoTime() > deadline) {
                    fail("the storm did not reach %s: %d reads, %d after the restart", what, ops.get(), opsAfter.get());
                }
                Thread.sleep(10);
            }
            check();
        }

        void awaitOps(long n) throws InterruptedException {
            await(() -> ops.get() >= n, n + " reads");
        }

        void awaitOpsAfter(long n) throws InterruptedException {
            await(() -> opsAfter.get() >= n, n + " reads after the restart");
        }

        void stop() {
            stopped = true;
            pool.shutdown();
        }

        /** Waits for the readers, within the bound; a reader stuck past it is a hang. */
        void join() throws InterruptedException {
            if (!pool.awaitTermination(OP_BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
                fail("a caller waits past %s after the storm ended: %s", OP_BOUND, String.join("; ", doing));
            }
        }
    }
}
