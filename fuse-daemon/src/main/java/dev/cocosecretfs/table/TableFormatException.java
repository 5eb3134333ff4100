// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

/**
 * The bytes are not a valid secret table. Carries the byte offset of what is wrong; the message
 * says what was found and what was expected there.
 */
public final class TableFormatException extends Exception {
    private static final long serialVersionUID = 1L;

    private final long offset;

    TableFormatException(long offset, String message) {
        super(message);
        this.offset = offset;
    }

    /** Byte offset in the area of the header or entry that is wrong. */
    public long offset() {
        return offset;
    }
}
