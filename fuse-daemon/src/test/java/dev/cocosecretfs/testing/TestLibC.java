// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/**
 * System calls the mount tests make to see the exact errno a refused operation gets, and those with
 * which {@link FakeSystemd} plays systemd's part: a datagram socket, descriptors passed as SCM_RIGHTS,
 * poll, and posix_spawn with descriptors put in place.
 */
public interface TestLibC {
    TestLibC INSTANCE = LibraryLoader.create(TestLibC.class).load("c");

    static int errno() {
        return Runtime.getRuntime(INSTANCE).getLastError();
    }

    int O_RDONLY = 0;
    int O_WRONLY = 1;
    int O_RDWR = 2;
    int O_CREAT = 0100;
    int O_TRUNC = 01000;

    int EPERM = 1;
    int ENOENT = 2;
    int EACCES = 13;
    int EROFS = 30;

    int open(String path, int flags, int mode);

    int close(int fd);

    long read(int fd, @Out byte[] buf, long count);

    long pread(int fd, @Out byte[] buf, long count, long offset);

    long write(int fd, @In byte[] buf, long count);

    int mkdir(String path, int mode);

    int rmdir(String path);

    int rename(String from, String to);

    int link(String from, String to);

    int symlink(String target, String path);

    int chmod(String path, int mode);

    int chown(String path, int uid, int gid);

    int truncate(String path, long length);

    int setxattr(String path, String name, @In byte[] value, long size, int flags);

    int mknod(String path, int mode, long dev);

    int unlink(String path);

    int utimes(String path, Pointer times);

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
