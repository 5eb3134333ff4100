// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Builds raw pages byte by byte, including broken ones the writer would never produce. */
final class Pages {
    private final ByteBuffer page;

    Pages(int size) {
        page = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    Pages header(long tableLength) {
        return header(SecretTable.HEADER_GUID, tableLength);
    }

    Pages header(Guid guid, long tableLength) {
        guid.writeEfi(page);
        page.putInt((int) tableLength);
        return this;
    }

    Pages entry(String guid, long length, byte... data) {
        Guid.parse(guid).writeEfi(page);
        page.putInt((int) length);
        page.put(data);
        return this;
    }

    int position() {
        return page.position();
    }

    ByteBuffer buffer() {
        return ByteBuffer.wrap(page.array());
    }
}
