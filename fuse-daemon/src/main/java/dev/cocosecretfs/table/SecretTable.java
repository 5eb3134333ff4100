// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import com.google.common.collect.ImmutableList;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * The table of secrets in a confidential-computing secret area, as Linux's efi_secret driver reads
 * it: a 20-byte header (GUID {@link #HEADER_GUID} and the u32 length of the whole table), then
 * entries of a 16-byte GUID, a u32 length and the data, back to back. All integers little-endian.
 *
 * <p>Parsing reads only the 20-byte headers, through a {@link HeaderReader}, so the secrets
 * themselves never pass through here. It applies efi_secret's rules, with two differences: there
 * is no cap of 64 entries, and two live entries with the same GUID are an error instead of two files
 * of one name.
 */
public final class SecretTable {

    /** GUID that marks a populated table. */
    public static final Guid HEADER_GUID = Guid.parse("1e74f542-71dd-4d66-963e-ef4287ff173b");

    /** Size of the table header: GUID and u32 table length. */
    public static final int HEADER_BYTES = Guid.BYTES + Integer.BYTES;

    /** Reads bytes of the area that are not secret: the table and entry headers. */
    @FunctionalInterface
    public interface HeaderReader {
        /** Fills {@code dst} from its position to its limit with the area's bytes at {@code offset}. */
        void read(long offset, ByteBuffer dst) throws IOException;
    }

    private final boolean populated;
    private final long tableLength;
    private final ImmutableList<SecretEntry> entries;

    private SecretTable(boolean populated, long tableLength, ImmutableList<SecretEntry> entries) {
        this.populated = populated;
        this.tableLength = tableLength;
        this.entries = entries;
    }

    /**
     * Parses the table of an area of {@code areaSize} bytes.
     *
     * @return the table; not {@link #populated()} (and empty) if the header GUID is not {@link
     *     #HEADER_GUID}, which means the guest owner injected nothing
     * @throws TableFormatException if the table is corrupt; nothing of it is then usable
     * @throws IOException if the reader fails
     */
    public static SecretTable parse(long areaSize, HeaderReader reader) throws TableFormatException, IOException {
        checkNotNull(reader, "reader");
        if (areaSize < HEADER_BYTES) {
            throw new TableFormatException(0,
                    "area is " + areaSize + " bytes, below the " + HEADER_BYTES + "-byte table header");
        }
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        reader.read(0, header);
        header.flip();
        if (!Guid.readEfi(header).equals(HEADER_GUID)) {
            return new SecretTable(false, 0, ImmutableList.of());
        }
        long tableLength = Integer.toUnsignedLong(header.getInt());
        if (tableLength < HEADER_BYTES) {
            throw new TableFormatException(Guid.BYTES, "table header at offset 0: length " + tableLength
                    + " is below the " + HEADER_BYTES + "-byte table header");
        }
        if (tableLength > areaSize) {
            throw new TableFormatException(Guid.BYTES, "table header at offset 0: length " + tableLength
                    + " exceeds the " + areaSize + "-byte area");
        }

        ImmutableList.Builder<SecretEntry> entries = ImmutableList.builder();
        Map<Guid, SecretEntry> live = new HashMap<>();
        long offset = HEADER_BYTES;
        while (tableLength - offset >= SecretEntry.HEADER_BYTES) {
            header.clear();
            reader.read(offset, header);
            header.flip();
            Guid guid = Guid.readEfi(header);
            long length = Integer.toUnsignedLong(header.getInt());
            long left = tableLength - offset;
            if (length < SecretEntry.HEADER_BYTES) {
                throw new TableFormatException(offset, "entry at offset " + offset + ": length " + length
                        + " is below the " + SecretEntry.HEADER_BYTES + "-byte entry header");
            }
            if (length > left) {
                throw new TableFormatException(offset, "entry at offset " + offset + ": length " + length
                        + " exceeds the " + left + " bytes left in the table");
            }
            SecretEntry entry = new SecretEntry(guid, offset, length);
            if (!entry.wiped()) {
                SecretEntry earlier = live.putIfAbsent(guid, entry);
                if (earlier != null) {
                    throw new TableFormatException(offset, "entry at offset " + offset + ": GUID " + guid
                            + " is already the GUID of the live entry at offset " + earlier.offset());
                }
            }
            entries.add(entry);
            offset += length;
        }
        return new SecretTable(true, tableLength, entries.build());
    }

    /** Parses a table held in memory; convenient for tools and tests. */
    public static SecretTable parse(ByteBuffer area) throws TableFormatException {
        ByteBuffer page = area.duplicate();
        try {
            return parse(page.remaining(), (offset, dst) -> {
                // Callers never ask past the area: parse checks lengths against areaSize first.
                int start = page.position() + Math.toIntExact(offset);
                dst.put(page.duplicate().position(start).limit(start + dst.remaining()));
            });
        } catch (IOException e) {
            throw new AssertionError("in-memory reads do not fail", e);
        }
    }

    /**
     * Writes a table holding {@code secrets}, in order, at the start of a zero-filled page of {@code
     * pageSize} bytes. The table header's length covers the entries exactly.
     *
     * @throws IllegalArgumentException if a GUID is zero or repeated, or the table does not fit
     */
    public static byte[] write(Map<Guid, ByteBuffer> secrets, int pageSize) {
        checkNotNull(secrets, "secrets");
        long needed = HEADER_BYTES;
        for (Map.Entry<Guid, ByteBuffer> secret : secrets.entrySet()) {
            checkArgument(!secret.getKey().isZero(), "the all-zero GUID marks a deleted entry; it cannot name a secret");
            needed += SecretEntry.HEADER_BYTES + secret.getValue().remaining();
        }
        checkArgument(needed <= pageSize,
                "the secrets need %s bytes with their headers; the page is %s bytes", needed, pageSize);
        ByteBuffer page = ByteBuffer.allocate(pageSize).order(ByteOrder.LITTLE_ENDIAN);
        HEADER_GUID.writeEfi(page);
        page.putInt((int) needed);
        for (Map.Entry<Guid, ByteBuffer> secret : secrets.entrySet()) {
            secret.getKey().writeEfi(page);
            page.putInt(SecretEntry.HEADER_BYTES + secret.getValue().remaining());
            page.put(secret.getValue().duplicate());
        }
        return page.array();
    }

    /** False when the header GUID is missing: the area exists but holds no table. */
    public boolean populated() {
        return populated;
    }

    /** Length of the table from its header, 0 when not populated. */
    public long tableLength() {
        return tableLength;
    }

    /** Every entry in page order, deleted ones included. */
    public ImmutableList<SecretEntry> entries() {
        return entries;
    }

    /** The entries that have not been deleted, in page order. */
    public ImmutableList<SecretEntry> live() {
        return entries.stream().filter(e -> !e.wiped()).collect(ImmutableList.toImmutableList());
    }
}
