// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import static java.util.Objects.checkIndex;

import com.google.common.collect.ImmutableList;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;

/**
 * The table of secrets in a confidential-computing secret area, as Linux's efi_secret driver reads
 * it: a 20-byte header (GUID {@link #HEADER_GUID} and the u32 length of the whole table), then
 * entries of a 16-byte GUID, a u32 length and the data, back to back. All integers little-endian.
 *
 * <p>Parsing reads only the 20-byte headers, through a {@link HeaderReader}, so the secrets
 * themselves never pass through here. It applies efi_secret's rules, with three differences: there
 * is no cap of 64 entries but one of {@link #MAX_ENTRIES}; two live entries with the same GUID are
 * an error instead of two files of one name; and an entry whose GUID has its first 8 bytes zero and
 * its last 8 not is a wipe in progress ({@link SecretEntry.State#WIPING}), never a secret.
 *
 * <p>The entries are held in three arrays, 20 bytes an entry, plus 4 for each live entry's place in
 * name order: no object per entry. Immutable.
 */
public final class SecretTable {

    /** GUID that marks a populated table. */
    public static final Guid HEADER_GUID = Guid.parse("1e74f542-71dd-4d66-963e-ef4287ff173b");

    /** Size of the table header: GUID and u32 table length. */
    public static final int HEADER_BYTES = Guid.BYTES + Integer.BYTES;

    /**
     * The most entries (live, being wiped and deleted together) a table may have. A 16 MiB page,
     * the largest {@code pack} writes, could hold 838,859 entries of 20 bytes; 16 bytes of GUID and 4
     * of offset for each would take more than the daemon's 16 MB heap. 131,072 entries take 3.7 MB
     * here and in the daemon's directory, and are 160 times the 818 that fit in 16 KiB, the largest
     * table the guest-owner tools build. A 16 MiB page fits whole if its entries average 128 bytes.
     */
    public static final int MAX_ENTRIES = 131_072;

    /** Reads bytes of the area that are not secret: the table and entry headers. */
    @FunctionalInterface
    public interface HeaderReader {
        /** Fills {@code dst} from its position to its limit with the area's bytes at {@code offset}. */
        void read(long offset, ByteBuffer dst) throws IOException;
    }

    private static final SecretTable UNPOPULATED =
            new SecretTable(false, 0, 0, new long[0], new long[0], new int[1], new int[0]);

    private final boolean populated;
    private final long tableLength;
    private final int count;
    private final long[] msb;
    private final long[] lsb;
    /** Offset of entry i, as a u32; {@code offsets[count]} is where the last entry ends. */
    private final int[] offsets;
    /** The live entries' indexes, ordered by GUID (unsigned): the order of their names. */
    private final int[] byName;

    private SecretTable(boolean populated, long tableLength, int count, long[] msb, long[] lsb, int[] offsets,
            int[] byName) {
        this.populated = populated;
        this.tableLength = tableLength;
        this.count = count;
        this.msb = msb;
        this.lsb = lsb;
        this.offsets = offsets;
        this.byName = byName;
    }

