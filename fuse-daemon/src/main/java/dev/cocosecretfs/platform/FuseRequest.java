// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import static dev.cocosecretfs.platform.FuseLowLevel.BUF_BYTES;
import static dev.cocosecretfs.platform.FuseLowLevel.BUF_FD;
import static dev.cocosecretfs.platform.FuseLowLevel.BUF_FLAGS;
import static dev.cocosecretfs.platform.FuseLowLevel.BUF_MEM;
import static dev.cocosecretfs.platform.FuseLowLevel.BUF_POS;
import static dev.cocosecretfs.platform.FuseLowLevel.BUF_SIZE;
import static dev.cocosecretfs.platform.FuseLowLevel.IN_LEN;
import static dev.cocosecretfs.platform.FuseLowLevel.IN_OPCODE;
import static dev.cocosecretfs.platform.FuseLowLevel.IN_UNIQUE;

import com.kenai.jffi.MemoryIO;

/**
 * The native memory a FUSE worker reads requests into: a {@code struct fuse_buf} that libfuse fills
 * from /dev/fuse, the buffer it points to, and the slot for the channel libfuse answers on. One per
 * worker thread, freed with {@link #close}. The loop reads the request's header (opcode, id, length)
 * through it, never the arguments.
 */
public final class FuseRequest implements AutoCloseable {
    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    /** fuse_buf_flags: the request is still in the device (libfuse's splice_read, not used here). */
    private static final int FUSE_BUF_IS_FD = 1 << 1;

    private final long size;
    private final long buffer;
    private final long buf;
    private final long channelSlot;

    /** Memory for requests of up to {@code size} bytes (the channel's buffer size). */
    public FuseRequest(long size) {
        this.size = size;
        long b = 0;
        long s = 0;
        long m = NativeMemory.allocate(size);
        try {
            b = NativeMemory.allocate(BUF_BYTES);
            s = NativeMemory.allocate(Long.BYTES);
        } catch (RuntimeException | Error e) {
            NativeMemory.free(m);
            NativeMemory.free(b);
            throw e;
        }
        this.buffer = m;
        this.buf = b;
        this.channelSlot = s;
    }

    /** Readies the {@code struct fuse_buf} for the next receive on {@code channel}. */
    public void reset(long channel) {
        MEMORY.putLong(buf + BUF_SIZE, size);
        MEMORY.putInt(buf + BUF_FLAGS, 0);
        MEMORY.putAddress(buf + BUF_MEM, buffer);
        MEMORY.putInt(buf + BUF_FD, 0);
        MEMORY.putLong(buf + BUF_POS, 0);
        MEMORY.putAddress(channelSlot, channel);
    }

    /** The {@code struct fuse_buf *} for receive and process. */
    public long buf() {
        return buf;
    }

    /** The {@code struct fuse_chan **} receive may change. */
    public long channelSlot() {
        return channelSlot;
    }

    /** The channel receive left in the slot, to answer on. */
    public long channel() {
        return MEMORY.getAddress(channelSlot);
    }

    /** True if libfuse left the request in the device instead of the buffer (its header unknown). */
    public boolean inDevice() {
        return (MEMORY.getInt(buf + BUF_FLAGS) & FUSE_BUF_IS_FD) != 0;
    }

    /** The request's opcode (FUSE_LOOKUP, FUSE_READ, ...). */
    public int opcode() {
        return MEMORY.getInt(buffer + IN_OPCODE);
    }

    /** The request's id: the kernel's {@code unique}. */
    public long unique() {
        return MEMORY.getLong(buffer + IN_UNIQUE);
    }

    /** A copy of the request as received ({@code received} bytes): requests hold no secret. */
    public byte[] copy(int received) {
        return NativeMemory.get(buffer, Math.min(received, MEMORY.getInt(buffer + IN_LEN)));
    }

    @Override
    public void close() {
        NativeMemory.free(buffer);
        NativeMemory.free(buf);
        NativeMemory.free(channelSlot);
    }

    /**
     * Has libfuse process {@code request}, the raw bytes of a request, with its id replaced by {@code
     * unique}: for replaying a connection's INIT in a new session.
     */
    public static void process(FuseLowLevel lib, long session, long channel, byte[] request, long unique) {
        long mem = NativeMemory.allocate(request.length);
        long buf = NativeMemory.allocate(BUF_BYTES);
        try {
            NativeMemory.put(mem, request);
            MEMORY.putLong(mem + IN_UNIQUE, unique);
            MEMORY.putLong(buf + BUF_SIZE, request.length);
            MEMORY.putInt(buf + BUF_FLAGS, 0);
            MEMORY.putAddress(buf + BUF_MEM, mem);
            MEMORY.putInt(buf + BUF_FD, -1);
            MEMORY.putLong(buf + BUF_POS, 0);
            lib.process(session, buf, channel);
        } finally {
            NativeMemory.free(buf);
            NativeMemory.free(mem);
        }
    }
}
