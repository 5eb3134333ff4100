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

    @Provide
    Arbitrary<Map<Guid, byte[]>> secrets() {
        Arbitrary<Guid> guids = Combinators.combine(Arbitraries.longs(), Arbitraries.longs())
                .as(Guid::new).filter(g -> !g.isZero());
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
