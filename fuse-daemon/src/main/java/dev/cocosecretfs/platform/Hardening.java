// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
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
    /** Written into the probe buffer before it is freed; must not be {@link #PERTURB_BYTE}. */
    private static final byte PROBE_FILL = (byte) 0xa5;
    /** Leading bytes of a freed chunk where glibc keeps its free-list pointers. */
    private static final int ALLOCATOR_WORDS = 16;

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
        long left = bytesLeftAfterFree();
        if (left != 0) {
            LOG.log(System.Logger.Level.WARNING, "this C library does not overwrite freed memory ({0} bytes of a"
                    + " freed reply buffer survived): secrets read through the mount may stay in this process''s"
                    + " memory after the read", String.valueOf(left));
        }
    }

    /**
     * Frees a reply buffer full of a known byte and counts how many of its bytes still hold it: 0 when
     * glibc overwrote it. Reads the freed memory through /proc/self/mem, which fails cleanly (and
     * counts as overwritten) where the memory went back to the kernel.
     */
    static long bytesLeftAfterFree() {
        long size = ReplyMemory.MIN_BYTES;
        Pointer probe = ReplyMemory.allocate(size);
        probe.setMemory(0, size, PROBE_FILL);
        long address = probe.address();
        ReplyMemory.free(probe);
        ByteBuffer after = ByteBuffer.allocate((int) size - ALLOCATOR_WORDS);
        try (FileChannel mem = FileChannel.open(Path.of("/proc/self/mem"))) {
            while (after.hasRemaining() && mem.read(after, address + ALLOCATOR_WORDS + after.position()) > 0) {
                // positional reads until full
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "freed probe is no longer mapped: {0}", e.getMessage());
            return 0;
        }
        long left = 0;
        for (int i = 0; i < after.position(); i++) {
            if (after.get(i) == PROBE_FILL) {
                left++;
            }
        }
        return left;
    }

    private static void warn(String call) {
        LOG.log(System.Logger.Level.WARNING, "{0} failed: {1}", call, Native.describe(Native.errno()));
    }
}
