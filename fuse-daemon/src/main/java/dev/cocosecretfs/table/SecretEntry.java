// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

/**
 * One entry of the table: where it starts in the area and how long it is, its 20-byte header
 * included. An entry whose GUID is all zero has been deleted.
 *
 * @param guid the entry's GUID, {@link Guid#ZERO} when wiped
 * @param offset byte offset of the entry header in the area
 * @param length entry length in bytes: 20 plus the data length
 */
public record SecretEntry(Guid guid, long offset, long length) {

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
}
