// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import jnr.ffi.Pointer;

/**
 * Process settings that keep secrets from leaking out of the daemon's memory: no core dumps, no
 * ptrace or /proc/PID/mem by other processes of the same user, and freed heap memory overwritten by
 * glibc, which is what clears the reply buffers libfuse frees (see {@link ReplyMemory}).
 *
 * <p>Memory is deliberately not locked (no mlockall): a secret is in the daemon's memory only while
 * one read is being answered, never after, which the mount tests check by scanning the whole
 * process; locking the JVM's address space would pin hundreds of megabytes and fail under the
 * default RLIMIT_MEMLOCK of non-root users.
 */
public final class Hardening {
    private static final System.Logger LOG = System.getLogger(Hardening.class.getName());

    private static final int PR_SET_DUMPABLE = 4;
    private static final int RLIMIT_CORE = 4;
    /** glibc's mallopt parameter that fills freed chunks with a byte. */
    private static final int M_PERTURB = -6;
    /** Freed memory becomes this byte; allocated memory its complement, 0xff. */
    private static final int PERTURB_BYTE = 0x00;
    /** What glibc fills newly allocated chunks with under M_PERTURB. */
    private static final byte ALLOCATED_FILL = (byte) (PERTURB_BYTE ^ 0xff);
    /** Written into the probe buffer before it is freed: neither fill byte. */
    private static final byte PROBE_FILL = (byte) 0xa5;

    private Hardening() {}

    /** Applies every setting; one that fails is logged and the rest still applied. */
    public static void apply() {
        LibC libc = Native.libc();
        if (libc.setrlimit(RLIMIT_CORE, new long[] {0, 0}) != 0) {
            warn("setrlimit(RLIMIT_CORE, 0)");
        }
        if (libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
            warn("prctl(PR_SET_DUMPABLE, 0)");
        }
        // glibc perturbs with (value & 0xff); 0 would mean "off", so ask for 0x100, which fills with 0x00.
        if (libc.mallopt(M_PERTURB, 0x100 | PERTURB_BYTE) != 1) {
            warn("mallopt(M_PERTURB)");
        }
        if (!freedRepliesAreOverwritten()) {
            LOG.log(System.Logger.Level.WARNING, "this C library does not overwrite freed memory: secrets read"
                    + " through the mount may stay in this process''s memory after the read");
        }
    }

    /**
     * True if glibc overwrites a reply buffer of {@link ReplyMemory} when it is freed. Checked from the
     * allocation side, which needs no look at freed memory: M_PERTURB fills every chunk that malloc
     * hands out of its bins with the complement of the perturb byte, but not a chunk it hands back
     * from the per-thread cache, and the cache is used for a size on free exactly when it is used on
     * malloc. So a buffer freed and allocated again that comes back as all complement bytes proves
     * both: the perturb byte is set, and chunks of that size skip the cache, so free overwrites them.
     */
    public static boolean freedRepliesAreOverwritten() {
        long size = ReplyMemory.MIN_BYTES;
        Pointer first = ReplyMemory.allocate(size);
        first.setMemory(0, size, PROBE_FILL);
        ReplyMemory.free(first);
        Pointer second = ReplyMemory.allocate(size);
        try {
            byte[] bytes = new byte[(int) size];
            second.get(0, bytes, 0, bytes.length);
            for (byte b : bytes) {
                if (b != ALLOCATED_FILL) {
                    return false;
                }
            }
            return true;
        } finally {
            ReplyMemory.free(second);
        }
    }

    private static void warn(String call) {
        LOG.log(System.Logger.Level.WARNING, "{0} failed: {1}", call, Native.describe(Native.errno()));
    }
}
