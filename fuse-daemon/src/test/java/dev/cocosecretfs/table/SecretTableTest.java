// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SecretTableTest {
    static final String A = "2cf13667-ea72-4013-9dd6-155e89c5a28f";
    static final String B = "e6f5a162-d67f-4750-a67c-5d065f2a9910";
    static final String ZERO = "00000000-0000-0000-0000-000000000000";

    @Nested
    @DisplayName("public test vectors")
    class Vectors {
        @Test
        @DisplayName("simple-kbs test_request_parsing: one entry, 13 bytes of padding")
        void simpleKbs() throws Exception {
            // header 51, entry 31 ("test secret", 11 bytes), zero padding to 64 bytes.
            byte[] page = HexFormat.of().parseHex("42f5741edd71664d963eef4287ff173b" + "33000000"
                    + "6736f12c72ea1340" + "9dd6155e89c5a28f" + "1f000000"
                    + HexFormat.of().formatHex("test secret".getBytes(StandardCharsets.US_ASCII))
                    + "00".repeat(13));
            assertThat(page).hasSize(64);
            SecretTable table = SecretTable.parse(ByteBuffer.wrap(page));
            assertThat(table.populated()).isTrue();
            assertThat(table.tableLength()).isEqualTo(51);
            assertThat(table.entries()).containsExactly(new SecretEntry(Guid.parse(A), 20, 31));
            assertThat(table.entries().get(0).dataOffset()).isEqualTo(40);
            assertThat(table.entries().get(0).dataLength()).isEqualTo(11);
        }

        @Test
        @DisplayName("the writer reproduces the simple-kbs bytes")
        void writerMatchesSimpleKbs() throws Exception {
            Map<Guid, ByteBuffer> secrets = Map.of(Guid.parse(A),
                    ByteBuffer.wrap("test secret".getBytes(StandardCharsets.US_ASCII)));
            byte[] page = SecretTable.write(secrets, 64);
            assertThat(HexFormat.of().formatHex(page, 0, 24)).isEqualTo("42f5741edd71664d963eef4287ff173b33000000"
                    + "6736f12c");
            assertThat(HexFormat.of().formatHex(page, 36, 40)).isEqualTo("1f000000");
            assertThat(java.util.Arrays.copyOfRange(page, 51, 64)).containsOnly(0);
        }

        @Test
        @DisplayName("kernel documentation example: kata secrets with NUL and binary bytes")
        void kernelDocExample() throws Exception {
            byte[] data = "these-are-the-kata-secrets\0\1\2\3\4\5\6\7".getBytes(StandardCharsets.US_ASCII);
            ByteBuffer page = new Pages(4096).header(20 + 20 + data.length).entry(B, 20 + data.length, data).buffer();
            SecretTable table = SecretTable.parse(page);
            assertThat(table.live()).singleElement().satisfies(e -> {
                assertThat(e.guid()).hasToString(B);
                assertThat(e.dataLength()).isEqualTo(data.length);
            });
        }
    }

    @Nested
    @DisplayName("efi_secret's rules")
    class Rules {
        @Test
        @DisplayName("another header GUID: an empty table, not an error")
        void otherHeaderGuidIsEmpty() throws Exception {
            ByteBuffer page = new Pages(4096).header(Guid.parse(B), 40).entry(A, 20).buffer();
            SecretTable table = SecretTable.parse(page);
            assertThat(table.populated()).isFalse();
            assertThat(table.entries()).isEmpty();
        }

        @Test
        @DisplayName("an all-zero page: an empty table")
        void zeroPageIsEmpty() throws Exception {
            assertThat(SecretTable.parse(ByteBuffer.allocate(4096)).populated()).isFalse();
        }

        @ParameterizedTest(name = "header length {0}")
        @ValueSource(longs = {0, 1, 19})
        @DisplayName("header length below 20: corrupt")
        void headerLengthTooSmall(long length) {
            assertThatThrownBy(() -> SecretTable.parse(new Pages(4096).header(length).buffer()))
                    .isInstanceOf(TableFormatException.class)
                    .hasMessage("table header at offset 0: length " + length + " is below the 20-byte table header");
        }

        @ParameterizedTest(name = "header length {0}")
        @ValueSource(longs = {4097, 0xffffffffL})
        @DisplayName("header length beyond the area: corrupt")
        void headerLengthTooLarge(long length) {
            assertThatThrownBy(() -> SecretTable.parse(new Pages(4096).header(length).buffer()))
                    .isInstanceOf(TableFormatException.class)
                    .hasMessage("table header at offset 0: length " + length + " exceeds the 4096-byte area");
        }

        @Test
        @DisplayName("a table exactly as long as the area is fine")
        void headerLengthEqualToArea() throws Exception {
            ByteBuffer page = new Pages(64).header(64).entry(A, 44, new byte[24]).buffer();
            assertThat(SecretTable.parse(page).live()).hasSize(1);
        }

        @ParameterizedTest(name = "entry length {0}")
        @ValueSource(longs = {0, 7, 19})
        @DisplayName("entry length below 20: corrupt, nothing exposed")
        void entryLengthTooSmall(long length) {
            ByteBuffer page = new Pages(4096).header(100).entry(A, 40, new byte[20]).entry(B, length).buffer();
            assertThatThrownBy(() -> SecretTable.parse(page))
                    .isInstanceOf(TableFormatException.class)
                    .hasMessage("entry at offset 60: length " + length + " is below the 20-byte entry header")
                    .extracting(e -> ((TableFormatException) e).offset()).isEqualTo(60L);
        }

        @ParameterizedTest(name = "entry length {0}")
        @ValueSource(longs = {41, 1000, 0xffffffffL})
        @DisplayName("entry length beyond the table: corrupt, nothing exposed")
        void entryLengthTooLarge(long length) {
            ByteBuffer page = new Pages(4096).header(100).entry(A, 40, new byte[20]).entry(B, length).buffer();
            assertThatThrownBy(() -> SecretTable.parse(page))
                    .isInstanceOf(TableFormatException.class)
                    .hasMessage("entry at offset 60: length " + length + " exceeds the 40 bytes left in the table");
        }

        @Test
        @DisplayName("all-zero GUID: a deleted entry, skipped but kept for inspection")
        void zeroGuidIsSkipped() throws Exception {
            ByteBuffer page = new Pages(4096).header(20 + 25 + 30)
                    .entry(ZERO, 25, new byte[5]).entry(B, 30, new byte[10]).buffer();
            SecretTable table = SecretTable.parse(page);
            assertThat(table.entries()).extracting(SecretEntry::wiped).containsExactly(true, false);
            assertThat(table.live()).singleElement().extracting(SecretEntry::offset).isEqualTo(45L);
        }

        @Test
        @DisplayName("bytes after the header's length are ignored")
        void trailingBytesIgnored() throws Exception {
            Pages pages = new Pages(4096).header(45).entry(A, 25, new byte[5]);
            pages.entry(B, 7); // garbage past the table: would be corrupt if it were read
            assertThat(SecretTable.parse(pages.buffer()).entries()).hasSize(1);
        }

        @Test
        @DisplayName("fewer than 20 bytes left in the table: the walk stops")
        void shortTailIgnored() throws Exception {
            ByteBuffer page = new Pages(4096).header(45 + 19).entry(A, 25, new byte[5]).buffer();
            assertThat(SecretTable.parse(page).entries()).hasSize(1);
        }

        @Test
        @DisplayName("more than 64 entries: all exposed (efi_secret caps at 64)")
        void noCap() throws Exception {
            Map<Guid, ByteBuffer> secrets = new LinkedHashMap<>();
            for (int i = 1; i <= 100; i++) {
                secrets.put(new Guid(i, i), ByteBuffer.wrap(new byte[] {(byte) i}));
            }
            assertThat(SecretTable.parse(ByteBuffer.wrap(SecretTable.write(secrets, 4096))).live()).hasSize(100);
        }

        @Test
        @DisplayName("two live entries with one GUID: corrupt, naming both offsets")
        void duplicateGuid() {
            ByteBuffer page = new Pages(4096).header(20 + 25 + 25)
                    .entry(A, 25, new byte[5]).entry(A, 25, new byte[5]).buffer();
            assertThatThrownBy(() -> SecretTable.parse(page))
                    .isInstanceOf(TableFormatException.class)
                    .hasMessage("entry at offset 45: GUID " + A + " is already the GUID of the live entry at offset 20");
        }

        @Test
        @DisplayName("a live GUID may repeat the GUID a wiped entry once had")
        void duplicateOfWipedIsFine() throws Exception {
            ByteBuffer page = new Pages(4096).header(20 + 25 + 25)
                    .entry(ZERO, 25, new byte[5]).entry(A, 25, new byte[5]).buffer();
            assertThat(SecretTable.parse(page).live()).hasSize(1);
        }

        @Test
        @DisplayName("first 8 GUID bytes zero, last 8 not: a wipe cut short, neither live nor found")
        void wipeMark() throws Exception {
            String marked = "00000000-0000-0000-9dd6-155e89c5a28f";
            ByteBuffer page = new Pages(4096).header(20 + 25 + 25 + 25)
                    .entry(marked, 25, new byte[5]).entry(marked, 25, new byte[5]).entry(B, 25, new byte[5]).buffer();
            SecretTable table = SecretTable.parse(page);
            assertThat(table.entries()).extracting(SecretEntry::state).containsExactly(SecretEntry.State.WIPING,
                    SecretEntry.State.WIPING, SecretEntry.State.LIVE);
            assertThat(table.entries()).extracting(SecretEntry::wiped).containsExactly(false, false, false);
            assertThat(table.live()).singleElement().extracting(SecretEntry::offset).isEqualTo(70L);
            assertThat(table.find(Guid.parse(marked))).isEqualTo(-1);
            assertThat(table.find(Guid.parse(B))).isEqualTo(2);
            assertThat(SecretEntry.State.WIPING.label()).isEqualTo("wiping");
        }

        @Test
        @DisplayName("a GUID whose last 8 bytes are zero is live")
        void lowHalfZeroIsLive() throws Exception {
            String low = "2cf13667-ea72-4013-0000-000000000000";
            ByteBuffer page = new Pages(4096).header(20 + 25).entry(low, 25, new byte[5]).buffer();
            SecretTable table = SecretTable.parse(page);
            assertThat(table.live()).singleElement().extracting(SecretEntry::guid).isEqualTo(Guid.parse(low));
            assertThat(table.find(Guid.parse(low))).isZero();
        }

        @Test
        @DisplayName("live entries by name: the order of their names; find gives each one's index")
        void byName() throws Exception {
            Map<Guid, ByteBuffer> secrets = new LinkedHashMap<>();
            for (String g : new String[] {B, A, "ffffffff-0000-0000-0000-000000000001", "8000000a-0000-0000-0000-000000000000"}) {
                secrets.put(Guid.parse(g), ByteBuffer.allocate(3));
            }
            SecretTable table = SecretTable.parse(ByteBuffer.wrap(SecretTable.write(secrets, 4096)));
            java.util.List<String> names = new java.util.ArrayList<>();
            for (int k = 0; k < table.liveCount(); k++) {
                names.add(table.guid(table.liveByName(k)).toString());
                assertThat(table.find(table.guid(table.liveByName(k)))).isEqualTo(table.liveByName(k));
            }
            assertThat(names).isSorted().hasSize(4);
            assertThat(table.find(Guid.parse("ffffffff-0000-0000-0000-000000000002"))).isEqualTo(-1);
        }

        @Test
        @DisplayName("131,072 entries parse; one more is refused, naming the entry and the cap")
        void cap() throws Exception {
            int n = SecretTable.MAX_ENTRIES;
            ByteBuffer page = ByteBuffer.allocate(20 + 20 * (n + 1)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            SecretTable.HEADER_GUID.writeEfi(page);
            page.putInt(20 + 20 * n);
            for (int i = 0; i <= n; i++) {
                new Guid(i + 1, i).writeEfi(page);
                page.putInt(20);
            }
            SecretTable table = SecretTable.parse(page.duplicate().clear());
            assertThat(table.size()).isEqualTo(n);
            assertThat(table.liveCount()).isEqualTo(n);
            assertThat(table.find(new Guid(n, n - 1))).isEqualTo(n - 1);

            page.putInt(16, 20 + 20 * (n + 1));
            assertThatThrownBy(() -> SecretTable.parse(page.duplicate().clear()))
                    .isInstanceOf(TableFormatException.class)
                    .hasMessage("entry at offset " + (20 + 20L * n) + " is entry " + (n + 1)
                            + ": coco-secretfs serves at most " + n + " entries in a table");
        }

        @ParameterizedTest(name = "area of {0} bytes")
        @ValueSource(ints = {0, 1, 19})
        @DisplayName("an area below 20 bytes: corrupt")
        void tinyArea(int size) {
            assertThatThrownBy(() -> SecretTable.parse(ByteBuffer.allocate(size)))
                    .isInstanceOf(TableFormatException.class)
                    .hasMessage("area is " + size + " bytes, below the 20-byte table header");
        }
    }

    @Nested
    @DisplayName("the writer")
    class Writer {
        @Test
        void refusesWhatDoesNotFit() {
            Map<Guid, ByteBuffer> secrets = Map.of(Guid.parse(A), ByteBuffer.allocate(100));
            assertThatThrownBy(() -> SecretTable.write(secrets, 128))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("the secrets need 140 bytes with their headers; the page is 128 bytes");
        }

        @Test
        void refusesTheZeroGuid() {
            Map<Guid, ByteBuffer> secrets = Map.of(Guid.ZERO, ByteBuffer.allocate(1));
            assertThatThrownBy(() -> SecretTable.write(secrets, 4096)).isInstanceOf(IllegalArgumentException.class);
        }

        @Test
        void refusesAGuidThatWouldReadAsAWipeCutShort() {
            Map<Guid, ByteBuffer> secrets = Map.of(Guid.parse("00000000-0000-0000-9dd6-155e89c5a28f"),
                    ByteBuffer.allocate(1));
            assertThatThrownBy(() -> SecretTable.write(secrets, 4096)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("GUID 00000000-0000-0000-9dd6-155e89c5a28f has its first 8 bytes zero, which on the"
                            + " page marks a wipe in progress; it cannot name a secret");
        }

        @Test
        void anEmptyTableIsJustTheHeader() throws Exception {
            byte[] page = SecretTable.write(Map.of(), 4096);
            SecretTable table = SecretTable.parse(ByteBuffer.wrap(page));
            assertThat(table.populated()).isTrue();
            assertThat(table.tableLength()).isEqualTo(20);
            assertThat(table.entries()).isEmpty();
        }
    }
}
