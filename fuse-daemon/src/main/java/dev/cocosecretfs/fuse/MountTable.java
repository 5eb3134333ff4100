// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import com.google.common.annotations.VisibleForTesting;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Reads /proc/self/mountinfo: what is mounted where. */
public final class MountTable {
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    /**
     * One line of mountinfo: the mount's id, its parent's id, its device ({@code major:minor}; a FUSE
     * mount's minor is its connection number under /sys/fs/fuse/connections), where it is and of what
     * type ({@code fuse.coco-secretfs} for ours).
     */
    public record Mount(long id, long parentId, String device, Path mountPoint, String type) {}

    private MountTable() {}

    /** The topmost mount at exactly {@code mountPoint} (an absolute, resolved path), if any. */
    public static Optional<Mount> at(Path mountPoint) throws IOException {
        return top(all(), mountPoint);
    }

    /** Every mount of this process's mount namespace, in the kernel's order. */
    public static List<Mount> all() throws IOException {
        return parse(Files.readAllLines(MOUNTINFO, StandardCharsets.UTF_8));
    }

    /** The mount with this id, if it is still mounted. */
    public static Optional<Mount> byId(long id) throws IOException {
        return all().stream().filter(m -> m.id() == id).findFirst();
    }

    @VisibleForTesting
    static List<Mount> parse(List<String> lines) {
        List<Mount> mounts = new ArrayList<>();
        for (String line : lines) {
            // id parent major:minor root mount-point options [optional...] - type source super-options
            String[] fields = line.split(" ");
            int dash = List.of(fields).indexOf("-");
            if (fields.length < 5 || dash < 5 || dash + 1 >= fields.length) {
                continue;
            }
            try {
                mounts.add(new Mount(Long.parseLong(fields[0]), Long.parseLong(fields[1]), fields[2],
                        Path.of(unescape(fields[4])), unescape(fields[dash + 1])));
            } catch (NumberFormatException e) {
                // not a mountinfo line
            }
        }
        return mounts;
    }

    /**
     * The mount at {@code mountPoint} that nothing else at the same place is mounted on: the one a
     * path lookup reaches.
     */
    @VisibleForTesting
    static Optional<Mount> top(List<Mount> mounts, Path mountPoint) {
        List<Mount> here = mounts.stream().filter(m -> m.mountPoint().equals(mountPoint)).toList();
        Set<Long> covered = new HashSet<>();
        for (Mount m : here) {
            covered.add(m.parentId());
        }
        Mount found = null;
        for (Mount m : here) {
            if (!covered.contains(m.id())) {
                found = m; // the last uncovered one: the kernel lists a mount after the one it covers
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
