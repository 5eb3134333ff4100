// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static com.google.common.base.Preconditions.checkArgument;

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
     * {@link #free}. The chunk behind the address is larger ({@link #paddedSize}); the caller uses
     * {@code size} bytes of it.
     *
     * @return the buffer's address, never 0
     * @throws OutOfMemoryError if malloc fails
     */
    public static long allocate(long size) {
        checkArgument(size >= 0, "size %s is negative", size);
        return malloc(paddedSize(size));
    }

    /**
     * Allocates {@code size} bytes with glibc's malloc for the {@code struct fuse_bufvec} that points to
     * a reply buffer: it holds sizes and the buffer's address, never secret bytes, so it needs none of
     * the padding of {@link #allocate}. Freed by libfuse or by {@link #free}.
     *
     * @throws OutOfMemoryError if malloc fails
     */
    public static long allocateVector(long size) {
        checkArgument(size > 0, "size %s is not positive", size);
        return malloc(size);
    }

    private static long malloc(long bytes) {
        long address = Native.libc().malloc(bytes);
        if (address == 0) {
            throw new OutOfMemoryError("malloc(" + bytes + ") failed");
        }
        return address;
    }

    /**
     * Frees a buffer of {@link #allocate} or {@link #allocateVector} that was not handed to libfuse;
     * 0 is ignored.
     */
    public static void free(long address) {
        if (address != 0) {
            Native.libc().free(address);
        }
    }

    /** What is asked of malloc for {@code size} bytes. */
    static long paddedSize(long size) {
        long rounded = (size + ALIGN - 1) & -ALIGN;
        return Math.max(rounded, MIN_BYTES);
    }
}
