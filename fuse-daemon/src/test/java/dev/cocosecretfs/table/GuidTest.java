// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.UUID;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GuidTest {

    @Test
    @DisplayName("the table header GUID is stored in EFI mixed-endian order")
    void headerGuidByteOrder() {
        ByteBuffer out = ByteBuffer.allocate(16);
        SecretTable.HEADER_GUID.writeEfi(out);
        assertThat(HexFormat.of().formatHex(out.array())).isEqualTo("42f5741edd71664d963eef4287ff173b");
    }

    @Test
    @DisplayName("reading EFI bytes gives the kernel's %pUl name")
    void readsEfiOrder() {
        ByteBuffer in = ByteBuffer.wrap(HexFormat.of().parseHex("42f5741edd71664d963eef4287ff173b"));
        Guid guid = Guid.readEfi(in);
        assertThat(guid).hasToString("1e74f542-71dd-4d66-963e-ef4287ff173b");
        assertThat(in.position()).isEqualTo(16);
    }

    @Test
    void uppercaseParsesToTheLowercaseName() {
        assertThat(Guid.parse("736869E5-84F0-4973-92EC-06879CE3DA0B"))
                .hasToString("736869e5-84f0-4973-92ec-06879ce3da0b");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "736869e5-84f0-4973-92ec-06879ce3da0", "736869e584f0497392ec06879ce3da0b",
        "736869e5-84f0-4973-92ec-06879ce3da0bb", "g36869e5-84f0-4973-92ec-06879ce3da0b", "{736869e5-84f0-4973-92ec-06879ce3da0b}"})
    void rejectsWhatIsNotCanonical(String text) {
        assertThatThrownBy(() -> Guid.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is not a GUID");
    }

    @Test
    void fromNameTakesOnlyTheLowercaseName() {
        String name = "736869e5-84f0-4973-92ec-06879ce3da0b";
        assertThat(Guid.fromName(name)).isEqualTo(Guid.parse(name));
        for (String other : new String[] {name.toUpperCase(java.util.Locale.ROOT), name.substring(1), name + "0",
            name.replace('-', '_'), "{" + name.substring(2) + "}", name.replace("7368", "7g68"), null, ""}) {
            assertThat(Guid.fromName(other)).as("%s", other).isNull();
        }
    }

    @Test
    void wipeMarkIsAZeroFirstHalfOnly() {
        assertThat(new Guid(0, 1).isWipeMark()).isTrue();
        assertThat(new Guid(0, 0).isWipeMark()).isFalse();
        assertThat(new Guid(1, 0).isWipeMark()).isFalse();
        assertThat(Guid.parse("736869e5-84f0-4973-92ec-06879ce3da0b").isWipeMark()).isFalse();
    }

    @Property
    void nameRoundTripsAndMatchesJavaUuid(@ForAll long msb, @ForAll long lsb) {
        Guid guid = new Guid(msb, lsb);
        assertThat(Guid.parse(guid.toString())).isEqualTo(guid);
        assertThat(Guid.fromName(guid.toString())).isEqualTo(guid);
        assertThat(guid.toString()).isEqualTo(new UUID(msb, lsb).toString());
    }

    @Property
    void efiBytesRoundTripAndSwapOnlyTheFirstThreeFields(@ForAll long msb, @ForAll long lsb) {
        Guid guid = new Guid(msb, lsb);
        ByteBuffer buf = ByteBuffer.allocate(16);
        guid.writeEfi(buf);
        buf.flip();
        assertThat(Guid.readEfi(buf.duplicate())).isEqualTo(guid);
        byte[] be = ByteBuffer.allocate(16).putLong(msb).putLong(lsb).array();
        byte[] efi = buf.array();
        assertThat(new byte[] {efi[3], efi[2], efi[1], efi[0], efi[5], efi[4], efi[7], efi[6]})
                .isEqualTo(java.util.Arrays.copyOf(be, 8));
        assertThat(java.util.Arrays.copyOfRange(efi, 8, 16)).isEqualTo(java.util.Arrays.copyOfRange(be, 8, 16));
    }
}