    /**
     * Parses the table of an area of {@code areaSize} bytes.
     *
     * @return the table; not {@link #populated()} (and empty) if the header GUID is not {@link
     *     #HEADER_GUID}, which means the guest owner injected nothing
     * @throws TableFormatException if the table is corrupt, or has more than {@link #MAX_ENTRIES}
     *     entries; nothing of it is then usable
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
            return UNPOPULATED;
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

        long most = Math.min((tableLength - HEADER_BYTES) / SecretEntry.HEADER_BYTES, MAX_ENTRIES + 1L);
        int capacity = (int) Math.min(most, 64);
        long[] msb = new long[capacity];
        long[] lsb = new long[capacity];
        int[] offsets = new int[capacity + 1];
        int count = 0;
        int live = 0;
        long offset = HEADER_BYTES;
        TableFormatException walkError = null;
        while (tableLength - offset >= SecretEntry.HEADER_BYTES) {
            header.clear();
            reader.read(offset, header);
            header.flip();
            long m = readMsb(header);
            long l = header.order(ByteOrder.BIG_ENDIAN).getLong();
            long length = Integer.toUnsignedLong(header.order(ByteOrder.LITTLE_ENDIAN).getInt());
            long left = tableLength - offset;
            if (length < SecretEntry.HEADER_BYTES) {
                walkError = new TableFormatException(offset, "entry at offset " + offset + ": length " + length
                        + " is below the " + SecretEntry.HEADER_BYTES + "-byte entry header");
                break;
            }
            if (length > left) {
                walkError = new TableFormatException(offset, "entry at offset " + offset + ": length " + length
                        + " exceeds the " + left + " bytes left in the table");
                break;
            }
            if (count == MAX_ENTRIES) {
                walkError = new TableFormatException(offset, "entry at offset " + offset + " is entry "
                        + (MAX_ENTRIES + 1) + ": coco-secretfs serves at most " + MAX_ENTRIES + " entries in a table");
                break;
            }
            if (count == capacity) {
                capacity = (int) Math.min(most, 2L * capacity);
                msb = Arrays.copyOf(msb, capacity);
                lsb = Arrays.copyOf(lsb, capacity);
                offsets = Arrays.copyOf(offsets, capacity + 1);
            }
            msb[count] = m;
            lsb[count] = l;
            offsets[count] = (int) offset;
            count++;
            if (m != 0) {
                live++;
            }
            offset += length;
        }
        offsets[count] = (int) offset;

        // The walk's order of errors: a repeated GUID before the first bad length is reported first.
        int[] byName = new int[live];
        for (int i = 0, k = 0; i < count; i++) {
            if (msb[i] != 0) {
                byName[k++] = i;
            }
        }
        sortByGuid(byName, msb, lsb);
        int repeat = -1;
        for (int k = 1; k < byName.length; k++) {
            // Equal GUIDs sit together in page order: the repeat that comes first in the page is the
            // second of its run, and the entry before it in byName is the run's first.
            if (compare(byName[k], byName[k - 1], msb, lsb) == 0 && (repeat < 0 || byName[k] < byName[repeat])) {
                repeat = k;
            }
        }
        if (repeat >= 0) {
            long at = Integer.toUnsignedLong(offsets[byName[repeat]]);
            throw new TableFormatException(at, "entry at offset " + at + ": GUID "
                    + new Guid(msb[byName[repeat]], lsb[byName[repeat]])
                    + " is already the GUID of the live entry at offset "
                    + Integer.toUnsignedLong(offsets[byName[repeat - 1]]));
        }
        if (walkError != null) {
            throw walkError;
        }
        if (capacity != count) {
            msb = Arrays.copyOf(msb, count);
            lsb = Arrays.copyOf(lsb, count);
            offsets = Arrays.copyOf(offsets, count + 1);
        }
        return new SecretTable(true, tableLength, count, msb, lsb, offsets, byName);
    }

    /** The first 8 bytes of an EFI GUID at the buffer's position as the canonical high half, advancing it. */
    private static long readMsb(ByteBuffer header) {
        ByteBuffer le = header.order(ByteOrder.LITTLE_ENDIAN);
        long data1 = Integer.toUnsignedLong(le.getInt());
        long data2 = Short.toUnsignedLong(le.getShort());
        long data3 = Short.toUnsignedLong(le.getShort());
        return data1 << 32 | data2 << 16 | data3;
    }

    private static int compare(int a, int b, long[] msb, long[] lsb) {
        int c = Long.compareUnsigned(msb[a], msb[b]);
        return c != 0 ? c : Long.compareUnsigned(lsb[a], lsb[b]);
    }

