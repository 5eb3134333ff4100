// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import com.kenai.jffi.MemoryIO;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Native memory by address: what the daemon's native calls take and return instead of jnr-ffi's
 * {@code Pointer}. A {@code long} address cannot stand for a Java array, so a secret read into one
 * never passes through the heap. Memory of {@link #allocate} is jffi's (malloc underneath), for the
 * daemon's own scratch and structs.
 */
public final class NativeMemory {
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    private NativeMemory() {}

    /**
     * {@code size} bytes of zeroed native memory, to be freed with {@link #free}.
     *
     * @throws OutOfMemoryError if there is no memory
     */
    public static long allocate(long size) {
        long address = MEMORY.allocateMemory(Math.max(size, 1), true);
        if (address == 0) {
            throw new OutOfMemoryError("cannot allocate " + size + " bytes of native memory");
        }
        return address;
    }

    /** Frees memory of {@link #allocate} or {@link #cString}; 0 is ignored. */
    public static void free(long address) {
        if (address != 0) {
            MEMORY.freeMemory(address);
        }
    }

    /**
     * {@code size} bytes of native memory that live as long as the returned record is reachable: scratch
     * (per thread, say) that needs no {@link #free}. Keep the record, not only its address.
     */
    public static Scratch scratch(int size) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(size);
        return new Scratch(buffer, MEMORY.getDirectBufferAddress(buffer));
    }

    /** Native memory of {@link #scratch}: the buffer that owns it and its address. */
    public record Scratch(ByteBuffer buffer, long address) {}

    /** A copy of {@code s} as a NUL-terminated UTF-8 string, to be freed with {@link #free}. */
    public static long cString(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        long address = allocate(utf8.length + 1L);
        MEMORY.putZeroTerminatedByteArray(address, utf8, 0, utf8.length);
        return address;
    }

    /** The NUL-terminated UTF-8 string at {@code address}; null if the address is 0. */
    public static String string(long address) {
        return address == 0 ? null : new String(MEMORY.getZeroTerminatedByteArray(address), StandardCharsets.UTF_8);
    }

    /** Copies {@code bytes} to {@code address}. Never for secret bytes: they must not be in a Java array. */
    public static void put(long address, byte[] bytes) {
        MEMORY.putByteArray(address, bytes, 0, bytes.length);
    }

    /** A copy of the {@code length} bytes at {@code address}. Never for secret bytes. */
    public static byte[] get(long address, int length) {
        byte[] bytes = new byte[length];
        MEMORY.getByteArray(address, bytes, 0, length);
        return bytes;
    }

    /** Copies {@code length} bytes at {@code address} into {@code dst} from {@code offset}. Never for secrets. */
    public static void get(long address, byte[] dst, int offset, int length) {
        MEMORY.getByteArray(address, dst, offset, length);
    }

    /** Sets {@code length} bytes at {@code address} to {@code value}. */
    public static void fill(long address, long length, byte value) {
        MEMORY.setMemory(address, length, value);
    }

    public static void putLong(long address, long value) {
        MEMORY.putLong(address, value);
    }

    public static long getLong(long address) {
        return MEMORY.getLong(address);
    }

    public static void putInt(long address, int value) {
        MEMORY.putInt(address, value);
    }

    public static int getInt(long address) {
        return MEMORY.getInt(address);
    }

    public static void putShort(long address, short value) {
        MEMORY.putShort(address, value);
    }

    public static void putByte(long address, byte value) {
        MEMORY.putByte(address, value);
    }

    public static byte getByte(long address) {
        return MEMORY.getByte(address);
    }
}
