// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

/**
 * The fields of a {@code struct stat} that the daemon looks at, read from the x86-64 layout:
 * st_dev at 0, st_ino at 8, st_mode at 24, st_rdev at 40, st_size at 48.
 *
 * @param dev the device of the filesystem holding the file
 * @param ino the inode number
 * @param mode type and permission bits
 * @param rdev the device a device node stands for
 * @param size the size in bytes
 */
public record FileStatus(long dev, long ino, int mode, long rdev, long size) {

    static FileStatus of(long statbuf) {
        return new FileStatus(NativeMemory.getLong(statbuf), NativeMemory.getLong(statbuf + 8),
                NativeMemory.getInt(statbuf + 24), NativeMemory.getLong(statbuf + 40),
                NativeMemory.getLong(statbuf + 48));
    }

    /** glibc's major(): bits 8-19 and 32-63 of a dev_t. */
    public static int major(long dev) {
        return (int) (((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL));
    }

    /** glibc's minor(): bits 0-7 and 20-31 of a dev_t. */
    public static int minor(long dev) {
        return (int) ((dev & 0xff) | ((dev >>> 12) & ~0xffL));
    }

    public int rdevMajor() {
        return major(rdev);
    }

    public int rdevMinor() {
        return minor(rdev);
    }
}
