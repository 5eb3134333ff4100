// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static com.google.common.base.Preconditions.checkNotNull;

import dev.cocosecretfs.platform.LibC;
import dev.cocosecretfs.platform.Native;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A live mount of a {@link SecretFs}: requests are answered by the workers of a {@link FuseLoop}, and
 * the mount counts as ready only once the kernel's INIT request has reached the filesystem (not after
 * a fixed wait, as jnr-fuse's mount did).
 */
public final class FuseMount {
    private static final System.Logger LOG = System.getLogger(FuseMount.class.getName());
    private static final long READY_TIMEOUT_SECONDS = 60;
    private static final long EXIT_TIMEOUT_SECONDS = 10;
    /** How long an unmounted connection may take to end by itself before binds elsewhere are cut off. */
    private static final long BIND_GRACE_SECONDS = 1;
    private static final Path FUSE_CONNECTIONS = Path.of("/sys/fs/fuse/connections");

    /** What {@link #unmount()} found and did. */
    public enum Unmount {
        /** Our mount was there, on top, and is unmounted. */
        UNMOUNTED,
        /** Our mount was already gone: somebody else unmounted it. */
        GONE,
        /** Another mount covers ours: nothing was unmounted (ours is cut off and goes when this process ends). */
        COVERED,
        /** Our mount is there but could not be unmounted, or could not be told apart from others. */
        FAILED
    }

    private final SecretFs fs;
    private final MountPoint point;
    private final boolean ownsPoint;
    private final Path mountPoint;
    private final FuseLoop workers;
    private final CompletableFuture<Integer> loop;
    /** Our mount as mountinfo lists it, found right after mounting; empty if it could not be told apart. */
    private final Optional<MountTable.Mount> ours;

    private FuseMount(SecretFs fs, MountPoint point, boolean ownsPoint, FuseLoop loop) {
        this(fs, point, ownsPoint, loop, identify(point.path()));
    }

    private FuseMount(SecretFs fs, MountPoint point, boolean ownsPoint, FuseLoop loop,
            Optional<MountTable.Mount> ours) {
        this.fs = fs;
        fs.attach(loop);
        this.point = point;
        this.ownsPoint = ownsPoint;
        this.mountPoint = point.path();
        this.workers = loop;
        this.loop = loop.ended();
        this.ours = ours;
    }

    /**
     * Serves {@code fs} on a live connection that a daemon before this one served: {@code fd} is its
     * /dev/fuse descriptor, {@code init} the raw INIT request it began with, {@code mine} its mount
     * at the claimed mount point, {@code log} the request log it kept (requests it names are released
     * with EIO). Returns once libfuse is ready; nothing is mounted.
     *
     * @throws MountException if libfuse cannot take the connection
     */
    public static FuseMount takeOver(SecretFs fs, MountPoint point, MountTable.Mount mine, int fd, byte[] init,
            RequestLog log) throws IOException {
        checkNotNull(fs, "fs");
        FuseLoop loop = FuseLoop.takeOver(fs.operations(), point.path(), fd, init, log);
        FuseMount mount = new FuseMount(fs, point, false, loop, Optional.of(mine));
        if (fs.initialized().getCount() != 0) {
            mount.handOver();
            throw new MountException("libfuse did not take the INIT handed over for " + point.path());
        }
        return mount;
    }

    /** Our mount as mountinfo lists it, if it could be told apart from others. */
    public Optional<MountTable.Mount> mountInfo() {
        return ours;
    }

    /** The /dev/fuse descriptor of the connection, to hand over to the next daemon. */
    public int deviceFd() {
        return workers.deviceFd();
    }

    /** The raw INIT request the connection began with, once it has been answered. */
    public CompletableFuture<byte[]> initRequest() {
        return workers.initRequest();
    }

    /** After a takeover: how many requests the daemon before had left unanswered, once known. */
    public CompletableFuture<Integer> released() {
        return workers.released();
    }

