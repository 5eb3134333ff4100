// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import com.kenai.jffi.LastError;

/** Entry point to the C library, and the few calls on descriptors that more than one class needs. */
public final class Native {
    private static final LibC LIBC = LibC.load();
    private static final int S_IFMT = 0170000;
    private static final int S_IFCHR = 0020000;
    /** /dev/fuse: the misc device 10:229. */
    private static final int FUSE_MAJOR = 10;
    private static final int FUSE_MINOR = 229;

    private Native() {}

    /** The bound C library. */
    public static LibC libc() {
        return LIBC;
    }

    /** errno as left by the calling thread's last call through {@link #libc()}. */
    public static int errno() {
        return LastError.getInstance().get();
    }

    /** The C library's text for an errno. */
    public static String describe(int errno) {
        return LIBC.strerror(errno);
    }

    /** close(2), retried on nothing (Linux frees the descriptor even when close reports EINTR): 0 or errno. */
    public static int close(int fd) {
        return LIBC.close(fd) == 0 ? 0 : errno();
    }

    /**
     * What fstat(2) says of a descriptor.
     *
     * @throws ErrnoException if fstat fails (a descriptor that is not open: EBADF)
     */
    public static FileStatus fstat(int fd) throws ErrnoException {
        long buf = NativeMemory.allocate(LibC.STAT_BYTES);
        try {
            if (LIBC.fstat(fd, buf) != 0) {
                throw new ErrnoException("fstat of descriptor " + fd, errno());
            }
            return FileStatus.of(buf);
        } finally {
            NativeMemory.free(buf);
        }
    }

    /**
     * True if {@code fd} is open on the FUSE device, character device 10:229 (what a descriptor handed
     * over as the FUSE connection must be before anything is read from it or written to it).
     */
    public static boolean isFuseDevice(int fd) {
        try {
            FileStatus s = fstat(fd);
            return (s.mode() & S_IFMT) == S_IFCHR && s.rdevMajor() == FUSE_MAJOR && s.rdevMinor() == FUSE_MINOR;
        } catch (ErrnoException e) {
            return false;
        }
    }

    /**
     * Writes the {@code length} bytes at native address {@code buf} to {@code fd} in one write(2), as a
     * FUSE reply must go (the device takes a reply whole or not at all).
     *
     * @return 0, or the errno of the failed write (ENOENT from /dev/fuse: no request of that unique id
     *     is waiting for an answer); EIO if the write was short
     */
    public static int writeWhole(int fd, long buf, long length) {
        while (true) {
            long n = LIBC.write(fd, buf, length);
            if (n == length) {
                return 0;
            }
            if (n >= 0) {
                return LibC.EIO;
            }
            int errno = errno();
            if (errno != LibC.EINTR) {
                return errno;
            }
        }
    }
}
