// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The few C library calls the daemon makes, bound through jnr-ffi. Every call keeps errno, which
 * {@link Native#errno()} returns.
 */
public interface LibC {
    int O_RDONLY = 0;
    int O_RDWR = 2;
    int O_NOCTTY = 0400;
    int O_CLOEXEC = 02000000;
    int SEEK_END = 2;
    int MNT_DETACH = 2;
    int ENOTCONN = 107;
    int O_NONBLOCK = 04000;
    int O_DIRECTORY = 0200000;
    int LOCK_EX = 2;
    int LOCK_NB = 4;
    int EWOULDBLOCK = 11;
    int EINTR = 4;
    int ENOENT = 2;
    int EACCES = 13;
    int ENOTDIR = 20;
    int EMFILE = 24;

    int open(String path, int flags);

    int close(int fd);

    /** An advisory whole-file lock on an open file description; released when its last descriptor closes. */
    int flock(int fd, int operation);

    /** Reads straight into native memory: the path secrets take. */
    @ssize_t long pread(int fd, long buf, @size_t long count, @off_t long offset);

    /** Reads into the buffers of a {@code struct iovec} array in native memory, in one call. */
    @ssize_t long preadv(int fd, long iov, int iovcnt, @off_t long offset);

    /** Writes from a Java array: only ever zeros. */
    @ssize_t long pwrite(int fd, @In byte[] buf, @size_t long count, @off_t long offset);

    int fdatasync(int fd);

    /** For the buffers libfuse frees itself once a reply is sent: see {@link ReplyMemory}. */
    long malloc(@size_t long size);

    void free(long ptr);

    @off_t long lseek(int fd, @off_t long offset, int whence);

    int prctl(int option, long arg2, long arg3, long arg4, long arg5);

    int mallopt(int param, int value);

    int setrlimit(int resource, @In long[] rlimit);

    /** struct statfs is 120 bytes on x86-64; only the call's errno is of interest here. */
    int statfs(String path, @Out byte[] buf);

    int umount2(String target, int flags);

    int socket(int domain, int type, int protocol);

    @ssize_t long sendto(int fd, @In byte[] buf, @size_t long len, int flags, @In byte[] addr, int addrlen);

    int getpid();

    int geteuid();

    int getuid();

    int getgid();

    String strerror(int errnum);
}