    /** A stable merge sort of entry indexes by GUID: equal GUIDs stay in page order. */
    private static void sortByGuid(int[] indexes, long[] msb, long[] lsb) {
        int[] from = indexes;
        int[] to = new int[indexes.length];
        for (int width = 1; width < indexes.length; width *= 2) {
            for (int lo = 0; lo < indexes.length; lo += 2 * width) {
                int mid = Math.min(lo + width, indexes.length);
                int hi = Math.min(lo + 2 * width, indexes.length);
                int i = lo;
                int j = mid;
                for (int k = lo; k < hi; k++) {
                    to[k] = j >= hi || i < mid && compare(from[i], from[j], msb, lsb) <= 0 ? from[i++] : from[j++];
                }
            }
            int[] t = from;
            from = to;
            to = t;
        }
        if (from != indexes) {
            System.arraycopy(from, 0, indexes, 0, indexes.length);
        }
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
            checkArgument(secret.getKey().msb() != 0, "GUID %s has its first 8 bytes zero, which on the page marks"
                    + " a wipe in progress; it cannot name a secret", secret.getKey());
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

    /** Number of entries, deleted ones included. */
    public int size() {
        return count;
    }

    /** Entry {@code i} in page order, from 0. */
    public SecretEntry entry(int i) {
        checkIndex(i, count);
        return new SecretEntry(guid(i), offset(i), length(i));
    }

    /** The GUID of entry {@code i}. */
    public Guid guid(int i) {
        checkIndex(i, count);
        return new Guid(msb[i], lsb[i]);
    }

    /** The high half of entry {@code i}'s GUID ({@link Guid#msb()}), without making a Guid. */
    public long guidMsb(int i) {
        checkIndex(i, count);
        return msb[i];
    }

    /** The low half of entry {@code i}'s GUID ({@link Guid#lsb()}). */
    public long guidLsb(int i) {
        checkIndex(i, count);
        return lsb[i];
    }

    /** Offset of entry {@code i}'s header in the area. */
    public long offset(int i) {
        checkIndex(i, count);
        return Integer.toUnsignedLong(offsets[i]);
    }

    /** Length of entry {@code i}, its 20-byte header included. */
    public long length(int i) {
        checkIndex(i, count);
        return Integer.toUnsignedLong(offsets[i + 1]) - Integer.toUnsignedLong(offsets[i]);
    }

    /** The state of entry {@code i}. */
    public SecretEntry.State state(int i) {
        checkIndex(i, count);
        return SecretEntry.state(msb[i], lsb[i]);
    }

    /** Every entry in page order, deleted ones included: a view, each entry made as it is asked for. */
    public List<SecretEntry> entries() {
        return new Entries();
    }

    /** The entries that hold secrets, in page order (a copy: for tools and tests). */
    public ImmutableList<SecretEntry> live() {
        ImmutableList.Builder<SecretEntry> live = ImmutableList.builderWithExpectedSize(byName.length);
        for (int i = 0; i < count; i++) {
            if (msb[i] != 0) {
                live.add(entry(i));
            }
        }
        return live.build();
    }

    /** Number of entries that hold secrets. */
    public int liveCount() {
        return byName.length;
    }

    /** The index of the {@code k}-th live entry in the order of their names (GUIDs, unsigned), from 0. */
    public int liveByName(int k) {
        checkIndex(k, byName.length);
        return byName[k];
    }

    /** The index of the live entry of that GUID, or -1 if there is none. */
    public int find(Guid guid) {
        checkNotNull(guid, "guid");
        int lo = 0;
        int hi = byName.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int i = byName[mid];
            int c = Long.compareUnsigned(msb[i], guid.msb());
            if (c == 0) {
                c = Long.compareUnsigned(lsb[i], guid.lsb());
            }
            if (c == 0) {
                return i;
            }
            if (c < 0) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return -1;
    }

    private final class Entries extends AbstractList<SecretEntry> implements RandomAccess {
        @Override
        public SecretEntry get(int index) {
            return entry(index);
        }

        @Override
        public int size() {
            return count;
        }
    }
}
