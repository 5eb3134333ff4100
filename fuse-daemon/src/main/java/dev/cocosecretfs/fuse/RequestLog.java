// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import dev.cocosecretfs.platform.FuseLowLevel;
import dev.cocosecretfs.platform.NativeMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The id of the request each worker is answering, in shared memory that outlives the daemon (a memfd
 * kept in systemd's file descriptor store beside the connection): a daemon killed while answering
 * leaves the ids of what it had read and not answered, and the next daemon releases each with an
 * error, so that no caller waits for ever. A worker writes its slot before it answers and clears it
 * after; a worker past the last slot records nothing (the window of {@link FuseLoop#RELEASE_WINDOW}
 * still covers it). Request ids are never reused, so a stale slot can only name a request that is
 * long answered, whose reply the kernel refuses and ignores.
 */
public final class RequestLog {
    /** Slots, one a worker: more than there are ever workers at once but in a wipe storm. */
    public static final int SLOTS = 1024;
    public static final long BYTES = SLOTS * 8L;
    private static final RequestLog NONE = new RequestLog(0);

    private final long address;
    private final ConcurrentLinkedQueue<Integer> free = new ConcurrentLinkedQueue<>();

    /** A log in {@link #BYTES} bytes of memory at {@code address}, which may hold a dead daemon's ids. */
    public RequestLog(long address) {
        this.address = address;
        if (address != 0) {
            for (int i = 0; i < SLOTS; i++) {
                free.add(i);
            }
        }
    }

    /** A log that records nothing: outside systemd, where nothing outlives the daemon. */
    public static RequestLog none() {
        return NONE;
    }

    /** The ids in the log: what the daemon that wrote it was answering when it ended. */
    public List<Long> pending() {
        List<Long> ids = new ArrayList<>();
        for (int i = 0; address != 0 && i < SLOTS; i++) {
            long id = NativeMemory.getLong(address + i * 8L);
            if (id != 0) {
                ids.add(id);
            }
        }
        return ids;
    }

    /** Empties every slot, before the workers start writing. */
    public void clear() {
        if (address != 0) {
            NativeMemory.fill(address, BYTES, (byte) 0);
        }
    }

    /** A slot for a worker, or -1 if none is left. */
    int claim() {
        Integer slot = free.poll();
        return slot == null ? -1 : slot;
    }

    void giveBack(int slot) {
        if (slot >= 0) {
            end(slot);
            free.add(slot);
        }
    }

    void begin(int slot, long unique) {
        if (slot >= 0) {
            NativeMemory.putLong(address + slot * 8L, unique);
        }
    }

    void end(int slot) {
        if (slot >= 0) {
            NativeMemory.putLong(address + slot * 8L, 0);
        }
    }
}
