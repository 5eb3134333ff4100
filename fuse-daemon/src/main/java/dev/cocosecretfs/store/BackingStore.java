// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The bytes of a secret area: a device exported by the kernel shim, or a file holding a page. Moves
 * byte ranges and knows nothing of their format.
 *
 * <p>Implementations are safe for concurrent use: reads and wipes are positional.
 */
public interface BackingStore extends Closeable {

    /** Size of the area in bytes. */
    long size();

    /**
     * Fills {@code dst} with the bytes at {@code offset}. Only for bytes that are not secret, such as
     * the table's headers: they land in Java memory.
     *
     * @throws IOException if the range cannot be read whole
     */
    void readMetadata(long offset, ByteBuffer dst) throws IOException;

    /**
     * Copies {@code length} bytes at {@code offset} into native memory at address {@code dst}, never
     * through Java memory. The caller guarantees {@code length} bytes of room there.
     *
     * @throws IOException if the range cannot be read whole
     */
    void readInto(long offset, long dst, int length) throws IOException;

    /**
     * Reads the {@code head.length} bytes at {@code offset} into {@code head} and the {@code length}
     * bytes that follow them into native memory at address {@code dst}: metadata and the data it
     * describes, in one read where the store can, so that both come from the same moment. The caller
     * guarantees {@code length} bytes of room at {@code dst}.
     *
     * @throws IOException if either range cannot be read whole
     */
    default void readInto(long offset, byte[] head, long dst, int length) throws IOException {
        readMetadata(offset, ByteBuffer.wrap(head));
        readInto(offset + head.length, dst, length);
    }

    /**
     * Overwrites {@code length} bytes at {@code offset} with zeros.
     *
     * @throws IOException if the range cannot be written whole
     */
    void wipe(long offset, long length) throws IOException;

    /**
     * False if the store was opened read-only: its wipes then fail before writing anything. Stores
     * that cannot tell say true.
     */
    default boolean writable() {
        return true;
    }

    /** Makes earlier wipes durable: on the disk for a file, in memory for the device. */
    void sync() throws IOException;

    /** Where the bytes live, for messages. */
    String describe();

    @Override
    void close() throws IOException;
}