    /**
     * Stops serving and leaves the mount and its connection as they are, for the next daemon: every
     * request already taken is answered, none is taken after. Returns once the workers have ended (or
     * after a bound, if a request is still being answered).
     */
    public void handOver() {
        workers.handOver();
        try {
            if (!ended(EXIT_TIMEOUT_SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "a request at {0} is still being answered after {1} s; handing"
                        + " over anyway", mountPoint, String.valueOf(EXIT_TIMEOUT_SECONDS));
            }
        } catch (ExecutionException e) {
            LOG.log(System.Logger.Level.DEBUG, "the FUSE loop ended with an error", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Claims {@code mountPoint} (see {@link MountPoint#claim}) and mounts {@code fs} there; the claim is
     * let go by {@link #unmount()}.
     */
    public static FuseMount mount(SecretFs fs, Path mountPoint, boolean allowOther) throws IOException {
        MountPoint point = MountPoint.claim(mountPoint);
        try {
            return mount(fs, point, true, allowOther, RequestLog.none());
        } catch (IOException | RuntimeException e) {
            point.close();
            throw e;
        }
    }

    /**
     * Mounts {@code fs} at a claimed mount point and returns once the mount is live; its workers record
     * what they answer in {@code log}. The caller keeps the claim and lets it go after {@link
     * #unmount()}.
     *
     * @throws MountException if the mount fails
     */
    public static FuseMount mount(SecretFs fs, MountPoint point, boolean allowOther, RequestLog log)
            throws IOException {
        return mount(fs, point, false, allowOther, log);
    }

    private static FuseMount mount(SecretFs fs, MountPoint point, boolean ownsPoint, boolean allowOther,
            RequestLog log) throws IOException {
        checkNotNull(fs, "fs");
        Path where = point.path();
        // direct_io is set per open (SecretFs.open); the low-level API has no path names to hide.
        List<String> options = new ArrayList<>(List.of(
                "-o", "default_permissions", // the kernel enforces the files' modes
                "-o", "fsname=" + SecretFs.FS_NAME,
                "-o", "subtype=" + SecretFs.FS_NAME));
        if (allowOther) {
            options.add("-o");
            options.add("allow_other");
        }
        FuseMount mount = new FuseMount(fs, point, ownsPoint, FuseLoop.start(fs.operations(), where, options, log));
        mount.awaitReady();
        return mount;
    }

    /**
     * Our mount in mountinfo: libfuse's mount(2) (or fusermount) has returned, so it is listed. Nobody
     * else can mount a coco-secretfs there while we hold the claim; a foreign mount made on top in
     * the meantime is passed over.
     */
    private static Optional<MountTable.Mount> identify(Path where) {
        List<MountTable.Mount> here;
        try {
            here = MountTable.all().stream()
                    .filter(m -> m.mountPoint().equals(where) && m.type().equals("fuse." + SecretFs.FS_NAME))
                    .toList();
        } catch (IOException e) {
            here = List.of();
        }
        if (here.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "cannot find our mount at {0} in mountinfo: it will not be"
                    + " unmounted on exit", where);
            return Optional.empty();
        }
        return Optional.of(here.get(here.size() - 1));
    }

    private void awaitReady() throws IOException {
        try {
            CompletableFuture.anyOf(loop, CompletableFuture.runAsync(this::awaitInit))
                    .get(READY_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            unmount();
            throw new MountException("mounting at " + mountPoint + " did not complete in "
                    + READY_TIMEOUT_SECONDS + " s");
        } catch (ExecutionException e) {
            throw new MountException("mounting at " + mountPoint + " failed: " + e.getCause().getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MountException("interrupted while mounting at " + mountPoint);
        }
        if (loop.isDone()) {
            throw new MountException("mounting at " + mountPoint + " failed (see libfuse's message above)");
        }
    }

    private void awaitInit() {
        try {
            fs.initialized().await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The mount point, absolute and resolved. */
    public Path mountPoint() {
        return mountPoint;
    }

    /** Completes when libfuse's loop has ended: after {@link #unmount()}, or an unmount by someone else. */
    public CompletableFuture<Integer> loop() {
        return loop;
    }

    /**
     * Unmounts our mount, if it is still ours to unmount, and waits for libfuse's loop to end. Only
     * the mount this daemon made is touched, found by its mount id: never whatever else is now at the
     * same path. If the mount is busy (a file open in it, a process's working directory inside it),
     * the loop is ended anyway: libfuse then detaches the mount lazily and closes the connection, so
     * what was still open there gets {@code ENOTCONN}.
     */
    public Unmount unmount() {
        Unmount outcome = Unmount.GONE;
        if (!loop.isDone()) {
            outcome = detachOurs();
        }
        try {
            if (outcome == Unmount.UNMOUNTED && !ended(BIND_GRACE_SECONDS)) {
                // Unmounted here, but the connection lives on: a bind of the mount elsewhere (a
                // container's) holds it, and would wait for a daemon that is leaving. End it, so that
                // those binds fail at once (ENOTCONN) and this loop ends.
                LOG.log(System.Logger.Level.INFO, "binds of {0} elsewhere (a container''s?) still hold the mount:"
                        + " ending its connection", mountPoint);
                abort(ours.get());
            }
            loop.get(EXIT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (ownsPoint) {
                point.close();
            }
        } catch (TimeoutException e) {
            if (outcome == Unmount.UNMOUNTED) {
                detach(mountPoint, true);
            }
            LOG.log(System.Logger.Level.WARNING, "the FUSE loop at {0} did not end within {1} s (a request is"
                    + " still being answered); exiting anyway", mountPoint, String.valueOf(EXIT_TIMEOUT_SECONDS));
        } catch (ExecutionException e) {
            LOG.log(System.Logger.Level.DEBUG, "the FUSE loop ended with an error", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return outcome;
    }

    /** Waits up to {@code seconds} for the loop to end: whether it did. */
    private boolean ended(long seconds) throws InterruptedException, ExecutionException {
        try {
            loop.get(seconds, TimeUnit.SECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        }
    }

    private Unmount detachOurs() {
        if (ours.isEmpty()) {
            return Unmount.FAILED;
        }
        MountTable.Mount mine = ours.get();
        List<MountTable.Mount> mounts;
        try {
            mounts = MountTable.all();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot read mountinfo: {0}; not unmounting {1}", e.getMessage(),
                    mountPoint);
            return Unmount.FAILED;
        }
        Optional<MountTable.Mount> top = MountTable.top(mounts, mountPoint);
        if (top.isPresent() && top.get().id() == mine.id()) {
            if (!detach(mountPoint, false)) {
                LOG.log(System.Logger.Level.INFO, "{0} is busy (a file open or a working directory in it): ending"
                        + " the mount anyway; what is still open there gets ENOTCONN", mountPoint);
                workers.stop();
            }
            return Unmount.UNMOUNTED;
        }
        if (mounts.stream().noneMatch(m -> m.id() == mine.id())) {
            return Unmount.GONE;
        }
        // Covered: an unmount by path would take the other mount. End our connection instead, so
        // that the loop ends now; our mount stays, dead, under the other one.
        LOG.log(System.Logger.Level.WARNING, "another mount ({0}) covers ours at {1}: leaving both in place",
                top.map(MountTable.Mount::type).orElse("?"), mountPoint);
        abort(mine);
        return Unmount.COVERED;
    }

    /** Aborts our FUSE connection through fusectl (root only): every request on it fails from then on. */
    private static void abort(MountTable.Mount mine) {
        abortConnection(mine.device());
    }

    /**
     * Aborts the FUSE connection of device {@code device} ({@code major:minor} as mountinfo lists it)
     * through fusectl (root only): every request on it fails from then on, and its mounts are dead.
     */
    public static void abortConnection(String device) {
        String minor = device.substring(device.indexOf(':') + 1);
        Path control = FUSE_CONNECTIONS.resolve(minor).resolve("abort");
        try {
            Files.writeString(control, "1");
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot abort the FUSE connection {0}: {1}", minor, e.getMessage());
        }
    }

    /** Unmounts, lazily if asked; as root through umount2, otherwise through fusermount. */
    static boolean detach(Path where, boolean lazy) {
        LibC libc = Native.libc();
        if (libc.geteuid() == 0) {
            if (libc.umount2(where.toString(), lazy ? LibC.MNT_DETACH : 0) == 0) {
                return true;
            }
            LOG.log(System.Logger.Level.DEBUG, "umount2 {0}: {1}", where, Native.describe(Native.errno()));
            return false;
        }
        try {
            Process p = new ProcessBuilder("fusermount", lazy ? "-uz" : "-u", "--", where.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            return p.waitFor() == 0;
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "fusermount failed", e);
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
