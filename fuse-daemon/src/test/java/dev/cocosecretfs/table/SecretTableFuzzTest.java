// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import com.code_intelligence.jazzer.junit.DictionaryFile;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;

/**
 * Jazzer feeds {@link SecretTable#parse} pages for a bounded time (fuzzing mode, which the build
 * turns on with JAZZER_FUZZ; without it only the committed seed corpus runs). Any exception other
 * than the format error, a read outside the page, or a table that breaks the format's invariants is
 * a finding and fails the build; the finding's input is written under target/jazzer.
 *
 * <p>Seeds, in {@code SecretTableFuzzTestInputs/parse}: the public vectors, a deleted entry, padding,
 * and one page per parser rule (header GUID missing, header length 19, 20, beyond the area, entry
 * length 7, beyond the table, exactly 20, duplicate GUIDs live and deleted, a tail under 20 bytes,
 * u32 maxima, an empty and a 19-byte area, two wipes cut short under one half-zero GUID beside a live
 * GUID whose last 8 bytes are zero).
 */
class SecretTableFuzzTest {
    private static final AtomicLong INPUTS = new AtomicLong();
    private static final AtomicLong TABLES = new AtomicLong();
    private static final AtomicLong REFUSED = new AtomicLong();
    private static final AtomicLong ENTRIES = new AtomicLong();

    @FuzzTest(maxDuration = "60s")
    @DictionaryFile(resourcePath = "/dev/cocosecretfs/table/secret-table.dict")
    void parse(byte[] page) throws IOException {
        INPUTS.incrementAndGet();
        long size = page.length;
        SecretTable table;
        try {
            table = SecretTable.parse(size, (offset, dst) -> {
                if (offset < 0 || offset > size || dst.remaining() > size - offset) {
                    throw new AssertionError("read of " + dst.remaining() + " bytes at offset " + offset
                            + " is outside the " + size + "-byte page");
                }
                dst.put(page, (int) offset, dst.remaining());
            });
        } catch (TableFormatException e) {
            check(e.offset() >= 0 && e.offset() <= size, "format error at offset %s outside the %s-byte page",
                    e.offset(), size);
            check(e.getMessage() != null && !e.getMessage().isBlank(), "format error without a message");
            sameAsInMemory(page, null);
            REFUSED.incrementAndGet();
            return;
        }
        checkInvariants(table, size);
        sameAsInMemory(page, table);
        TABLES.incrementAndGet();
        ENTRIES.addAndGet(table.entries().size());
    }

    private static void checkInvariants(SecretTable table, long size) {
        check(table.size() <= SecretTable.MAX_ENTRIES, "%s entries, more than %s", table.size(), SecretTable.MAX_ENTRIES);
        if (!table.populated()) {
            check(table.entries().isEmpty() && table.tableLength() == 0, "an unpopulated table has entries");
            return;
        }
        long length = table.tableLength();
        check(length >= SecretTable.HEADER_BYTES && length <= size, "table length %s outside [20, %s]", length, size);
        long next = SecretTable.HEADER_BYTES;
        Set<Guid> live = new HashSet<>();
        int index = 0;
        for (SecretEntry e : table.entries()) {
            check(e.offset() == next, "entry at %s does not follow the one before it (expected %s)", e.offset(), next);
            check(e.length() >= SecretEntry.HEADER_BYTES, "entry at %s shorter than its header", e.offset());
            check(e.offset() + e.length() <= length, "entry at %s runs past the table", e.offset());
            check(e.wiped() == e.guid().isZero() && e.live() == (e.guid().msb() != 0)
                    && (e.state() == SecretEntry.State.WIPING) == e.guid().isWipeMark(), "entry at %s: state %s"
                    + " does not follow from its GUID", e.offset(), e.state());
            check(!e.live() || live.add(e.guid()), "two live entries of one GUID");
            check(table.find(e.guid()) == (e.live() ? index : -1), "find() does not give the live entry of GUID %s",
                    e.guid());
            index++;
            next = e.offset() + e.length();
        }
        check(length - next < SecretEntry.HEADER_BYTES, "%s bytes left unparsed at %s", length - next, next);
        List<SecretEntry> expectedLive = table.entries().stream().filter(SecretEntry::live).toList();
        check(table.live().equals(expectedLive) && table.liveCount() == expectedLive.size(),
                "live() is not the entries whose GUID's first 8 bytes are not zero");
        for (int k = 1; k < table.liveCount(); k++) {
            Guid a = table.guid(table.liveByName(k - 1));
            Guid b = table.guid(table.liveByName(k));
            int order = Long.compareUnsigned(a.msb(), b.msb());
            check((order != 0 ? order : Long.compareUnsigned(a.lsb(), b.lsb())) < 0,
                    "liveByName is not in the order of the names");
        }
    }

    /** The in-memory parse must agree with the reader-based one. */
    private static void sameAsInMemory(byte[] page, SecretTable expected) {
        try {
            SecretTable again = SecretTable.parse(ByteBuffer.wrap(page));
            check(expected != null, "the in-memory parse accepts a page the reader-based parse refuses");
            check(again.entries().equals(expected.entries()) && again.tableLength() == expected.tableLength()
                    && again.populated() == expected.populated(), "the two parses disagree");
        } catch (TableFormatException e) {
            check(expected == null, "the in-memory parse refuses a page the reader-based parse accepts");
        }
    }

    private static void check(boolean ok, String message, Object... args) {
        if (!ok) {
            throw new AssertionError(String.format(message, args));
        }
    }

    @AfterAll
    static void report() {
        System.out.printf("fuzz SecretTable.parse: %d inputs run (%d parsed into tables holding %d entries,"
                + " %d refused with the format error)%n", INPUTS.get(), TABLES.get(), ENTRIES.get(), REFUSED.get());
    }
}
