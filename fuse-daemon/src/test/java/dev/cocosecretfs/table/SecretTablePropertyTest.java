// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class SecretTablePropertyTest {

    @Property
    void parseOfWriteGivesBackTheSecretsInOrder(@ForAll("secrets") Map<Guid, byte[]> secrets,
            @ForAll @IntRange(min = 0, max = 64) int slack) throws Exception {
        Map<Guid, ByteBuffer> in = new LinkedHashMap<>();
        int needed = SecretTable.HEADER_BYTES;
        for (Map.Entry<Guid, byte[]> e : secrets.entrySet()) {
            in.put(e.getKey(), ByteBuffer.wrap(e.getValue()));
            needed += SecretEntry.HEADER_BYTES + e.getValue().length;
        }
        byte[] page = SecretTable.write(in, needed + slack);

        SecretTable table = SecretTable.parse(ByteBuffer.wrap(page));

        assertThat(table.tableLength()).isEqualTo(needed);
        assertThat(table.entries()).extracting(SecretEntry::guid).containsExactlyElementsOf(secrets.keySet());
        List<byte[]> data = new ArrayList<>();
        for (SecretEntry e : table.entries()) {
            data.add(java.util.Arrays.copyOfRange(page, (int) e.dataOffset(), (int) (e.dataOffset() + e.dataLength())));
        }
        assertThat(data).containsExactlyElementsOf(secrets.values());
    }

    /**
     * A wipe cut short after its first step, with any part of the data zeroed: the entry parses as
     * {@code wiping} (a GUID whose last 8 bytes are zero: as deleted), is neither live nor found,
     * and every other entry is as it was. The table still walks: lengths are never touched.
     */
    @Property
    void aMarkedEntryIsNeverLive(@ForAll("secrets") Map<Guid, byte[]> secrets, @ForAll long seed) throws Exception {
        Map<Guid, ByteBuffer> in = new LinkedHashMap<>();
        secrets.forEach((g, d) -> in.put(g, ByteBuffer.wrap(d)));
        byte[] page = SecretTable.write(in, 4096);
        SecretTable before = SecretTable.parse(ByteBuffer.wrap(page));
        java.util.Random random = new java.util.Random(seed);
        java.util.Set<Integer> marked = new java.util.HashSet<>();
        for (int i = 0; i < before.size(); i++) {
            if (random.nextBoolean()) {
                SecretEntry e = before.entry(i);
                marked.add(i);
                java.util.Arrays.fill(page, (int) e.offset(), (int) e.offset() + 8, (byte) 0);
                int zeroed = e.dataLength() == 0 ? 0 : random.nextInt((int) e.dataLength() + 1);
                java.util.Arrays.fill(page, (int) e.dataOffset(), (int) e.dataOffset() + zeroed, (byte) 0);
            }
        }

        SecretTable after = SecretTable.parse(ByteBuffer.wrap(page));

        assertThat(after.size()).isEqualTo(before.size());
        for (int i = 0; i < after.size(); i++) {
            Guid original = before.guid(i);
            if (marked.contains(i)) {
                assertThat(after.state(i)).isEqualTo(original.lsb() == 0 ? SecretEntry.State.WIPED
                        : SecretEntry.State.WIPING);
                assertThat(after.guid(i)).isEqualTo(new Guid(0, original.lsb()));
                assertThat(after.find(original)).isEqualTo(-1);
            } else {
                assertThat(after.entry(i)).isEqualTo(before.entry(i));
                assertThat(after.find(original)).isEqualTo(i);
            }
        }
        assertThat(after.live()).hasSize(after.liveCount()).hasSize(before.size() - marked.size())
                .allMatch(SecretEntry::live);
    }

    @Provide
    Arbitrary<Map<Guid, byte[]>> secrets() {
        Arbitrary<Guid> guids = Combinators.combine(Arbitraries.longs(), Arbitraries.longs())
                .as(Guid::new).filter(g -> g.msb() != 0); // a zero first half marks a wipe in progress
        Arbitrary<byte[]> data = Arbitraries.bytes().array(byte[].class).ofMaxSize(200);
        return Arbitraries.maps(guids, data).ofMaxSize(12);
    }

    @Property(tries = 2000)
    void randomPagesRaiseOnlyTheFormatErrorAndStayInside(@ForAll @Size(max = 600) byte[] junk,
            @ForAll boolean withHeader, @ForAll @IntRange(min = 0, max = 700) int declared) throws IOException {
        ByteBuffer page = ByteBuffer.allocate(junk.length + (withHeader ? 20 : 0)).order(ByteOrder.LITTLE_ENDIAN);
        if (withHeader) {
            SecretTable.HEADER_GUID.writeEfi(page);
            page.putInt(declared);
        }
        page.put(junk).flip();
        long size = page.remaining();
        try {
            SecretTable table = SecretTable.parse(size, (offset, dst) -> {
                assertThat(offset).isNotNegative();
                assertThat(offset + dst.remaining()).isLessThanOrEqualTo(size);
                dst.put(page.duplicate().position((int) offset).limit((int) offset + dst.remaining()));
            });
            for (SecretEntry e : table.entries()) {
                assertThat(e.offset() + e.length()).isLessThanOrEqualTo(table.tableLength());
                assertThat(table.tableLength()).isLessThanOrEqualTo(size);
            }
        } catch (TableFormatException e) {
            assertThat(e.offset()).isBetween(0L, size);
            assertThat(e.getMessage()).isNotBlank();
        }
    }
}
