// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import dev.cocosecretfs.platform.ErrnoException;
import dev.cocosecretfs.platform.LibC;
import dev.cocosecretfs.platform.Native;
import dev.cocosecretfs.platform.NativeMemory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A store on an open file descriptor, read and written with pread and pwrite so that concurrent
 * callers need no lock. Secrets go from the descriptor straight into native memory.
 */
abstract sealed class FdStore implements BackingStore permits FileStore, DeviceStore {
    private static final int EINTR = 4;
    private static final int EACCES = 13;
    private static final int EROFS = 30;
    private static final int EPERM = 1;
    private static final int ZEROS_BYTES = 4096;
    private static final int SCRATCH_BYTES = 64;
    /** In the scratch memory: two struct iovec for preadv, then the head they read. */
    private static final int IOVEC_BYTES = 16;
    private static final int HEAD_AT = 2 * IOVEC_BYTES;
    private static final int HEAD_MAX = SCRATCH_BYTES - HEAD_AT;

    private final LibC libc = Native.libc();
    private final Path path;
    private final int fd;
    private final boolean writable;
    private final long size;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Per-thread native room for headers, which every read checks, and preadv's vector: no allocation per read. */
    private final ThreadLocal<NativeMemory.Scratch> scratch =
            ThreadLocal.withInitial(() -> NativeMemory.scratch(SCRATCH_BYTES));

    /**
     * 4 KiB of zeros in native memory that nothing ever writes to: the source of every wipe, shared by
     * all. In a holder of its own so that touching FdStore (DeviceStore.DEFAULT_PATH, while the command
     * line is parsed) loads no native code: the open-file limit is checked before jffi unpacks its
     * library.
     */
    private static final class Zeros {
        static final long ADDRESS = NativeMemory.allocate(ZEROS_BYTES);
    }

    /** An open descriptor, what it is, and whether it was opened for writing. */
    record Descriptor(int fd, boolean writable, long size, int type, long rdev) {}

    FdStore(Path path, Descriptor d) {
        this.path = checkNotNull(path, "path");
        this.fd = d.fd();
        this.writable = d.writable();
        this.size = d.size();
    }

    /**
     * Opens {@code path} and makes the store its kind asks for: a regular file or a block device
     * gets a {@link FileStore}, whose sync is {@code fdatasync}; the kernel shim's character device a
     * {@link DeviceStore}, whose writes are durable when they return. Anything else is refused. The
     * kind is that of the opened descriptor, not of whatever the path names a moment before or after.
     */
    static FdStore open(Path path) throws IOException {
        LibC libc = Native.libc();
        int fd;
        boolean writable;
        int rw = libc.open(path.toString(), LibC.O_RDWR | LibC.O_CLOEXEC | LibC.O_NOCTTY);
        if (rw < 0 && isDenied(Native.errno())) {
            int ro = libc.open(path.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOCTTY);
            if (ro < 0) {
                throw failure(path, "open", Native.errno());
            }
            fd = ro;
            writable = false;
        } else if (rw < 0) {
            throw failure(path, "open", Native.errno());
        } else {
            fd = rw;
            writable = true;
        }
        try {
            Map<String, Object> attrs = Files.readAttributes(Path.of("/proc/self/fd/" + fd), "unix:mode,rdev");
            int type = (Integer) attrs.get("mode") & S_IFMT;
            long rdev = (Long) attrs.get("rdev");
            long end = libc.lseek(fd, 0, LibC.SEEK_END);
            if (end < 0) {
                throw failure(path, "lseek", Native.errno());
            }
            Descriptor d = new Descriptor(fd, writable, end, type, rdev);
            if (type == S_IFREG || type == S_IFBLK) {
                return new FileStore(path, d);
            }
            if (type == S_IFCHR && ShimDevice.is(rdev)) {
                return new DeviceStore(path, d);
            }
            throw new FileSystemException(path.toString(), null, type == S_IFCHR
                    ? "is a character device (" + ShimDevice.name(rdev) + ") but not the kernel shim's "
                            + ShimDevice.NAME + " device"
                    : "is neither a regular file nor a device");
        } catch (IOException | RuntimeException e) {
            libc.close(fd);
            throw e;
        }
    }

    /** The file type bits of a mode. */
    static final int S_IFMT = 0170000;
    static final int S_IFREG = 0100000;
    static final int S_IFBLK = 0060000;
    static final int S_IFCHR = 0020000;

