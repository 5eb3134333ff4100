// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import static com.google.common.base.Preconditions.checkArgument;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A 128-bit EFI GUID.
 *
 * <p>Held in canonical (big-endian, as printed) order. On the page the first three fields are stored
 * little-endian and the last eight bytes as they are, which is what {@link #readEfi} and {@link
 * #writeEfi} convert. {@link #toString()} gives the name the kernel prints with {@code %pUl}:
 * lowercase, with dashes.
 */
public record Guid(long msb, long lsb) {

    /** Size of a GUID on the page. */
    public static final int BYTES = 16;

    /** The all-zero GUID, which marks a deleted entry. */
    public static final Guid ZERO = new Guid(0, 0);

    private static final Pattern CANONICAL =
            Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    /**
     * Parses the canonical 36-character form, in either case.
     *
     * @throws IllegalArgumentException naming the text if it is not a GUID
     */
    public static Guid parse(String text) {
        checkArgument(text != null && CANONICAL.matcher(text).matches(),
                "'%s' is not a GUID (expected 8-4-4-4-12 hex digits)", text);
        String hex = text.replace("-", "");
        return new Guid(Long.parseUnsignedLong(hex.substring(0, 16), 16),
                Long.parseUnsignedLong(hex.substring(16), 16));
    }

    /** Reads a GUID stored in EFI byte order at the buffer's current position, advancing it. */
    public static Guid readEfi(ByteBuffer src) {
        ByteBuffer le = src.slice().order(ByteOrder.LITTLE_ENDIAN);
        long data1 = Integer.toUnsignedLong(le.getInt(0));
        long data2 = Short.toUnsignedLong(le.getShort(4));
        long data3 = Short.toUnsignedLong(le.getShort(6));
        long lsb = le.order(ByteOrder.BIG_ENDIAN).getLong(8);
        src.position(src.position() + BYTES);
        return new Guid(data1 << 32 | data2 << 16 | data3, lsb);
    }

    /** Writes this GUID in EFI byte order at the buffer's current position, advancing it. */
    public void writeEfi(ByteBuffer dst) {
        ByteOrder order = dst.order();
        dst.order(ByteOrder.LITTLE_ENDIAN)
                .putInt((int) (msb >>> 32))
                .putShort((short) (msb >>> 16))
                .putShort((short) msb)
                .order(ByteOrder.BIG_ENDIAN)
                .putLong(lsb)
                .order(order);
    }

    /** True for the all-zero GUID of a deleted entry. */
    public boolean isZero() {
        return msb == 0 && lsb == 0;
    }

    @Override
    public String toString() {
        String hex = String.format(Locale.ROOT, "%016x%016x", msb, lsb);
        return hex.substring(0, 8) + '-' + hex.substring(8, 12) + '-' + hex.substring(12, 16) + '-'
                + hex.substring(16, 20) + '-' + hex.substring(20);
    }
}
