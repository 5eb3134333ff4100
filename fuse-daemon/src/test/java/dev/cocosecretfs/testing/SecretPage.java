// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import static org.assertj.core.api.Assertions.fail;

import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretEntry;
import dev.cocosecretfs.table.SecretTable;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A page of distinct random secrets, and the checks the tests make against it. Failures name the
 * secret and the offset, never the bytes: an assertion message must not print a secret. The tests'
 * one builder of valid pages (the table's own tests build broken ones byte by byte, {@code
 * table/Pages}).
 */
public final class SecretPage {
    private static final SecureRandom RANDOM = new SecureRandom();

    public final List<String> names = new ArrayList<>();
    public final List<byte[]> secrets = new ArrayList<>();
    public final byte[] bytes;
    public final List<SecretEntry> entries;

    private SecretPage(int count, int length, int pageSize) throws Exception {
        this(count, length, length, pageSize, true);
    }

    private SecretPage(int count, int minLength, int maxLength, int pageSize, boolean distinct) throws Exception {
        Map<Guid, ByteBuffer> table = new LinkedHashMap<>();
        Set<Long> windows = new HashSet<>();
        while (names.size() < count) {
            Guid guid = new Guid(RANDOM.nextLong() & ~0xf000L | 0x4000L, RANDOM.nextLong() & ~(3L << 62) | 1L << 63);
            byte[] secret = new byte[minLength + RANDOM.nextInt(maxLength - minLength + 1)];
            RANDOM.nextBytes(secret);
            if (table.containsKey(guid) || distinct && !distinctWindows(secret, windows)) {
                continue;
            }
            table.put(guid, ByteBuffer.wrap(secret));
            names.add(guid.toString());
            secrets.add(secret);
        }
        bytes = SecretTable.write(table, pageSize);
        entries = SecretTable.parse(ByteBuffer.wrap(bytes)).entries();
    }

    /** {@code count} secrets of {@code length} random bytes, no two sharing an 8-byte window. */
    public static SecretPage random(int count, int length, int pageSize) throws Exception {
        return new SecretPage(count, length, pageSize);
    }

    /**
     * {@code count} secrets of {@code minLength} to {@code maxLength} random bytes each, for tests that
     * check bytes, not memory (no check that 8-byte windows are distinct).
     */
    public static SecretPage randomLengths(int count, int minLength, int maxLength, int pageSize) throws Exception {
        return new SecretPage(count, minLength, maxLength, pageSize, false);
    }

    private static boolean distinctWindows(byte[] secret, Set<Long> seen) {
        ByteBuffer b = ByteBuffer.wrap(secret);
        List<Long> mine = new ArrayList<>();
        for (int at = 0; at + MemoryScanner.WINDOW <= secret.length; at++) {
            long w = b.getLong(at);
            if (seen.contains(w) || mine.contains(w)) {
                return false;
            }
            mine.add(w);
        }
        seen.addAll(mine);
        return true;
    }

    public Path write(Path file) throws Exception {
        Files.write(file, bytes);
        return file;
    }

    public int size() {
        return names.size();
    }

    public int length(int i) {
        return secrets.get(i).length;
    }

    /**
     * Fails, naming secret i and the offset, unless a read of {@code count} bytes at {@code offset} that
     * returned {@code n} got all the secret's bytes there could be: buf[0, n) are its bytes from offset on.
     */
    public void checkRead(int i, long offset, long count, byte[] buf, long n, String how) {
        byte[] secret = secrets.get(i);
        long expected = offset >= secret.length ? 0 : Math.min(count, secret.length - offset);
        if (n != expected) {
            fail("%s of secret %s at offset %d returned %d, expected %d", how, names.get(i), offset, n, expected);
        }
        for (int k = 0; k < n; k++) {
            if (buf[k] != secret[(int) offset + k]) {
                fail("%s of secret %s at offset %d: byte %d differs from the secret", how, names.get(i), offset, k);
            }
        }
    }

    /** True if {@code got} is exactly secret i; compares without printing. */
    public boolean isSecret(int i, byte[] got) {
        return java.util.Arrays.equals(got, secrets.get(i));
    }

    /**
     * Fails unless {@code after} is this page with exactly the secrets in {@code wiped} deleted: their
     * GUIDs and data zero, every other byte as written.
     */
    public void checkOnlyWiped(byte[] after, Set<Integer> wiped) {
        if (after.length != bytes.length) {
            fail("the page is %d bytes, it was %d", after.length, bytes.length);
        }
        boolean[] zero = new boolean[bytes.length];
        for (int i : wiped) {
            SecretEntry e = entries.get(i);
            for (long k = e.offset(); k < e.offset() + Guid.BYTES; k++) {
                zero[(int) k] = true;
            }
            for (long k = e.dataOffset(); k < e.dataOffset() + e.dataLength(); k++) {
                zero[(int) k] = true;
            }
        }
        for (int k = 0; k < bytes.length; k++) {
            byte expected = zero[k] ? 0 : bytes[k];
            if (after[k] != expected) {
                int entry = entryAt(k);
                fail("page byte %d (%s) is %s", k, entry < 0 ? "outside the entries" : "in the entry of " + names.get(entry),
                        zero[k] ? "not zero although the secret was deleted" : "changed although nothing deleted it");
            }
        }
    }

    private int entryAt(long offset) {
        for (int i = 0; i < entries.size(); i++) {
            SecretEntry e = entries.get(i);
            if (offset >= e.offset() && offset < e.offset() + e.length()) {
                return i;
            }
        }
        return -1;
    }
}
