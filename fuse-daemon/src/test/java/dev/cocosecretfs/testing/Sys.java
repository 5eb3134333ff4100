// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/**
 * The tests' one binding of the C library: the system calls the mount tests make, bound so that each
 * result and errno is exactly what the kernel answered, and those with which {@link FakeSystemd} plays
 * systemd's part (a datagram socket, descriptors passed as SCM_RIGHTS, poll, posix_spawn with
 * descriptors put in place). Paths are raw NUL-terminated bytes ({@link #path}): names that are not
 * valid UTF-8 reach the mount unchanged.
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
    int O_NOCTTY = 0400;
    int O_NONBLOCK = 04000;
    int O_NOFOLLOW = 0400000;
    int O_CLOEXEC = 02000000;

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
    int ELOOP = 40;

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

    long write(int fd, @In byte[] buf, long count);

    long lseek(int fd, long offset, int whence);

    int unlink(@In byte[] path);

    int truncate(@In byte[] path, long length);

    int mkdir(@In byte[] path, int mode);

    int rmdir(@In byte[] path);

    int rename(@In byte[] from, @In byte[] to);

    int link(@In byte[] from, @In byte[] to);

    int symlink(@In byte[] target, @In byte[] path);

    int chmod(@In byte[] path, int mode);

    int chown(@In byte[] path, int uid, int gid);

    int setxattr(@In byte[] path, String name, @In byte[] value, long size, int flags);

    int mknod(@In byte[] path, int mode, long dev);

    int utimes(@In byte[] path, Pointer times);

    int getrlimit(int resource, @Out long[] limit);

    int setrlimit(int resource, @In long[] limit);

    int prlimit(int pid, int resource, @In long[] newLimit, @Out long[] oldLimit);

    int mallopt(int param, int value);

    // For FakeSystemd. Structures are passed as native memory laid out by the caller (LP64 Linux).

    int socket(int domain, int type, int protocol);

    int bind(int fd, @In byte[] addr, int length);

    int setsockopt(int fd, int level, int name, @In int[] value, int length);

    long recvmsg(int fd, Pointer msghdr, int flags);

    long sendmsg(int fd, Pointer msghdr, int flags);

    int poll(Pointer fds, long count, int timeoutMs);

    int fcntl(int fd, int cmd, int arg);

    int pipe2(@Out int[] fds, int flags);

    int memfd_create(String name, int flags);

    int getpid();

    int kill(int pid, int signal);

    int waitpid(int pid, @Out int[] status, int options);

    /**
     * The raw system call, for kcmp (glibc has no wrapper). Six arguments after the number: with five,
     * jnr-ffi 2.2.17 passed garbage as the last one on x86_64 (seen with strace).
     */
    long syscall(long number, long a, long b, long c, long d, long e, long unused);

    int posix_spawn(@Out int[] pid, String path, Pointer fileActions, Pointer attributes, Pointer argv, Pointer envp);

    int posix_spawn_file_actions_init(Pointer actions);

    int posix_spawn_file_actions_destroy(Pointer actions);

    int posix_spawn_file_actions_adddup2(Pointer actions, int fd, int newFd);

    int posix_spawn_file_actions_addopen(Pointer actions, int fd, String path, int flags, int mode);

    /** glibc 2.34 and later. */
    int posix_spawn_file_actions_addclosefrom_np(Pointer actions, int from);
}
