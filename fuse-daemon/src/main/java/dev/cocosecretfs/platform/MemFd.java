// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.IOException;

/**
 * Anonymous files in memory (memfd_create(2)) for what one daemon leaves the next through systemd's
 * fd store: a sealed one for state written once (the mount, the kernel's INIT request), a shared
 * mapping for what changes while the daemon runs (the ids of the requests in flight). Only data that
 * is not secret goes there: it passes through Java arrays.
 */
public final class MemFd {
    /** Every seal: the contents can change no more, nor the seals. */
    public static final int ALL_SEALS = LibC.F_SEAL_WRITE | LibC.F_SEAL_GROW | LibC.F_SEAL_SHRINK | LibC.F_SEAL_SEAL;

    private MemFd() {}

    /**
     * A memfd holding {@code contents}, sealed against every change ({@link #ALL_SEALS}), close-on-exec.
     * A reader can trust that nobody rewrites it under them, the writer included.
     *
     * @return the descriptor, the caller's to close
     * @throws ErrnoException if the memfd cannot be made, written or sealed
     */
    public static int createSealed(String name, byte[] contents) throws ErrnoException {
        LibC libc = Native.libc();
        int fd = libc.memfdCreate(name, LibC.MFD_CLOEXEC | LibC.MFD_ALLOW_SEALING);
        if (fd < 0) {
            throw new ErrnoException("memfd_create " + name, Native.errno());
        }
        long buf = NativeMemory.allocate(contents.length);
        try {
            NativeMemory.put(buf, contents);
            long done = 0;
            while (done < contents.length) {
                long n = libc.pwrite(fd, buf + done, contents.length - done, done);
                if (n < 0 && Native.errno() == LibC.EINTR) {
                    continue;
                }
                if (n <= 0) {
                    throw new ErrnoException("write to memfd " + name, n < 0 ? Native.errno() : LibC.EIO);
                }
                done += n;
            }
            if (libc.fcntl(fd, LibC.F_ADD_SEALS, ALL_SEALS) < 0) {
                throw new ErrnoException("seal memfd " + name, Native.errno());
            }
            return fd;
        } catch (ErrnoException e) {
            libc.close(fd);
            throw e;
        } finally {
            NativeMemory.free(buf);
        }
    }

    /** The seals on {@code fd} (F_GET_SEALS): a mask of LibC.F_SEAL_*; 0 for a memfd made without sealing. */
    public static int seals(int fd) throws ErrnoException {
        int seals = Native.libc().fcntl(fd, LibC.F_GET_SEALS, 0);
        if (seals < 0) {
            throw new ErrnoException("F_GET_SEALS on descriptor " + fd, Native.errno());
        }
        return seals;
    }

    /**
     * The whole contents of the file at {@code fd}, read from offset 0 whatever the descriptor's
     * position (which stays as it was: the descriptor can be stored again and read again).
     *
     * @throws IOException if it holds more than {@code maxBytes} bytes or cannot be read
     */
    public static byte[] read(int fd, int maxBytes) throws IOException {
        checkArgument(maxBytes >= 0, "maxBytes %s is negative", maxBytes);
        long size = Native.fstat(fd).size();
        if (size > maxBytes) {
            throw new IOException("descriptor " + fd + " holds " + size + " bytes, more than the " + maxBytes
                    + " expected");
        }
        int length = (int) size;
        LibC libc = Native.libc();
        long buf = NativeMemory.allocate(length);
        try {
            int done = 0;
            while (done < length) {
                long n = libc.pread(fd, buf + done, length - done, done);
                if (n < 0 && Native.errno() == LibC.EINTR) {
                    continue;
                }
                if (n < 0) {
                    throw new ErrnoException("read descriptor " + fd, Native.errno());
                }
                if (n == 0) {
                    break; // shrank since the fstat (not if sealed)
                }
                done += (int) n;
            }
            return NativeMemory.get(buf, done);
        } finally {
            NativeMemory.free(buf);
        }
    }

    /**
     * A memfd of {@code size} zero bytes, close-on-exec, not sealed: to be mapped with {@link
     * #mapShared} by the writer and read (or mapped) by the next daemon.
     *
     * @throws ErrnoException if it cannot be made or sized
     */
    public static int createShared(String name, long size) throws ErrnoException {
        checkArgument(size > 0, "size %s is not positive", size);
        LibC libc = Native.libc();
        int fd = libc.memfdCreate(name, LibC.MFD_CLOEXEC);
        if (fd < 0) {
            throw new ErrnoException("memfd_create " + name, Native.errno());
        }
        if (libc.ftruncate(fd, size) != 0) {
            int errno = Native.errno();
            libc.close(fd);
            throw new ErrnoException("size memfd " + name + " to " + size + " bytes", errno);
        }
        return fd;
    }

    /**
     * Maps the first {@code size} bytes of {@code fd} readable and writable, shared: stores are seen
     * by every other mapping of the file and by reads of the descriptor, after this process is gone
     * too. Unmap with {@link #unmap}.
     *
     * @return the mapping's address
     * @throws ErrnoException if mmap fails
     */
    public static long mapShared(int fd, long size) throws ErrnoException {
        checkArgument(size > 0, "size %s is not positive", size);
        long address = Native.libc().mmap(0, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        if (address == LibC.MAP_FAILED) {
            throw new ErrnoException("mmap of descriptor " + fd, Native.errno());
        }
        return address;
    }

    /** Unmaps a mapping of {@link #mapShared}. */
    public static void unmap(long address, long size) throws ErrnoException {
        if (Native.libc().munmap(address, size) != 0) {
            throw new ErrnoException("munmap", Native.errno());
        }
    }
}
