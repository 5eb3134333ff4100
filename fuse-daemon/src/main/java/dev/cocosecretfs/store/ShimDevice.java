// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Tells the kernel shim's device from every other device by its number, wherever its node lives (a
 * container's {@code /dev}, a {@code mknod} of one's own): the shim registers a misc device named
 * {@value #NAME}, whose major:minor the kernel publishes in {@code /sys/class/misc/coco_secret/dev}
 * and, for misc devices (major 10), in {@code /proc/misc}. A device that matches neither is not the
 * shim's, whatever its name, and gets synced like a disk.
 */
final class ShimDevice {
    /** The shim's misc device name. */
    static final String NAME = "coco_secret";

    private static final Path SYSFS = Path.of("/sys/class/misc", NAME, "dev");
    private static final Path PROC_MISC = Path.of("/proc/misc");
    private static final int MISC_MAJOR = 10;

    private ShimDevice() {}

    /** True if {@code rdev} (a stat's st_rdev) is the number of the loaded shim's device. */
    static boolean is(long rdev) {
        return is(rdev, SYSFS, PROC_MISC);
    }

    /** {@link #is(long)} with the two kernel files given, for tests. */
    static boolean is(long rdev, Path sysfsDev, Path procMisc) {
        String sysfs = read(sysfsDev);
        if (sysfs != null) {
            return sysfs.strip().equals(major(rdev) + ":" + minor(rdev));
        }
        String misc = read(procMisc);
        if (misc == null || major(rdev) != MISC_MAJOR) {
            return false;
        }
        for (String line : List.of(misc.split("\n"))) {
            String[] fields = line.strip().split("\\s+");
            if (fields.length == 2 && fields[1].equals(NAME)) {
                return fields[0].equals(String.valueOf(minor(rdev)));
            }
        }
        return false;
    }

    /** major:minor, for messages. */
    static String name(long rdev) {
        return major(rdev) + ":" + minor(rdev);
    }

    /** glibc's gnu_dev_major. */
    static long major(long rdev) {
        return (rdev >>> 8 & 0xfffL) | (rdev >>> 32 & 0xfffff000L);
    }

    /** glibc's gnu_dev_minor. */
    static long minor(long rdev) {
        return (rdev & 0xffL) | (rdev >>> 12 & 0xffffff00L);
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException | SecurityException e) {
            return null;
        }
    }
}
