// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import java.util.ArrayList;
import java.util.List;

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

    /**
     * The four guards, each reporting whether it took: the process's own calls in production, a fake in
     * tests (a guard that fails cannot be provoked on demand on every machine).
     */
    public interface Guards {
        /** setrlimit(RLIMIT_CORE, {0, 0}): 0, or -1 with errno set. */
        int noCoreDumps();

        /** prctl(PR_SET_DUMPABLE, 0): 0, or -1 with errno set. */
        int notDumpable();

        /** mallopt(M_PERTURB, ...): 1 on success, 0 on failure (glibc sets no errno). */
        int perturbFreedMemory();

        /** {@link Hardening#freedRepliesAreOverwritten()}. */
        boolean freedRepliesAreOverwritten();

        /** The text for the errno the last failed call left. */
        String lastError();
    }

    /** The guards as this process applies them. */
    public static final Guards PROCESS = new Guards() {
        @Override
        public int noCoreDumps() {
            return Native.libc().setrlimit(RLIMIT_CORE, new long[] {0, 0});
        }

        @Override
        public int notDumpable() {
            return Native.libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        }

        @Override
        public int perturbFreedMemory() {
            // glibc perturbs with (value & 0xff); 0 would mean "off", so ask for 0x100, which fills with 0x00.
            return Native.libc().mallopt(M_PERTURB, 0x100 | PERTURB_BYTE);
        }

        @Override
        public boolean freedRepliesAreOverwritten() {
            return Hardening.freedRepliesAreOverwritten();
        }

        @Override
        public String lastError() {
            return Native.describe(Native.errno());
        }
    };

    /** {@link #apply(Guards)} for this process. */
    public static List<String> apply() {
        return apply(PROCESS);
    }

    /**
     * Applies every guard, in order, and says which failed. A failure does not stop the others: the
     * caller decides whether a process that lacks one may serve secrets (the daemon refuses unless told
     * {@code --allow-weak-hardening}).
     *
     * @return one line per guard that failed, naming it and what it leaves open; empty if all took
     */
    public static List<String> apply(Guards guards) {
        List<String> failed = new ArrayList<>();
        if (guards.noCoreDumps() != 0) {
            failed.add("setrlimit(RLIMIT_CORE, 0) failed (" + guards.lastError() + "): a crash could write secrets"
                    + " to a core file");
        }
        if (guards.notDumpable() != 0) {
            failed.add("prctl(PR_SET_DUMPABLE, 0) failed (" + guards.lastError() + "): processes of the same user"
                    + " could read this one's memory");
        }
        if (guards.perturbFreedMemory() != 1) {
            failed.add("mallopt(M_PERTURB) failed: freed memory is not overwritten");
        }
        if (!guards.freedRepliesAreOverwritten()) {
            failed.add("this C library does not overwrite freed reply buffers (is glibc's tcache enabled for"
                    + " them, or another malloc preloaded?): secrets read through the mount could stay in this"
                    + " process's memory");
        }
        return List.copyOf(failed);
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
        long first = ReplyMemory.allocate(size);
        NativeMemory.fill(first, size, PROBE_FILL);
        ReplyMemory.free(first);
        long second = ReplyMemory.allocate(size);
        try {
            byte[] bytes = NativeMemory.get(second, (int) size);
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
}
