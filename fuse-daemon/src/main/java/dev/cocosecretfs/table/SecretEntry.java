// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

/**
 * One entry of the table: where it starts in the area and how long it is, its 20-byte header
 * included. An entry whose GUID is all zero has been deleted; one whose GUID has only its first 8
 * bytes zero is being deleted (see {@link State#WIPING}).
 *
 * @param guid the entry's GUID, {@link Guid#ZERO} when wiped
 * @param offset byte offset of the entry header in the area
 * @param length entry length in bytes: 20 plus the data length
 */
public record SecretEntry(Guid guid, long offset, long length) {

    /** What the GUID on the page says about the entry. */
    public enum State {
        /** A secret: the first 8 bytes of its GUID are not all zero. */
        LIVE,
        /**
         * A wipe began and did not finish: the first 8 bytes of the GUID are zero, the last 8 are not.
         * A wipe zeroes those 8 bytes before it touches the data, so the data may be whole, partly
         * zeroed or all zero: never a secret to serve. The daemon finishes the wipe when it next opens
         * the page for writing. ({@link Guid#isWipeMark()}.)
         */
        WIPING,
        /** Deleted: the GUID is all zero. */
        WIPED;

        /** Lowercase, as {@code inspect} prints it. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Size of an entry header: GUID and u32 length. */
    public static final int HEADER_BYTES = Guid.BYTES + Integer.BYTES;

    public SecretEntry {
        checkNotNull(guid, "guid");
        checkArgument(offset >= 0, "offset %s is negative", offset);
        checkArgument(length >= HEADER_BYTES, "length %s is below the %s-byte entry header", length, HEADER_BYTES);
    }

    /** Offset of the secret's first byte in the area. */
    public long dataOffset() {
        return offset + HEADER_BYTES;
    }

    /** Length of the secret in bytes. */
    public long dataLength() {
        return length - HEADER_BYTES;
    }

    /** True when the entry was deleted (its GUID zeroed). */
    public boolean wiped() {
        return guid.isZero();
    }

    /** True when the entry holds a secret: neither deleted nor left half-wiped. */
    public boolean live() {
        return state() == State.LIVE;
    }

    /** The entry's state, from its GUID. */
    public State state() {
        return state(guid.msb(), guid.lsb());
    }

    /** The state of an entry whose GUID is {@code msb}, {@code lsb}. */
    static State state(long msb, long lsb) {
        return msb != 0 ? State.LIVE : lsb != 0 ? State.WIPING : State.WIPED;
    }
}
