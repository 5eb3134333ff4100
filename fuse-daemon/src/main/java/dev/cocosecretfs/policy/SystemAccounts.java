// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import dev.cocosecretfs.platform.LibC;
import dev.cocosecretfs.platform.Native;
import dev.cocosecretfs.platform.NativeMemory;
import java.util.OptionalLong;

/**
 * The system's users and groups, as NSS gives them (getpwnam_r and getgrnam_r): files, and whatever
 * else nsswitch.conf names (systemd's dynamic users among them).
 */
public final class SystemAccounts implements Accounts {
    /** Where the lookup buffer starts; ERANGE doubles it up to {@link #MAX_BUFFER}. */
    private static final int FIRST_BUFFER = 1024;
    private static final int MAX_BUFFER = 1 << 20;

    @Override
    public OptionalLong uid(String name) {
        return lookup(name, true);
    }

    @Override
    public OptionalLong gid(String name) {
        return lookup(name, false);
    }

    /**
     * Looks {@code name} up; empty if there is no such account.
     *
     * @throws IllegalStateException if the lookup itself fails (an NSS service that does not answer)
     */
    private static OptionalLong lookup(String name, boolean user) {
        LibC libc = Native.libc();
        int structBytes = user ? LibC.PASSWD_BYTES : LibC.GROUP_BYTES;
        for (int size = FIRST_BUFFER; ; size *= 2) {
            long record = NativeMemory.allocate(structBytes);
            long result = NativeMemory.allocate(Long.BYTES);
            long buf = NativeMemory.allocate(size);
            try {
                NativeMemory.putLong(result, 0);
                int err = user ? libc.getpwnamR(name, record, buf, size, result)
                        : libc.getgrnamR(name, record, buf, size, result);
                if (err == LibC.ERANGE && size < MAX_BUFFER) {
                    continue;
                }
                if (err != 0) {
                    // glibc answers "not found" with 0 and a null result, but other NSS modules give
                    // ENOENT, ESRCH, EBADF or EPERM for it (getpwnam_r(3)).
                    if (err == LibC.ENOENT || err == 3 || err == LibC.EBADF || err == LibC.EPERM) {
                        return OptionalLong.empty();
                    }
                    throw new IllegalStateException(Native.describe(err));
                }
                if (NativeMemory.getLong(result) == 0) {
                    return OptionalLong.empty();
                }
                int id = NativeMemory.getInt(record + (user ? LibC.PASSWD_UID : LibC.GROUP_GID));
                return OptionalLong.of(Integer.toUnsignedLong(id));
            } finally {
                NativeMemory.free(buf);
                NativeMemory.free(result);
                NativeMemory.free(record);
            }
        }
    }
}
