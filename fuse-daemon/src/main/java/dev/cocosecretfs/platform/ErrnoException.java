// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.platform;

import java.io.IOException;

/** A C library call failed; carries its errno so that FUSE can answer with the same one. */
public final class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int errno;

    public ErrnoException(String what, int errno) {
        super(what + ": " + Native.describe(errno));
        this.errno = errno;
    }

    /** The errno of the failed call. */
    public int errno() {
        return errno;
    }
}
