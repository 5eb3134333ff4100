// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import com.google.common.annotations.VisibleForTesting;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Reads /proc/self/mountinfo: what is mounted where. */
public final class MountTable {
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    /** One mount: where and of what type ({@code fuse.coco-secretfs} for ours). */
    public record Mount(Path mountPoint, String type) {}

    private MountTable() {}

    /** The topmost mount at exactly {@code mountPoint} (an absolute, resolved path), if any. */
    public static Optional<Mount> at(Path mountPoint) throws IOException {
        return find(Files.readAllLines(MOUNTINFO, StandardCharsets.UTF_8), mountPoint);
    }

    @VisibleForTesting
    static Optional<Mount> find(List<String> lines, Path mountPoint) {
        Mount found = null;
        for (String line : lines) {
            // id parent major:minor root mount-point options [optional...] - type source super-options
            String[] fields = line.split(" ");
            int dash = List.of(fields).indexOf("-");
            if (fields.length < 5 || dash < 0 || dash + 1 >= fields.length) {
                continue;
            }
            Path point = Path.of(unescape(fields[4]));
            if (point.equals(mountPoint)) {
                found = new Mount(point, unescape(fields[dash + 1]));
            }
        }
        return Optional.ofNullable(found);
    }

    /** Undoes the kernel's octal escapes of space, tab, newline and backslash. */
    @VisibleForTesting
    static String unescape(String field) {
        StringBuilder out = new StringBuilder(field.length());
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && isOctal(field, i + 1)) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean isOctal(String s, int from) {
        if (from + 3 > s.length()) {
            return false;
        }
        for (int i = from; i < from + 3; i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '7') {
                return false;
            }
        }
        return true;
    }
}
