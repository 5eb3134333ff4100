// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

/** Entry point to the C library; the one place outside jnr-fuse that binds native code. */
public final class Native {
    private static final LibC LIBC = LibraryLoader.create(LibC.class).failImmediately().load("c");

    private Native() {}

    /** The bound C library. */
    public static LibC libc() {
        return LIBC;
    }

    /** errno as left by the calling thread's last call through {@link #libc()}. */
    public static int errno() {
        return Runtime.getRuntime(LIBC).getLastError();
    }

    /** The C library's text for an errno. */
    public static String describe(int errno) {
        return LIBC.strerror(errno);
    }
}
