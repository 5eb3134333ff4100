// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.secrets;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretEntry;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A live secret of a {@link SecretDirectory}: where its bytes are, and the lock that keeps a read
 * and the wipe of the same secret from interleaving. Holds no secret bytes.
 */
public final class Secret {
    private final SecretEntry entry;
    private final String name;
    private final byte[] header;
    private final long handle;
    private static final byte[] ZERO_GUID = new byte[Guid.BYTES];

    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean wiped; // guarded by lock
    private boolean damaged; // guarded by lock

    Secret(SecretEntry entry, long handle) {
        this.entry = entry;
        this.handle = handle;
        this.name = entry.guid().toString();
        ByteBuffer bytes = ByteBuffer.allocate(SecretEntry.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        entry.guid().writeEfi(bytes);
        bytes.putInt((int) entry.length());
        this.header = bytes.array();
    }

    /** The file name: the GUID, lowercase with dashes. */
    public String name() {
        return name;
    }

    /**
     * A number of its own within its directory, from 1, that stays the secret's for the life of the
     * directory: FUSE file handles are these, so a read finds its secret without a table of open
     * files (see {@link SecretDirectory#byHandle}).
     */
    public long handle() {
        return handle;
    }

    /** Length of the secret in bytes. */
    public long length() {
        return entry.dataLength();
    }

    SecretEntry entry() {
        return entry;
    }

    /**
     * True if {@code bytes} are this entry's header as it was at open: its GUID and length; or, if
     * {@code orZeroGuid}, its length under the zero GUID that a wipe of it may have got as far as
     * writing.
     */
    boolean headerIs(byte[] bytes, boolean orZeroGuid) {
        if (Arrays.equals(bytes, header)) {
            return true;
        }
        return orZeroGuid && bytes.length == header.length
                && Arrays.equals(bytes, 0, Guid.BYTES, ZERO_GUID, 0, Guid.BYTES)
                && Arrays.equals(bytes, Guid.BYTES, bytes.length, header, Guid.BYTES, header.length);
    }

    ReadWriteLock lock() {
        return lock;
    }

    boolean wiped() {
        return wiped;
    }

    void markWiped() {
        wiped = true;
    }

    /** True once a wipe failed part-way: some of the bytes may already be zeros. */
    boolean damaged() {
        return damaged;
    }

    void markDamaged() {
        damaged = true;
    }
}
