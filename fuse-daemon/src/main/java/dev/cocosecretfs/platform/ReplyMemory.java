// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static com.google.common.base.Preconditions.checkArgument;

import jnr.ffi.Pointer;

/**
 * Native memory for FUSE replies that carry secret bytes. libfuse sends such a buffer and then frees
 * it itself, so the daemon never gets a chance to clear it; what clears it is glibc, which fills
 * every freed chunk with zeros once {@link Hardening#apply()} has set {@code M_PERTURB}. Two kinds of
 * chunk escape that fill, and the sizes here avoid both:
 *
 * <ul>
 *   <li>chunks of up to 1,040 bytes go to the per-thread cache (tcache) untouched: every buffer is at
 *       least {@link #MIN_BYTES};
 *   <li>glibc fills a freed chunk's size minus its 16-byte header, which misses the last 1 to 8
 *       bytes of a request whose size is 1 to 8 past a multiple of 16 (they lie in the next chunk's
 *       header field): every size is rounded up to a multiple of 16.
 * </ul>
 *
 * <p>{@link Hardening#apply()} checks at start that glibc will overwrite a buffer of this kind when it
 * is freed, and warns if it will not.
 */
public final class ReplyMemory {

    /** Smallest buffer handed out: well above the largest chunk glibc's tcache can hold (1,040 bytes). */
    static final long MIN_BYTES = 4096;
    private static final long ALIGN = 16;

    private ReplyMemory() {}

    /**
     * Allocates room for {@code size} bytes with glibc's malloc, to be freed by libfuse or by
     * {@link #free}. The pointer's {@link Pointer#size()} is {@code size}; the chunk behind it is
     * larger.
     *
     * @throws OutOfMemoryError if malloc fails
     */
    public static Pointer allocate(long size) {
        checkArgument(size >= 0, "size %s is negative", size);
        Pointer p = malloc(paddedSize(size));
        return Pointer.wrap(p.getRuntime(), p.address(), size);
    }

    /**
     * Allocates {@code size} bytes with glibc's malloc for the {@code struct fuse_bufvec} that points to
     * a reply buffer: it holds sizes and the buffer's address, never secret bytes, so it needs none of
     * the padding of {@link #allocate}. Freed by libfuse or by {@link #free}.
     *
     * @throws OutOfMemoryError if malloc fails
     */
    public static Pointer allocateVector(long size) {
        checkArgument(size > 0, "size %s is not positive", size);
        return malloc(size);
    }

    private static Pointer malloc(long bytes) {
        Pointer p = Native.libc().malloc(bytes);
        if (p == null || p.address() == 0) {
            throw new OutOfMemoryError("malloc(" + bytes + ") failed");
        }
        return p;
    }

    /** Frees a buffer of {@link #allocate} or {@link #allocateVector} that was not handed to libfuse. */
    public static void free(Pointer p) {
        if (p != null) {
            Native.libc().free(p);
        }
    }

    /** What is asked of malloc for {@code size} bytes. */
    static long paddedSize(long size) {
        long rounded = (size + ALIGN - 1) & -ALIGN;
        return Math.max(rounded, MIN_BYTES);
    }
}
