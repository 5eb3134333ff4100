// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static com.google.common.base.Preconditions.checkNotNull;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Optional;

/**
 * An exclusive {@code flock(2)} on a file, a device or a directory, held through a descriptor of its
 * own until {@link #close()} or the end of the process (a crash or SIGKILL included: the kernel drops
 * it with the descriptor). It is what keeps two daemons off one page and off one mount point. flock
 * locks the inode, whatever path or descriptor reaches it, and works on character devices (the
 * shim's {@code /dev/coco_secret}) and directories alike.
 */
public final class ExclusiveLock implements Closeable {
    private final Path path;
    private final int fd;
    private boolean closed;

    private ExclusiveLock(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /**
     * Takes the lock on {@code path} if nobody holds it.
     *
     * @param directory true if {@code path} must be a directory
     * @return the lock, or empty if another descriptor holds it
     * @throws NoSuchFileException, AccessDeniedException or another IOException if {@code path}
     *     cannot be opened
     */
    public static Optional<ExclusiveLock> tryLock(Path path, boolean directory) throws IOException {
        return take(path, directory, LibC.LOCK_EX | LibC.LOCK_NB);
    }

    /** Takes the lock on {@code path}, waiting for whoever holds it to let go. */
    public static ExclusiveLock lock(Path path, boolean directory) throws IOException {
        return take(path, directory, LibC.LOCK_EX).orElseThrow();
    }

    private static Optional<ExclusiveLock> take(Path path, boolean directory, int operation) throws IOException {
        checkNotNull(path, "path");
        LibC libc = Native.libc();
        // O_NONBLOCK: opening must not wait (a FIFO, a tty); it changes nothing for files, devices and directories.
        int flags = LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOCTTY | LibC.O_NONBLOCK
                | (directory ? LibC.O_DIRECTORY : 0);
        int fd = libc.open(path.toString(), flags);
        if (fd < 0) {
            throw failure(path, "open", Native.errno());
        }
        while (true) {
            if (libc.flock(fd, operation) == 0) {
                return Optional.of(new ExclusiveLock(path, fd));
            }
            int errno = Native.errno();
            if (errno == LibC.EINTR) {
                continue;
            }
            libc.close(fd);
            if (errno == LibC.EWOULDBLOCK) {
                return Optional.empty();
            }
            throw failure(path, "flock", errno);
        }
    }

    private static IOException failure(Path path, String call, int errno) {
        return switch (errno) {
            case LibC.ENOENT -> new NoSuchFileException(path.toString());
            case LibC.EACCES -> new AccessDeniedException(path.toString(), null, call + ": permission denied");
            case LibC.ENOTDIR -> new FileSystemException(path.toString(), null, "not a directory");
            default -> new ErrnoException(call + " " + path, errno);
        };
    }

    /**
     * True if {@code path} names the inode this lock holds, now: it was not renamed over or replaced
     * since the lock was taken.
     */
    public boolean holds(Path path) throws IOException {
        Object locked = Files.readAttributes(Path.of("/proc/self/fd/" + fd), BasicFileAttributes.class).fileKey();
        Object named = Files.readAttributes(path, BasicFileAttributes.class).fileKey();
        return locked != null && locked.equals(named);
    }

    /** What was locked, as given. */
    public Path path() {
        return path;
    }

    /** Lets go of the lock. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Native.libc().close(fd);
        }
    }
}
