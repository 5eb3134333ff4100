// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static com.google.common.base.Preconditions.checkNotNull;

import com.google.common.annotations.VisibleForTesting;
import dev.cocosecretfs.platform.ExclusiveLock;
import dev.cocosecretfs.platform.LibC;
import dev.cocosecretfs.platform.Native;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * A mount point this daemon has claimed: its real path, resolved once, and an exclusive lock on its
 * directory, held until {@link #close()} (in practice for the daemon's life).
 *
 * <p>Claiming is what makes one mount point serve one daemon. Under a lock on the parent directory,
 * which every daemon starting there takes for the length of its checks, it clears a dead FUSE mount
 * (left by a killed daemon) and takes the directory's own lock: two daemons started at once find one
 * of them holding it, and a dead mount one of them clears can never be a live mount that the other has
 * just made. A mount already there is asked whether it answers (statfs, which always reaches a FUSE
 * daemon) with a bound: a daemon that is stopped (SIGSTOP) never answers.
 */
public final class MountPoint implements Closeable {
    private static final System.Logger LOG = System.getLogger(MountPoint.class.getName());
    private static final Path DEV_FUSE = Path.of("/dev/fuse");
    /** How long a mount already at the mount point has to answer statfs; a live daemon takes microseconds. */
    static final long PROBE_SECONDS = 5;
    /** How long to wait for another daemon's checks of the same parent directory (a probe and an unmount). */
    static final long CHECK_WAIT_SECONDS = 15;
    /** Dead mounts stacked on one another that one start clears at most. */
    private static final int MAX_DEAD_MOUNTS = 8;
    /** Symbolic links followed while resolving, as the kernel's limit. */
    private static final int MAX_LINKS = 40;

    private final Path path;
    private final ExclusiveLock lock;

    private MountPoint(Path path, ExclusiveLock lock) {
        this.path = path;
        this.lock = lock;
    }

    /** The real path: absolute, no symbolic link, no {@code .} or {@code ..}. */
    public Path path() {
        return path;
    }

    /** Lets another daemon have the mount point. */
    @Override
    public void close() {
        if (lock != null) {
            lock.close();
        }
    }

    /**
     * Resolves {@code mountPoint} for a takeover of the connection mounted there: the topmost mount at
     * its real path must be a coco-secretfs mount of device {@code device} ({@code major:minor} as
     * mountinfo lists it). Unlike {@link #claim}, this neither probes the mount (nobody answers it
     * until the takeover) nor locks the directory (opening it would ask the same mount): the lock on
     * the backing makes this the one daemon of the page, and a daemon started by hand at the same path
     * finds a live mount there and stops.
     *
     * @return the mount point and the mount, or empty if that mount is no longer there, on top
     */
    public static Optional<Mounted> claimMounted(Path mountPoint, String device) throws IOException {
        checkNotNull(mountPoint, "mountPoint");
        Path where = resolve(mountPoint, mountPoints(MountTable.all()));
        Optional<MountTable.Mount> top = MountTable.at(where);
        if (top.isEmpty() || !top.get().device().equals(device)
                || !top.get().type().equals("fuse." + SecretFs.FS_NAME)) {
            return Optional.empty();
        }
        return Optional.of(new Mounted(new MountPoint(where, null), top.get()));
    }

    /** A mount point claimed for a takeover, and the mount there. */
    public record Mounted(MountPoint point, MountTable.Mount mount) {}

    /**
     * Resolves {@code mountPoint} and claims it: no mount there (a dead FUSE mount is unmounted), an
     * empty directory, and nobody else's claim.
     *
     * @throws MountException saying what is wrong, naming the real path
     */
    public static MountPoint claim(Path mountPoint) throws IOException {
        checkNotNull(mountPoint, "mountPoint");
        if (!Files.exists(DEV_FUSE)) {
            throw new MountException(DEV_FUSE + " is missing: load the fuse module (modprobe fuse)");
        }
        Path where = resolve(mountPoint, mountPoints(MountTable.all()));
        ExclusiveLock checking = lockParent(where);
        try {
            clearDeadMounts(where);
            ExclusiveLock lock = lockDirectory(where);
            try {
                Optional<MountTable.Mount> raced = MountTable.at(where);
                if (raced.isPresent()) {
                    throw busy(where, raced.get());
                }
                try (DirectoryStream<Path> entries = Files.newDirectoryStream(where)) {
                    if (entries.iterator().hasNext()) {
                        throw new MountException("mount point " + where + " is not empty");
                    }
                }
                return new MountPoint(where, lock);
            } catch (IOException | RuntimeException e) {
                lock.close();
                throw e;
            }
        } finally {
            if (checking != null) {
                checking.close();
            }
        }
    }

    /**
     * The real path of {@code given}, as the kernel would resolve it: {@code ..} after a symbolic link
     * leaves the link's target, not the link's directory. Unlike {@link Path#toRealPath}, it never
     * looks at the root of something mounted on the way (which it takes as a directory): a dead FUSE
     * mount fails any look with ENOTCONN, and one whose daemon is stopped never answers. A part that
     * does not exist ends the resolution: the rest is appended as given, for the message that says so.
     */
    @VisibleForTesting
    static Path resolve(Path given, Set<Path> mountPoints) throws IOException {
        Path absolute = given.toAbsolutePath();
        Deque<String> todo = new ArrayDeque<>();
        for (Path name : absolute) {
            todo.addLast(name.toString());
        }
        Path root = absolute.getRoot();
        Path current = root;
        int links = 0;
        while (!todo.isEmpty()) {
            String name = todo.pollFirst();
            if (name.isEmpty() || name.equals(".")) {
                continue;
            }
            if (name.equals("..")) {
                current = current.getParent() == null ? root : current.getParent();
                continue;
            }
            Path next = current.resolve(name);
            if (mountPoints.contains(next)) {
                current = next;
                continue;
            }
            BasicFileAttributes attrs;
            try {
                attrs = Files.readAttributes(next, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                for (String rest : todo) {
                    next = next.resolve(rest);
                }
                return next;
            } catch (AccessDeniedException e) {
                throw new MountException("mount point " + given + ": permission denied at " + next);
            }
            if (attrs.isSymbolicLink()) {
                if (++links > MAX_LINKS) {
                    throw new MountException("mount point " + given + ": too many levels of symbolic links");
                }
                Path target = Files.readSymbolicLink(next);
                List<String> parts = new ArrayList<>();
                for (Path part : target) {
                    parts.add(part.toString());
                }
                for (int i = parts.size() - 1; i >= 0; i--) {
                    todo.addFirst(parts.get(i));
                }
                if (target.isAbsolute()) {
                    current = root;
                }
                continue;
            }
            current = next;
        }
        return current;
    }

    private static Set<Path> mountPoints(List<MountTable.Mount> mounts) {
        return mounts.stream().map(MountTable.Mount::mountPoint).collect(Collectors.toSet());
    }

    /**
     * The lock on the parent directory that daemons hold while they check and clear a mount point in
     * it: null where the parent cannot be opened (a directory the user may search but not read), where
     * only the directory's own lock protects the claim.
     */
    private static ExclusiveLock lockParent(Path where) throws IOException {
        Path parent = where.getParent();
        if (parent == null) {
            return null;
        }
        Optional<ExclusiveLock> lock;
        try {
            lock = within(CHECK_WAIT_SECONDS, "mount-point-check", () -> ExclusiveLock.lock(parent, true));
        } catch (AccessDeniedException | NoSuchFileException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot lock {0}: {1}", parent, e.getMessage());
            return null;
        }
        if (lock.isEmpty()) {
            throw new MountException("mount point " + where + ": another coco-secretfs daemon has been checking "
                    + parent + " for " + CHECK_WAIT_SECONDS + " s: is it stopped?");
        }
        return lock.get();
    }

    /** Unmounts dead FUSE mounts at {@code where}; any other mount there is an error. */
    private static void clearDeadMounts(Path where) throws IOException {
        for (int round = 0; round < MAX_DEAD_MOUNTS; round++) {
            Optional<MountTable.Mount> existing = MountTable.at(where);
            if (existing.isEmpty()) {
                return;
            }
            MountTable.Mount mount = existing.get();
            Optional<Integer> errno = within(PROBE_SECONDS, "mount-point-probe", () -> statfsErrno(where));
            if (errno.isEmpty()) {
                throw new MountException("the " + mount.type() + " mount at " + where + " does not answer within "
                        + PROBE_SECONDS + " s: is its daemon stopped?");
            }
            if (errno.get() != LibC.ENOTCONN) {
                throw busy(where, mount);
            }
            LOG.log(System.Logger.Level.WARNING, "{0} holds a dead FUSE mount ({1}) left by a killed daemon;"
                    + " unmounting it", where, mount.type());
            if (!FuseMount.detach(where, true)) {
                throw new MountException("mount point " + where + " holds a dead FUSE mount that could not be"
                        + " unmounted");
            }
        }
        throw new MountException("mount point " + where + " holds more than " + MAX_DEAD_MOUNTS + " dead mounts");
    }

    /** statfs always asks a FUSE daemon, where stat or access may be answered from cached attributes. */
    private static int statfsErrno(Path where) {
        return Native.libc().statfs(where.toString(), new byte[256]) == 0 ? 0 : Native.errno();
    }

    private static ExclusiveLock lockDirectory(Path where) throws IOException {
        Optional<ExclusiveLock> lock;
        try {
            lock = ExclusiveLock.tryLock(where, true);
        } catch (NoSuchFileException e) {
            throw new MountException("mount point " + where + " does not exist");
        } catch (AccessDeniedException e) {
            throw new MountException("mount point " + where + ": permission denied");
        } catch (FileSystemException e) {
            throw new MountException("mount point " + where + " is not a directory");
        }
        if (lock.isEmpty()) {
            throw new MountException("mount point " + where + " is busy: another coco-secretfs daemon is mounting"
                    + " or serving there");
        }
        return lock.get();
    }

    private static MountException busy(Path where, MountTable.Mount mount) {
        return new MountException("mount point " + where + " is busy: a " + mount.type()
                + " filesystem is mounted there");
    }

    /**
     * Runs {@code call} on a thread of its own and waits at most {@code seconds} for it: empty if it
     * has not ended by then (it is left blocked, in the kernel; the daemon is about to exit).
     */
    private static <T> Optional<T> within(long seconds, String name, Callable<T> call) throws IOException {
        FutureTask<T> task = new FutureTask<>(call);
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        thread.start();
        try {
            return Optional.of(task.get(seconds, TimeUnit.SECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while checking the mount point");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        }
    }
}