    /**
     * Checks that {@code path} names something a store can open, with the exception a user should
     * see when it does not.
     */
    static BasicFileAttributes attributes(Path path) throws IOException {
        // readAttributes, not Files.exists: a device the cgroup denies must not pass for a missing one.
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(path.toString(), null, "no such file or device");
        }
        if (attrs.isDirectory()) {
            throw new FileSystemException(path.toString(), null, "is a directory, not a page or device");
        }
        return attrs;
    }

    private static boolean isDenied(int errno) {
        return errno == EACCES || errno == EROFS || errno == EPERM;
    }

    private IOException failure(String call, int errno) {
        return failure(path, call, errno);
    }

    private static IOException failure(Path path, String call, int errno) {
        String what = call + " " + path;
        if (errno == EACCES || errno == EPERM) {
            return new AccessDeniedException(path.toString(), null, call + ": " + Native.describe(errno));
        }
        return new ErrnoException(what, errno);
    }

    @Override
    public final long size() {
        return size;
    }

    /** True if the store was opened for writing, so that wipes can succeed. */
    @Override
    public final boolean writable() {
        return writable;
    }

    @Override
    public final void readMetadata(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        if (length <= SCRATCH_BYTES) {
            long at = scratch.get().address();
            readInto(offset, at, length);
            dst.put(NativeMemory.get(at, length));
            return;
        }
        long at = NativeMemory.allocate(length);
        try {
            readInto(offset, at, length);
            dst.put(NativeMemory.get(at, length));
        } finally {
            NativeMemory.free(at);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>The destination is a native address: a {@code long} cannot stand for a Java array, so no
     * binding can marshal the secret through the heap on the way (what a jnr-ffi heap {@code Pointer}
     * did, and why this method used to refuse one). What is left to refuse is an address that names
     * nothing, 0.
     *
     * @throws IllegalArgumentException if {@code dst} is 0 or {@code length} negative
     */
    @Override
    public final void readInto(long offset, long dst, int length) throws IOException {
        checkDestination(dst, length);
        int done = 0;
        while (done < length) {
            long n = libc.pread(fd, dst + done, length - done, offset + done);
            if (n < 0) {
                int errno = Native.errno();
                if (errno == EINTR) {
                    continue;
                }
                throw failure("pread", errno);
            }
            if (n == 0) {
                throw shortRange("read", offset, length, done);
            }
            done += (int) n;
        }
    }

    @Override
    public final void readInto(long offset, byte[] head, long dst, int length) throws IOException {
        checkDestination(dst, length);
        if (head.length > HEAD_MAX) {
            BackingStore.super.readInto(offset, head, dst, length);
            return;
        }
        long iov = scratch.get().address();
        NativeMemory.putLong(iov, iov + HEAD_AT);
        NativeMemory.putLong(iov + Long.BYTES, head.length);
        NativeMemory.putLong(iov + IOVEC_BYTES, dst);
        NativeMemory.putLong(iov + IOVEC_BYTES + Long.BYTES, length);
        long n;
        do {
            n = libc.preadv(fd, iov, 2, offset);
        } while (n < 0 && Native.errno() == EINTR);
        if (n < 0) {
            throw failure("preadv", Native.errno());
        }
        if (n != head.length + (long) length) {
            BackingStore.super.readInto(offset, head, dst, length); // short: each part in its own loop
            return;
        }
        NativeMemory.get(iov + HEAD_AT, head, 0, head.length);
    }

    private static void checkDestination(long dst, int length) {
        checkArgument(dst != 0, "refusing to read into address 0");
        checkArgument(length >= 0, "length %s is negative", length);
    }

    @Override
    public final void wipe(long offset, long length) throws IOException {
        checkArgument(offset >= 0 && length >= 0 && offset + length <= size,
                "range %s+%s is outside the %s-byte area", offset, length, size);
        if (!writable) {
            throw new ErrnoException("wipe " + path + " (opened read-only)", EROFS);
        }
        long done = 0;
        while (done < length) {
            int chunk = (int) Math.min(ZEROS_BYTES, length - done);
            long n = libc.pwrite(fd, Zeros.ADDRESS, chunk, offset + done);
            if (n < 0) {
                int errno = Native.errno();
                if (errno == EINTR) {
                    continue;
                }
                throw failure("pwrite", errno);
            }
            if (n == 0) {
                throw shortRange("write", offset, length, done);
            }
            done += n;
        }
    }

    /** fdatasync on the descriptor. */
    final void fdatasync() throws IOException {
        if (libc.fdatasync(fd) != 0) {
            throw failure("fdatasync", Native.errno());
        }
    }

    private IOException shortRange(String op, long offset, long length, long done) {
        return new ErrnoException("could not " + op + " " + length + " bytes at offset " + offset + " of " + path
                + " (only " + done + "; was it truncated?)", 5 /* EIO */);
    }

    @Override
    public final String describe() {
        return path.toString();
    }

    @Override
    public final void close() throws IOException {
        if (closed.compareAndSet(false, true) && libc.close(fd) != 0) {
            throw failure("close", Native.errno());
        }
    }
}
