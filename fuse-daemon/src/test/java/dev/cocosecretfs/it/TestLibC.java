// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/** System calls the mount tests make to see the exact errno a refused operation gets. */
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

    int utimes(String path, jnr.ffi.Pointer times);
}
