// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static com.google.common.base.Preconditions.checkNotNull;

import dev.cocosecretfs.platform.LibC;
import dev.cocosecretfs.platform.Native;
import java.io.IOException;
import java.nio.file.DirectoryStream;
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
 * a fixed wait, as jnr-fuse's own mount does).
 */
public final class FuseMount {
    private static final System.Logger LOG = System.getLogger(FuseMount.class.getName());
    private static final Path DEV_FUSE = Path.of("/dev/fuse");
    private static final long READY_TIMEOUT_SECONDS = 60;
    private static final long EXIT_TIMEOUT_SECONDS = 10;

    private final SecretFs fs;
    private final Path mountPoint;
    private final FuseLoop workers;
    private final CompletableFuture<Integer> loop;

    private FuseMount(SecretFs fs, Path mountPoint, FuseLoop loop) {
        this.fs = fs;
        this.mountPoint = mountPoint;
        this.workers = loop;
        this.loop = loop.ended();
    }

    /**
     * Mounts {@code fs} at {@code mountPoint} and returns once the mount is live. A dead FUSE mount left
     * there by a killed daemon is lazily unmounted first.
     *
     * @throws MountException if the mount point is missing, not a directory, not empty or already in
     *     use, or the mount fails
     */
    public static FuseMount mount(SecretFs fs, Path mountPoint, boolean allowOther) throws IOException {
        checkNotNull(fs, "fs");
        Path where = prepare(mountPoint);
        List<String> options = new ArrayList<>(List.of(
                "-o", "direct_io", // no page cache: a secret's bytes stay out of kernel memory
                "-o", "default_permissions", // the kernel enforces the files' modes
                // Unlink an open file for real: without it libfuse renames it to .fuse_hidden* instead.
                "-o", "hard_remove",
                "-o", "fsname=" + SecretFs.FS_NAME,
                "-o", "subtype=" + SecretFs.FS_NAME));
        if (allowOther) {
            options.add("-o");
            options.add("allow_other");
        }
        FuseMount mount = new FuseMount(fs, where, FuseLoop.start(fs.operations(), where, options));
        mount.awaitReady();
        return mount;
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
     * Unmounts and waits for libfuse's loop to end. If the mount is busy (a file open in it, a
     * process's working directory inside it), the loop is ended anyway: libfuse then detaches the
     * mount lazily and closes the connection, so what was still open there gets {@code ENOTCONN}.
     */
    public void unmount() {
        if (!loop.isDone() && !detach(mountPoint, false)) {
            LOG.log(System.Logger.Level.INFO, "{0} is busy (a file open or a working directory in it): ending"
                    + " the mount anyway; what is still open there gets ENOTCONN", mountPoint);
            workers.stop();
        }
        try {
            loop.get(EXIT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            detach(mountPoint, true);
            LOG.log(System.Logger.Level.WARNING, "the FUSE loop at {0} did not end within {1} s (a request is"
                    + " still being answered); detached the mount and exiting anyway", mountPoint,
                    String.valueOf(EXIT_TIMEOUT_SECONDS));
        } catch (ExecutionException e) {
            LOG.log(System.Logger.Level.DEBUG, "the FUSE loop ended with an error", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Checks the mount point and clears a dead FUSE mount from it.
     *
     * @return the mount point, absolute with its parent resolved
     */
    static Path prepare(Path mountPoint) throws IOException {
        if (!Files.exists(DEV_FUSE)) {
            throw new MountException(DEV_FUSE + " is missing: load the fuse module (modprobe fuse)");
        }
        Path absolute = mountPoint.toAbsolutePath().normalize();
        Path parent = absolute.getParent();
        Path where = parent == null ? absolute
                : (Files.isDirectory(parent) ? parent.toRealPath() : parent).resolve(absolute.getFileName());
        Optional<MountTable.Mount> existing = MountTable.at(where);
        if (existing.isPresent()) {
            if (!isDead(where)) {
                throw new MountException("mount point " + where + " is busy: a " + existing.get().type()
                        + " filesystem is mounted there");
            }
            LOG.log(System.Logger.Level.WARNING, "{0} holds a dead FUSE mount ({1}) left by a killed daemon;"
                    + " unmounting it", where, existing.get().type());
            if (!detach(where, true)) {
                throw new MountException("mount point " + where + " holds a dead FUSE mount that could not be"
                        + " unmounted");
            }
        }
        if (!Files.exists(where)) {
            throw new MountException("mount point " + where + " does not exist");
        }
        if (!Files.isDirectory(where)) {
            throw new MountException("mount point " + where + " is not a directory");
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(where)) {
            if (entries.iterator().hasNext()) {
                throw new MountException("mount point " + where + " is not empty");
            }
        }
        return where;
    }

    /**
     * True if the FUSE mount at {@code where} has lost its daemon. statfs always asks the daemon,
     * where stat or access may be answered from attributes the kernel still caches.
     */
    private static boolean isDead(Path where) {
        return Native.libc().statfs(where.toString(), new byte[256]) != 0 && Native.errno() == LibC.ENOTCONN;
    }

    /** Unmounts, lazily if asked; as root through umount2, otherwise through fusermount. */
    private static boolean detach(Path where, boolean lazy) {
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
