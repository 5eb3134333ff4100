// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/**
 * The system calls the security tests make, bound so that each result and errno is exactly what the
 * kernel answered. Paths can be raw bytes: names that are not valid UTF-8 reach the mount unchanged.
 */
public interface Sys {
    Sys C = LibraryLoader.create(Sys.class).load("c");

    int O_RDONLY = 0;
    int O_WRONLY = 1;
    int O_RDWR = 2;
    int O_CREAT = 0100;
    int O_TRUNC = 01000;
    int O_DIRECTORY = 0200000;
    int O_PATH = 010000000;

    int EPERM = 1;
    int ENOENT = 2;
    int EIO = 5;
    int EBADF = 9;
    int EACCES = 13;
    int ENOTDIR = 20;
    int EISDIR = 21;
    int EINVAL = 22;
    int EFBIG = 27;
    int EROFS = 30;
    int ENAMETOOLONG = 36;

    int RLIMIT_FSIZE = 1;
    int RLIMIT_NOFILE = 7;

    /** errno of this thread's last call through {@link #C}. */
    static int errno() {
        return Runtime.getRuntime(C).getLastError();
    }

    /** A path as the NUL-terminated bytes the kernel takes. */
    static byte[] path(byte[] bytes) {
        return Arrays.copyOf(bytes, bytes.length + 1);
    }

    static byte[] path(String path) {
        return path(path.getBytes(StandardCharsets.UTF_8));
    }

    int open(@In byte[] path, int flags, int mode);

    int close(int fd);

    long read(int fd, @Out byte[] buf, long count);

    long pread(int fd, @Out byte[] buf, long count, long offset);

    long lseek(int fd, long offset, int whence);

    int unlink(@In byte[] path);

    int truncate(@In byte[] path, long length);

    int getrlimit(int resource, @Out long[] limit);

    int setrlimit(int resource, @In long[] limit);

    int prlimit(int pid, int resource, @In long[] newLimit, @Out long[] oldLimit);

    int mallopt(int param, int value);
}
