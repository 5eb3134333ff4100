// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.table;

import static com.google.common.base.Preconditions.checkArgument;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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

    /** Length of the printed form. */
    private static final int NAME_LENGTH = 36;

    private static final char[] HEX = "0123456789abcdef".toCharArray();

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

    /**
     * True for a GUID whose first 8 bytes are zero and whose last 8 are not: the mark that a wipe in
     * progress leaves on the page (see {@link SecretEntry.State#WIPING}). No version 1 to 5 GUID has
     * that form, since its version nibble lies in the first 8 bytes (the high nibble of the third
     * field); {@link SecretTable#write} refuses to name a secret with one.
     */
    public boolean isWipeMark() {
        return msb == 0 && lsb != 0;
    }

    /**
     * The GUID of a file name, which must be the exact form {@link #toString()} gives (lowercase,
     * with dashes); null for any other text. Cheaper than {@link #parse}: every lookup of a name
     * goes through here.
     */
    public static Guid fromName(String name) {
        if (name == null || name.length() != NAME_LENGTH) {
            return null;
        }
        long msb = 0;
        long lsb = 0;
        int digits = 0;
        for (int i = 0; i < NAME_LENGTH; i++) {
            char c = name.charAt(i);
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (c != '-') {
                    return null;
                }
                continue;
            }
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (v < 0) {
                return null;
            }
            if (digits++ < 16) {
                msb = msb << 4 | v;
            } else {
                lsb = lsb << 4 | v;
            }
        }
        return new Guid(msb, lsb);
    }

    @Override
    public String toString() {
        char[] name = new char[NAME_LENGTH];
        int at = 0;
        for (int digit = 0; digit < 32; digit++) {
            if (digit == 8 || digit == 12 || digit == 16 || digit == 20) {
                name[at++] = '-';
            }
            long half = digit < 16 ? msb : lsb;
            int shift = 60 - 4 * (digit % 16);
            name[at++] = HEX[(int) (half >>> shift) & 0xf];
        }
        return new String(name);
    }
}
