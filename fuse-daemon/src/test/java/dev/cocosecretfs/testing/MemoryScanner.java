// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Searches the whole memory of a process (every readable mapping of /proc/PID/maps, read through
 * /proc/PID/mem, which needs root for a process that is not dumpable) for every 8-byte window of some
 * byte patterns. Any copy of a pattern of 16 bytes or more holds at least one whole window, wherever
 * it starts and even across two mappings, so a copy cannot hide from the scan.
 *
 * <p>Reports where and which window it found, never the bytes: patterns are secrets.
 */
public final class MemoryScanner {
    /** Window length: long enough that random memory matches a window of random secrets with odds near 2^-50. */
    public static final int WINDOW = Long.BYTES;
    private static final int CHUNK = 1 << 20;
    /** Mappings the kernel does not let /proc/PID/mem read; they hold no process data. */
    private static final Set<String> UNREADABLE_BY_DESIGN = Set.of("[vvar]", "[vvar_vclock]", "[vsyscall]");

    /** One window found: which pattern, where in it, and where in the process. */
    public record Hit(int pattern, int windowOffset, long address, String mapping) {
        @Override
        public String toString() {
            return "pattern " + pattern + " window at +" + windowOffset + " found at 0x" + Long.toHexString(address)
                    + " (" + mapping + ")";
        }
    }

    /** What a scan covered and found. */
    public record Result(long bytesScanned, int mappingsScanned, List<String> unreadable, List<Hit> hits) {
        /** The patterns found at least once. */
        public Set<Integer> patternsFound() {
            Set<Integer> found = new TreeSet<>();
            hits.forEach(h -> found.add(h.pattern()));
            return found;
        }

        public List<Hit> hitsOf(int pattern) {
            return hits.stream().filter(h -> h.pattern() == pattern).toList();
        }
    }

    private final Map<Long, Integer> windows = new HashMap<>();
    private final long[] firstTwoBytes = new long[65536 / 64];

    /** Prepares a search for every window of every pattern; pattern i is reported as i. */
    public MemoryScanner(List<byte[]> patterns) {
        for (int i = 0; i < patterns.size(); i++) {
            byte[] p = patterns.get(i);
            checkArgument(p.length >= 2 * WINDOW, "pattern %s is shorter than %s bytes", i, 2 * WINDOW);
            ByteBuffer b = ByteBuffer.wrap(p).order(ByteOrder.LITTLE_ENDIAN);
            for (int at = 0; at + WINDOW <= p.length; at++) {
                long w = b.getLong(at);
                Integer earlier = windows.put(w, i << 16 | at);
                checkArgument(earlier == null || earlier >>> 16 == i, "patterns %s and %s share a window",
                        earlier == null ? -1 : earlier >>> 16, i);
                int two = (int) (w & 0xffff);
                firstTwoBytes[two >>> 6] |= 1L << two;
            }
        }
    }

    /** Scans every readable mapping of process {@code pid}. */
    public Result scan(long pid) throws IOException {
        Path proc = Path.of("/proc", String.valueOf(pid));
        List<Hit> hits = new ArrayList<>();
        List<String> unreadable = new ArrayList<>();
        long scanned = 0;
        int mappings = 0;
        ByteBuffer buf = ByteBuffer.allocate(CHUNK + WINDOW).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel mem = FileChannel.open(proc.resolve("mem"))) {
            for (String line : Files.readAllLines(proc.resolve("maps"))) {
                String[] f = line.trim().split("\\s+", 6);
                String[] range = f[0].split("-");
                long start = Long.parseUnsignedLong(range[0], 16);
                long end = Long.parseUnsignedLong(range[1], 16);
                String name = f.length > 5 ? f[5] : "anonymous";
                if (f[1].charAt(0) != 'r') {
                    continue;
                }
                if (UNREADABLE_BY_DESIGN.contains(name) || start < 0) {
                    continue;
                }
                mappings++;
                String mapping = f[1] + " " + name;
                for (long at = start; at < end; at += CHUNK) {
                    int want = (int) Math.min(CHUNK + WINDOW - 1, end - at);
                    buf.clear().limit(want);
                    try {
                        while (buf.hasRemaining() && mem.read(buf, at + buf.position()) > 0) {
                            // positional reads until the chunk is full
                        }
                    } catch (IOException e) {
                        unreadable.add("0x" + Long.toHexString(at + buf.position()) + " " + mapping + ": "
                                + e.getMessage());
                    }
                    int n = buf.position();
                    scanned += Math.min(n, CHUNK);
                    search(buf, n, at, mapping, hits);
                }
            }
        }
        return new Result(scanned, mappings, unreadable, hits);
    }

    private void search(ByteBuffer buf, int n, long base, String mapping, List<Hit> hits) {
        // Windows starting in the overlap belong to the next chunk.
        int last = Math.min(n - WINDOW, CHUNK - 1);
        for (int i = 0; i <= last; i++) {
            int two = buf.getShort(i) & 0xffff;
            if ((firstTwoBytes[two >>> 6] & 1L << two) == 0) {
                continue;
            }
            Integer found = windows.get(buf.getLong(i));
            if (found != null) {
                hits.add(new Hit(found >>> 16, found & 0xffff, base + i, mapping));
            }
        }
    }
}
