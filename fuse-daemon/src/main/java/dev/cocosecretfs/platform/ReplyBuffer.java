// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

/**
 * The native buffer each FUSE worker thread builds its replies in: a secret goes from the store into
 * it, libfuse writes it to the kernel (a copy made in the system call, before the reply returns), and
 * the bytes are zeroed at once. One buffer per thread, grown to the largest reply asked of it, so a
 * read allocates nothing; no copy is left for an allocator to hand on or a core file to hold.
 */
public final class ReplyBuffer {
    private static final long MIN_BYTES = 4096;
    private static final ThreadLocal<long[]> OF_THREAD = ThreadLocal.withInitial(() -> new long[2]);

    private ReplyBuffer() {}

    /** This thread's buffer, with room for at least {@code size} bytes; give it back with {@link #done}. */
    public static long take(long size) {
        long[] buffer = OF_THREAD.get();
        if (buffer[1] < size || buffer[0] == 0) {
            long capacity = Math.max(MIN_BYTES, Long.highestOneBit(Math.max(size, 1) - 1) << 1);
            long address = NativeMemory.allocate(capacity);
            if (buffer[0] != 0) {
                NativeMemory.fill(buffer[0], buffer[1], (byte) 0);
                NativeMemory.free(buffer[0]);
            }
            buffer[0] = address;
            buffer[1] = capacity;
        }
        return buffer[0];
    }

    /** Zeroes the first {@code used} bytes of this thread's buffer at {@code address}, once the reply is sent. */
    public static void done(long address, long used) {
        NativeMemory.fill(address, used, (byte) 0);
    }

    /** Zeroes and frees this thread's buffer: call it when a thread that replied ends. */
    public static void release() {
        long[] buffer = OF_THREAD.get();
        if (buffer[0] != 0) {
            NativeMemory.fill(buffer[0], buffer[1], (byte) 0);
            NativeMemory.free(buffer[0]);
        }
        OF_THREAD.remove();
    }
}
